// close() on HTTP/2, observed frame by frame (DESIGN C5, C9, C10, C12).
// Node's own http2 client cannot open a stream after GOAWAY or hold back a
// PING ACK, so these use the frame-level client in h2wire.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createServer } from '../index.mjs';
import { H2Wire } from './h2wire.mjs';
import { sleep, listen, closed } from './raw.mjs';

const MAX_ID = 2 ** 31 - 1;
const isGoaway = (f) => f.typeName === 'GOAWAY';
const finalGoaway = (f) => isGoaway(f) && f.lastStreamId !== MAX_ID;

test('C5: an idle session gets GOAWAY(NO_ERROR) with a PING, then the final GOAWAY, and closes within a few ms', async () => {
  const server = createServer((req, res) => res.end('ok'));
  const port = await listen(server);
  const c = await H2Wire.connect(port);
  const id = c.request({ path: '/' });
  assert.equal((await c.response(id)).body.toString(), 'ok');
  const t0 = performance.now();
  const cb = closed(server);
  const first = await c.waitFor(isGoaway);
  assert.equal(first.lastStreamId, MAX_ID);
  assert.equal(first.errorCode, 0);
  await c.waitFor((f) => f.typeName === 'PING' && !f.ack);
  const last = await c.waitFor(finalGoaway);
  assert.equal(last.lastStreamId, id);
  assert.equal(last.errorCode, 0);
  const end = await c.closed;
  assert.equal(end.how, 'eof');
  const at = await cb;
  assert.ok(at - t0 < 500, `callback ${Math.round(at - t0)} ms after close()`);
});

test('C5: in-flight streams complete: a response larger than the flow-control window, and an upload continuing after GOAWAY', async () => {
  const big = Buffer.alloc(1024 * 1024, 7);
  let releaseBig;
  const server = createServer(async (req, res) => {
    if (req.url === '/big') {
      releaseBig = () => res.end(big);
      return;
    }
    let n = 0;
    for await (const chunk of req) n += chunk.length;
    res.end(String(n));
  });
  const port = await listen(server);
  const c = await H2Wire.connect(port);
  const bigId = c.request({ path: '/big' });
  const upId = c.request({ method: 'POST', path: '/upload', endStream: false });
  c.data(upId, Buffer.alloc(30000, 1));
  while (!releaseBig) await sleep(5);
  const cb = closed(server);
  await c.waitFor(isGoaway);
  c.data(upId, Buffer.alloc(30000, 2), { endStream: true });
  releaseBig();
  const [bigRes, upRes] = await Promise.all([c.response(bigId), c.response(upId)]);
  assert.equal(bigRes.status, 200);
  assert.equal(bigRes.body.length, big.length);
  assert.equal(upRes.body.toString(), '60000');
  assert.equal((await c.closed).how, 'eof');
  await cb;
});

test('C5: a stream opened after the final GOAWAY never reaches JS', async () => {
  const seen = [];
  let release;
  const server = createServer((req, res) => {
    seen.push(req.url);
    if (req.url === '/held') release = () => res.end('held');
    else res.end('late');
  });
  const port = await listen(server);
  const c = await H2Wire.connect(port);
  const held = c.request({ path: '/held' });
  while (!release) await sleep(5);
  const cb = closed(server);
  const last = await c.waitFor(finalGoaway);
  assert.equal(last.lastStreamId, held);
  const late = c.request({ path: '/late' });
  assert.ok(late > last.lastStreamId);
  await sleep(100);
  release();
  const res = await c.response(held);
  assert.equal(res.body.toString(), 'held');
  await c.closed;
  await cb;
  assert.deepEqual(seen, ['/held']);
});

