// close() calls back when the data is delivered, not when the client gets
// round to closing (DESIGN C6). Every client here reads the server's EOF but
// never closes its own side, as many clients, proxies and test harnesses do;
// before the rule, each of these waited out a 500 ms linger for a FIN that
// never came. The bounds are generous for a loaded machine (the targets are
// 20 ms) and still far below the old 500 ms.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../index.mjs';
import { H2Wire } from './h2wire.mjs';
import { connect, parseResponses, get, sleep, listen, closed } from './raw.mjs';

// The builds before this rule took ≥ 490 ms in every case (the 500 ms
// linger); 300 ms leaves a loaded 2-core machine room without letting
// that back in.
const BOUND = 300;
const MAX_ID = 2 ** 31 - 1;
const isGoaway = (f) => f.typeName === 'GOAWAY';

async function idleH1(port) {
  const c = await connect(port, { keepOpen: true });
  c.write(get('/warm'));
  await c.waitFor((s) => parseResponses(s).length === 1);
  return c;
}

async function idleH2(port) {
  const c = await H2Wire.connect(port, { keepOpen: true });
  const id = c.request({ path: '/warm' });
  assert.equal((await c.response(id)).status, 200);
  return c;
}

test('C6: an idle HTTP/1.1 connection whose client never closes does not hold close(): EOF and the callback at once', async () => {
  const server = createServer((req, res) => res.end('ok'));
  const port = await listen(server);
  const c = await idleH1(port);
  const t0 = performance.now();
  const at = await closed(server);
  const end = await c.ended;
  assert.equal(end.how, 'eof');
  assert.ok(at - t0 < BOUND, `callback ${Math.round(at - t0)} ms after close()`);
  await sleep(20);
  assert.deepEqual(c.errors, [], 'no reset after the EOF');
  c.destroy();
});

test('C6: a request in flight at close(): the callback follows the last response byte at once, client still open', async () => {
  let release;
  const body = 'x'.repeat(200_000);
  const server = createServer((req, res) => {
    if (req.url === '/slow') release = () => res.end(body);
    else res.end('ok');
  });
  const port = await listen(server);
  const c = await connect(port, { keepOpen: true });
  c.write(get('/slow'));
  while (!release) await sleep(5);
  const cb = closed(server);
  await sleep(20);
  release();
  const text = await c.waitFor((s) => parseResponses(s).length === 1, 5000, 'the response');
  const lastByte = performance.now();
  const [r] = parseResponses(text);
  assert.equal(r.headers.connection, 'close');
  assert.equal(r.body.length, body.length);
  const at = await cb;
  assert.equal((await c.ended).how, 'eof');
  assert.ok(at - lastByte < BOUND, `callback ${Math.round(at - lastByte)} ms after the last response byte`);
  await sleep(20);
  assert.deepEqual(c.errors, []);
  c.destroy();
});

test('C6: an idle HTTP/2 session whose client never closes does not hold close(): GOAWAY, EOF and the callback at once', async () => {
  const server = createServer((req, res) => res.end('ok'));
  const port = await listen(server);
  const c = await idleH2(port);
  const t0 = performance.now();
  const at = await closed(server);
  const last = await c.waitFor((f) => isGoaway(f) && f.lastStreamId !== MAX_ID);
  assert.equal(last.errorCode, 0);
  assert.equal((await c.closed).how, 'eof');
  assert.ok(at - t0 < BOUND, `callback ${Math.round(at - t0)} ms after close()`);
  c.destroy();
});

