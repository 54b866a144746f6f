// The package as users load it: CommonJS, ESM (named and default), and
// TypeScript against the hand-written index.d.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as esm from 'lastcall';
import lastcallDefault from 'lastcall';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

test('ESM: named and default exports', () => {
  assert.equal(typeof esm.createServer, 'function');
  assert.equal(typeof esm.Server, 'function');
  assert.equal(lastcallDefault.createServer, esm.createServer);
  assert.ok(esm.createServer() instanceof esm.Server);
  assert.equal(esm.STATUS_CODES[404], 'Not Found');
});

test('CommonJS: require(\'lastcall\') gives the same API', async () => {
  const { stdout } = await run(process.execPath, ['-e', `
    const l = require('lastcall');
    const s = l.createServer((req, res) => res.end('cjs'));
    s.listen(0, '127.0.0.1', async () => {
      const r = await fetch('http://127.0.0.1:' + s.address().port + '/');
      console.log(typeof l.Server, s instanceof l.Server, await r.text());
      s.close();
    });
  `], { cwd: root });
  assert.equal(stdout.trim(), 'function true cjs');
});

test('TypeScript: an example using the public API compiles with tsc --noEmit', async () => {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  await run(process.execPath, [tsc, '-p', '__test__/types/tsconfig.json'], { cwd: root });
});

test('TypeScript: misuse of the API is a type error (the check is not vacuous)', async () => {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const err = await run(process.execPath, [tsc, '-p', '__test__/types/tsconfig.bad.json'], { cwd: root }).then(() => null, (e) => e);
  assert.ok(err, 'tsc accepted code with type errors');
  assert.match(err.stdout, /TS2769/);
  assert.match(err.stdout, /TS2322/);
  assert.match(err.stdout, /bad\.ts\(6,\d+\): error/, "listen({ reusePort: 'yes' })");
});