test('C5: 50 concurrent streams in flight all complete, and the final GOAWAY covers them', async () => {
  const pending = [];
  const server = createServer((req, res) => { pending.push(() => res.end(req.url)); });
  const port = await listen(server);
  const c = await H2Wire.connect(port);
  const ids = [];
  for (let i = 0; i < 50; i++) ids.push(c.request({ path: `/s${i}` }));
  while (pending.length < 50) await sleep(5);
  const cb = closed(server);
  const last = await c.waitFor(finalGoaway);
  assert.equal(last.lastStreamId, ids.at(-1));
  for (const p of pending) p();
  const responses = await Promise.all(ids.map((id) => c.response(id)));
  responses.forEach((r, i) => assert.equal(r.body.toString(), `/s${i}`));
  await c.closed;
  await cb;
});

test('C5: a client that never ACKs the PING holds close() at most about 1 s beyond its streams', async () => {
  let release;
  const server = createServer((req, res) => { release = () => res.end('done'); });
  const port = await listen(server);
  const c = await H2Wire.connect(port, { autoAckPing: false });
  const id = c.request({ path: '/' });
  while (!release) await sleep(5);
  const t0 = performance.now();
  const cb = closed(server);
  await c.waitFor((f) => f.typeName === 'PING' && !f.ack);
  await sleep(200);
  release();
  const res = await c.response(id);
  assert.equal(res.body.toString(), 'done', 'the stream still completes');
  const at = await cb;
  assert.ok(at - t0 < 2000, `callback ${Math.round(at - t0)} ms after close()`);
  assert.notEqual((await c.closed).how, 'reset');
});

test('C5: a session whose client never ACKs the PING and has no streams closes after about 1 s', async () => {
  const server = createServer((req, res) => res.end());
  const port = await listen(server);
  const c = await H2Wire.connect(port, { autoAckPing: false });
  await c.waitFor((f) => f.typeName === 'SETTINGS' && !f.ack);
  const t0 = performance.now();
  const at = await closed(server);
  assert.ok(at - t0 < 2000, `callback ${Math.round(at - t0)} ms after close()`);
  assert.ok(c.frames.some(isGoaway));
});

