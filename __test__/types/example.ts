// Compiled with `tsc --noEmit` by module.test.mjs: the public API as a
// TypeScript user writes it, with req/res typed as node:http's.
import { createServer, Server, type ConnectionsInfo, type CloseSnapshot } from 'lastcall';
import type { IncomingMessage, ServerResponse } from 'node:http';

function handler(req: IncomingMessage, res: ServerResponse): void {
  const ua: string | undefined = req.headers['user-agent'];
  res.setHeader('content-type', 'text/plain');
  res.statusCode = 200;
  res.end(`hello ${req.method} ${req.url} ${ua ?? ''}`);
}

const server: Server = createServer({ keepAliveTimeout: 1000, shutdownTimeout: 5000, http2: { maxConcurrentStreams: 50 } }, handler);
server.on('closing', (s: CloseSnapshot) => console.log(s.requests.length, s.http2Sessions));
server.on('closeTimeout', (s: CloseSnapshot) => console.log(s.active));
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr !== null) console.log(addr.port.toFixed(0));
  const info: ConnectionsInfo = server.connectionsInfo();
  const signal: AbortSignal = server.closeSignal;
  console.log(info.idle, signal.aborted, server.closing, server.listening);
  server.closeIdleConnections();
  server.closeAllConnections();
  server.close((err?: Error) => { if (err) throw err; });
});

async function dispose(): Promise<void> {
  const s = new Server((req, res) => res.end(req.httpVersion));
  s.listen({ port: 0, host: '127.0.0.1', reusePort: true });
  await s[Symbol.asyncDispose]();
}
void dispose;

// node:http's forms: Server() without new, subclassing, unref(), setTimeout().
class Counting extends Server {
  served = 0;
}
const called: Server = Server({ requireHostHeader: false }, (req, res) => res.end());
const sub = new Counting((req, res) => res.end());
sub.served += 1;
called.unref().ref().setTimeout(1000, (socket) => socket.destroy());
called.on('checkContinue', (req, res) => { res.writeContinue(); res.end(); });
called.on('dropRequest', (req, socket) => console.log(req.url, socket.remoteAddress));
