// Must NOT compile: module.test.mjs checks that tsc rejects it, so the
// type check above cannot pass vacuously.
import { createServer } from 'lastcall';

const server = createServer({ keepAliveTimeout: 'soon' });
server.listen({ port: 0, reusePort: 'yes' });
const n: number = server.connectionsInfo().closing;
void n;