test('C5: a connection that sent nothing, or stopped mid-handshake, does not hold close()', async () => {
  const server = createServer((req, res) => res.end());
  const port = await listen(server);
  const silent = net.connect(port, '127.0.0.1');
  silent.on('error', () => {});
  const partial = net.connect(port, '127.0.0.1', () => partial.write('PRI * HTTP/2.0\r\n'));
  partial.on('error', () => {});
  const prefaceOnly = await H2Wire.connect(port, { preface: false });
  prefaceOnly.writeRaw(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
  await sleep(100);
  assert.equal(server.connectionsInfo().http2Sessions + server.connectionsInfo().idle, 3);
  const t0 = performance.now();
  const at = await closed(server);
  assert.ok(at - t0 < 2000, `callback ${Math.round(at - t0)} ms after close()`);
  silent.destroy();
  partial.destroy();
  prefaceOnly.destroy();
});

test('C9: at the shutdownTimeout deadline open streams get RST_STREAM(CANCEL); req aborted, res closed without finish', async () => {
  const events = [];
  const server = createServer({ shutdownTimeout: 300 }, (req, res) => {
    req.on('aborted', () => events.push('req aborted'));
    req.on('close', () => events.push('req close'));
    res.on('finish', () => events.push('res finish'));
    res.on('close', () => events.push('res close'));
    res.write('partial');
  });
  const port = await listen(server);
  const c = await H2Wire.connect(port);
  const id = c.request({ path: '/stuck' });
  await c.waitFor((f) => f.typeName === 'DATA' && f.streamId === id);
  let timeoutAt = 0;
  server.on('closeTimeout', (s) => { timeoutAt = performance.now(); events.push(`closeTimeout ${s.http2Streams}`); });
  const t0 = performance.now();
  const at = await closed(server);
  const rst = await c.waitFor((f) => f.typeName === 'RST_STREAM' && f.streamId === id);
  assert.equal(rst.errorCode, 8, 'CANCEL');
  assert.ok(timeoutAt - t0 >= 290 && timeoutAt - t0 < 450, `closeTimeout at ${Math.round(timeoutAt - t0)} ms`);
  assert.ok(at - t0 < 700, `callback at ${Math.round(at - t0)} ms`);
  assert.equal(events[0], 'closeTimeout 1');
  assert.ok(events.includes('req aborted') && events.includes('res close'), events.join());
  assert.ok(!events.includes('res finish'));
});

test('C10: closeIdleConnections() sends GOAWAY to idle sessions only; closeAllConnections() cancels open streams', async () => {
  let release;
  const aborted = [];
  const server = createServer((req, res) => {
    if (req.url === '/slow') {
      release = () => res.end('slow');
      req.on('aborted', () => aborted.push(req.url));
    } else res.end('fast');
  });
  const port = await listen(server);
  const idle = await H2Wire.connect(port);
  await idle.response(idle.request({ path: '/fast' }));
  const busy = await H2Wire.connect(port);
  const slowId = busy.request({ path: '/slow' });
  while (!release) await sleep(5);
  const info = server.connectionsInfo();
  assert.equal(info.http2Sessions, 2);
  assert.equal(info.http2Streams, 1);

  server.closeIdleConnections();
  await idle.waitFor(isGoaway);
  assert.equal((await idle.closed).how, 'eof');
  await sleep(50);
  assert.equal(busy.frames.some(isGoaway), false, 'the busy session is left alone');

  server.closeAllConnections();
  const rst = await busy.waitFor((f) => f.typeName === 'RST_STREAM' && f.streamId === slowId);
  assert.equal(rst.errorCode, 8);
  await busy.closed;
  while (aborted.length === 0) await sleep(5);
  assert.deepEqual(aborted, ['/slow']);
  assert.equal(server.listening, true);
  const again = await H2Wire.connect(port);
  assert.equal((await again.response(again.request({ path: '/fast' }))).body.toString(), 'fast');
  again.destroy();
  await closed(server);
});

test('C7: requestTimeout bounds an HTTP/2 upload that stalls: the stream gets 408 and req aborted, the session goes on, and close() finishes', async () => {
  // Node has no requestTimeout for HTTP/2; without one this client would
  // hold close() forever. The deadline only keeps a failing run from hanging.
  const aborted = [];
  const server = createServer({ requestTimeout: 300, shutdownTimeout: 5000 }, (req, res) => {
    req.on('aborted', () => aborted.push(req.url));
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => res.end(`got ${Buffer.concat(chunks).length}`));
  });
  let forced = null;
  server.on('closeTimeout', (snapshot) => { forced = snapshot; });
  const port = await listen(server);
  const c = await H2Wire.connect(port);
  const stalled = c.request({ method: 'POST', path: '/stalled', endStream: false });
  c.data(stalled, 'partial');
  const t0 = performance.now();
  const res = await c.response(stalled);
  assert.equal(res.status, 408);
  assert.ok(performance.now() - t0 < 2000, `408 after ${Math.round(performance.now() - t0)} ms`);
  // The session still serves uploads that do arrive in time.
  const ok = c.request({ method: 'POST', path: '/ok', endStream: false });
  c.data(ok, 'hello', { endStream: true });
  assert.equal((await c.response(ok)).body.toString(), 'got 5');
  // A second stalled upload when close() starts: close() finishes about
  // when its requestTimeout runs out, without the deadline.
  const late = c.request({ method: 'POST', path: '/stalled-at-close', endStream: false });
  c.data(late, 'partial');
  await sleep(50);
  const t1 = performance.now();
  await closed(server);
  assert.ok(performance.now() - t1 < 2000, `close() took ${Math.round(performance.now() - t1)} ms`);
  assert.equal(forced, null, 'close() had to be forced');
  assert.deepEqual(aborted.sort(), ['/stalled', '/stalled-at-close']);
  c.destroy();
});