test('C6/C9: at the shutdownTimeout deadline an HTTP/2 session is cut and the callback follows within tens of ms', async () => {
  const server = createServer({ shutdownTimeout: 300 }, (req, res) => res.write('partial'));
  const port = await listen(server);
  // A client that does not answer PING either: nothing but the deadline ends it.
  const c = await H2Wire.connect(port, { keepOpen: true, autoAckPing: false });
  const id = c.request({ path: '/stuck' });
  await c.waitFor((f) => f.typeName === 'DATA' && f.streamId === id);
  let timeoutAt = 0;
  server.on('closeTimeout', () => { timeoutAt = performance.now(); });
  const at = await closed(server);
  const rst = await c.waitFor((f) => f.typeName === 'RST_STREAM' && f.streamId === id);
  assert.equal(rst.errorCode, 8, 'CANCEL');
  assert.ok(timeoutAt > 0);
  assert.ok(at - timeoutAt < BOUND, `callback ${Math.round(at - timeoutAt)} ms after the deadline`);
  c.destroy();
});

test('C6/C10: closeAllConnections() then close(): idle, busy and HTTP/2 connections whose clients never close, callback at once', async () => {
  const server = createServer((req, res) => {
    if (req.url !== '/slow') res.end('ok');
  });
  const port = await listen(server);
  const idle = await idleH1(port);
  const busy = await connect(port, { keepOpen: true });
  busy.write(get('/slow'));
  const h2 = await idleH2(port);
  while (server.connectionsInfo().active === 0) await sleep(5);
  const t0 = performance.now();
  server.closeAllConnections();
  const at = await closed(server);
  assert.ok(at - t0 < BOUND, `callback ${Math.round(at - t0)} ms after closeAllConnections() and close()`);
  assert.equal((await idle.ended).how, 'eof');
  assert.equal((await busy.ended).how, 'reset', 'a request cut mid-way is reset (C9)');
  assert.equal((await h2.closed).how, 'eof');
  for (const c of [idle, busy, h2]) c.destroy();
});

// Writes `chunk` as fast as the socket takes it until the connection ends;
// resolves with the bytes handed to the kernel.
function flood(socket, chunk) {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => { done = true; resolve(socket.bytesWritten); };
    socket.once('close', finish);
    socket.on('error', () => {});
    const pump = () => {
      while (!done && socket.writable) {
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

test('C6: a client that keeps sending after a 431 is let go within a small bound, not read for 500 ms', async () => {
  const server = createServer({ maxHeaderSize: 1024 }, (req, res) => res.end('ok'));
  const port = await listen(server);
  const c = await connect(port, { keepOpen: true });
  const t0 = performance.now();
  c.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}`);
  await c.waitFor((s) => s.includes('\r\n\r\n'), 5000, 'the 431');
  const written = flood(c.socket, Buffer.alloc(64 * 1024, 97));
  const end = await c.ended;
  await written;
  assert.match(c.text(), /^HTTP\/1\.1 431 /);
  // A client that is not listening any more is reset, not waited for.
  assert.ok(['eof', 'reset', 'error'].includes(end.how), end.how);
  assert.ok(end.at - t0 < 250, `connection ended ${Math.round(end.at - t0)} ms after the request`);
  assert.ok(c.socket.bytesWritten < 64 * 2 ** 20, `${(c.socket.bytesWritten / 2 ** 20).toFixed(1)} MiB accepted`);
  c.destroy();
  await closed(server);
});

test('C5/C6: a client that keeps sending after GOAWAY is let go within a small bound, and close() calls back', async () => {
  const server = createServer((req, res) => res.end('ok'));
  const port = await listen(server);
  const c = await idleH2(port);
  const t0 = performance.now();
  const cb = closed(server);
  await c.waitFor(isGoaway);
  // PING frames, back to back: valid HTTP/2 that the session must read.
  const ping = Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const written = flood(c.socket, Buffer.concat(Array(4096).fill(ping)));
  const at = await cb;
  await c.closed;
  c.destroy();
  const bytes = await written;
  assert.ok(at - t0 < 250, `callback ${Math.round(at - t0)} ms after close()`);
  assert.ok(bytes < 64 * 2 ** 20, `${(bytes / 2 ** 20).toFixed(1)} MiB accepted`);
});
