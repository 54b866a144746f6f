// close() on HTTP/1.1, observed on the wire (DESIGN §5, C1–C9).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { createServer } from '../index.mjs';
import { connect, parseResponses, get, sleep, listen, closed, refused } from './raw.mjs';

test('C1: the port is released before close() returns; a new server can listen on it at once', async (t) => {
  let release;
  const server = createServer((req, res) => { release = () => res.end('late'); });
  const port = await listen(server);
  assert.equal(await refused(port), false, 'the port accepts connections while listening');
  const c = await connect(port);
  c.write(get('/slow'));
  while (!release) await sleep(5);
  const done = closed(server);
  assert.equal(await refused(port), true, 'a connect during the drain is refused');
  const again = http.createServer((req, res) => res.end('new'));
  await new Promise((resolve, reject) => {
    again.once('error', reject);
    again.listen(port, '127.0.0.1', resolve);
  });
  t.after(() => again.close());
  release();
  await done;
  const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.body, 'late', 'the request in flight still completed');
});

test('C3: an idle keep-alive connection is closed at once, with EOF', async () => {
  const server = createServer((req, res) => res.end('ok'));
  const port = await listen(server);
  const c = await connect(port);
  c.write(get());
  await c.waitFor((s) => parseResponses(s).length === 1);
  assert.equal(parseResponses(c.text())[0].headers.connection, 'keep-alive', 'keep-alive before close(), as node:http says');
  const t0 = performance.now();
  const cb = closed(server);
  const end = await c.ended;
  assert.equal(end.how, 'eof');
  assert.ok(end.at - t0 < 500, `idle connection closed ${Math.round(end.at - t0)} ms after close()`);
  const at = await cb;
  assert.ok(at - t0 < 1000, `callback ${Math.round(at - t0)} ms after close()`);
});

test('C3: a request sent just before close() on an idle connection is served with Connection: close', async () => {
  // The request races the close command to the I/O thread; across the
  // iterations both orders occur. Either way it must be answered.
  for (let i = 0; i < 15; i++) {
    let handled = 0;
    const server = createServer((req, res) => { handled++; res.end('served'); });
    const port = await listen(server);
    const c = await connect(port);
    c.write(get('/warm'));
    await c.waitFor((s) => parseResponses(s).length === 1);
    c.write(get('/raced'));
    const cb = closed(server);
    const text = await c.waitFor((s) => parseResponses(s).length === 2, 5000, 'second response');
    const second = parseResponses(text)[1];
    assert.equal(second.body, 'served');
    assert.equal(second.headers.connection, 'close');
    assert.equal((await c.ended).how, 'eof');
    await cb;
    assert.equal(handled, 2);
  }
});

test('C3/C7: a half-sent request head at close() is waited for, then served with Connection: close', async () => {
  let handled = 0;
  const server = createServer({ headersTimeout: 5000 }, (req, res) => { handled++; res.end('whole'); });
  const port = await listen(server);
  const c = await connect(port);
  // A connection that has served a request (hyper calls it idle).
  c.write(get('/first'));
  await c.waitFor((s) => parseResponses(s).length === 1);
  c.write('GET /split HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  await sleep(50);
  const cb = closed(server);
  await sleep(150);
  assert.equal(c.endInfo, null, 'the connection is kept while its head is incomplete');
  c.write('X-Rest: yes\r\n\r\n');
  const r = parseResponses(await c.waitFor((s) => parseResponses(s).length === 2))[1];
  assert.equal(r.body, 'whole');
  assert.equal(r.headers.connection, 'close');
  assert.equal((await c.ended).how, 'eof');
  await cb;
  assert.equal(handled, 2);
});

test('C7: a client that stalls mid-head at close() is cut off by headersTimeout', async () => {
  const server = createServer({ headersTimeout: 400 }, (req, res) => res.end('never'));
  const port = await listen(server);
  const c = await connect(port);
  c.write('GET /stall HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  await sleep(20);
  const t0 = performance.now();
  const at = await closed(server);
  const end = await c.ended;
  assert.notEqual(end.how, 'error');
  assert.ok(at - t0 < 3000, `close() finished ${Math.round(at - t0)} ms later despite the stalled client`);
  // Its only answer is headersTimeout's 408 (as Node's); the handler never ran.
  assert.deepEqual(parseResponses(c.text()).map((r) => r.status).filter((s) => s !== 408), [], 'the stalled request never reached the handler');
});

test('C4: a request in flight completes with Connection: close; a request written after it never reaches the handler', async () => {
  const seen = [];
  let release;
  const server = createServer((req, res) => {
    seen.push(req.url);
    if (req.url === '/slow') release = () => res.end('slow done');
    else res.end('other');
  });
  const port = await listen(server);
  const c = await connect(port);
  c.write(get('/slow'));
  while (!release) await sleep(5);
  const cb = closed(server);
  await sleep(50);
  release();
  const text = await c.waitFor((s) => parseResponses(s).length === 1);
  const [r] = parseResponses(text);
  assert.equal(r.body, 'slow done');
  assert.equal(r.headers.connection, 'close');
  c.write(get('/after'));
  const end = await c.ended;
  await cb;
  await sleep(100);
  assert.equal(end.how, 'eof');
  assert.deepEqual(c.errors, [], 'no reset, even though the client wrote after the response (C6)');
  assert.deepEqual(seen, ['/slow']);
  assert.equal(parseResponses(c.text()).length, 1);
});

test('C4: pipelined requests at close() are served or left before their handler runs, never lost silently', async () => {
  for (let i = 0; i < 5; i++) {
    let handled = 0;
    let first;
    const server = createServer((req, res) => {
      handled++;
      if (req.url === '/1') first = () => res.end('one');
      else res.end(req.url);
    });
    const port = await listen(server);
    const c = await connect(port);
    c.write(get('/1') + get('/2') + get('/3'));
    while (!first) await sleep(2);
    const cb = closed(server);
    first();
    await c.ended;
    await cb;
    const responses = parseResponses(c.text());
    assert.ok(responses.length >= 1);
    assert.equal(responses[0].body, 'one');
    assert.equal(responses.length, handled, 'every request whose handler ran got its full response');
    assert.equal(responses.at(-1).headers.connection, 'close');
  }
});

test('C4: a body still uploading at close() is read to the end and answered', async () => {
  const server = createServer(async (req, res) => {
    let n = 0;
    for await (const chunk of req) n += chunk.length;
    res.end(String(n));
  });
  const port = await listen(server);
  const c = await connect(port);
  const total = 1024 * 1024;
  c.write(`POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${total}\r\n\r\n`);
  c.write(Buffer.alloc(total / 2, 97));
  await sleep(50);
  const cb = closed(server);
  await sleep(100);
  c.write(Buffer.alloc(total / 2, 98));
  const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.body, String(total));
  assert.equal(r.headers.connection, 'close');
  assert.equal((await c.ended).how, 'eof');
  await cb;
});

test('C6: bytes the client sends during the close do not turn the end into a reset that destroys the response', async () => {
  const big = Buffer.alloc(2 * 1024 * 1024, 120).toString('latin1');
  let release;
  const server = createServer((req, res) => {
    if (req.url === '/slow') release = () => res.end(big);
    else res.end('x');
  });
  const port = await listen(server);
  const c = await connect(port);
  c.write(get('/slow'));
  while (!release) await sleep(5);
  const cb = closed(server);
  // The client stops reading (the response will wait in its kernel buffer)
  // and keeps sending: these bytes reach the server after hyper stopped
  // reading. Closing with them unread would send RST, and a reset makes the
  // client's kernel drop the response it has not read yet.
  c.socket.pause();
  c.write(get('/late1'));
  release();
  await sleep(100);
  c.write(get('/late2'));
  await cb;
  await sleep(100);
  c.socket.resume();
  const end = await c.ended;
  assert.deepEqual(c.errors, []);
  assert.equal(end.how, 'eof');
  const [r] = parseResponses(c.text());
  assert.equal(r?.body.length, big.length, 'the whole response arrived');
});

test('C6: a keep-alive node:http client sees a clean end, never ECONNRESET', async () => {
  let inFlight;
  const server = createServer((req, res) => {
    if (req.url === '/slow') inFlight = res;
    else res.end('quick');
  });
  const port = await listen(server);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const fetchText = (path) => new Promise((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path, agent }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ body: b, connection: res.headers.connection }));
      res.on('error', reject);
    }).on('error', reject);
  });
  await Promise.all([fetchText('/a'), fetchText('/b'), fetchText('/c')]);
  const slow = fetchText('/slow');
  while (!inFlight) await sleep(5);
  const cb = closed(server);
  inFlight.end('finally');
  assert.deepEqual(await slow, { body: 'finally', connection: 'close' });
  await cb;
  agent.destroy();
});

test('C8: callback and close event exactly once, within milliseconds of the last connection ending', async () => {
  let release;
  const server = createServer((req, res) => { release = () => res.end('x'); });
  const port = await listen(server);
  const c = await connect(port);
  c.write(get());
  while (!release) await sleep(5);
  let calls = 0;
  let events = 0;
  let cbAt = 0;
  server.on('close', () => { events++; });
  server.close(() => { calls++; cbAt = performance.now(); });
  await sleep(100);
  assert.equal(calls, 0, 'still waiting for the request in flight');
  release();
  const end = await c.ended;
  while (calls === 0) await sleep(1);
  assert.ok(cbAt - end.at < 200, `callback ${Math.round(cbAt - end.at)} ms after the connection ended`);
  await sleep(200);
  assert.equal(calls, 1);
  assert.equal(events, 1);
});

test('C8: close() before listen() and a second close() give ERR_SERVER_NOT_RUNNING, the second as the first completes', async () => {
  const idle = createServer(() => {});
  const err = await new Promise((resolve) => idle.close(resolve));
  assert.equal(err.code, 'ERR_SERVER_NOT_RUNNING');

  const server = createServer((req, res) => res.end());
  await listen(server);
  const order = [];
  server.close((e) => order.push(['first', e ?? null]));
  server.close((e) => order.push(['second', e?.code]));
  await new Promise((r) => server.once('close', () => setImmediate(r)));
  assert.deepEqual(order, [['first', null], ['second', 'ERR_SERVER_NOT_RUNNING']]);
});

test('C8: await server[Symbol.asyncDispose]() closes the server', async () => {
  const server = createServer((req, res) => res.end());
  const port = await listen(server);
  await server[Symbol.asyncDispose]();
  assert.equal(server.listening, false);
  assert.equal(await refused(port), true);
});

test('C9: shutdownTimeout forces at the deadline: closeTimeout first, reset mid-response, req aborted, res closed without finish', async () => {
  const events = [];
  let reqRef;
  let resRef;
  const server = createServer({ shutdownTimeout: 300 }, (req, res) => {
    reqRef = req;
    resRef = res;
    req.on('aborted', () => events.push('req aborted'));
    req.on('close', () => events.push('req close'));
    res.on('finish', () => events.push('res finish'));
    res.on('close', () => events.push('res close'));
    res.write('partial');
  });
  const port = await listen(server);
  const c = await connect(port);
  c.write(get('/stuck'));
  await c.waitFor((s) => s.includes('partial'), 5000, 'the partial body');
  let snapshot;
  let timeoutAt = 0;
  server.on('closeTimeout', (s) => { snapshot = s; timeoutAt = performance.now(); events.push('closeTimeout'); });
  const t0 = performance.now();
  const at = await closed(server);
  const end = await c.ended;
  assert.ok(timeoutAt - t0 >= 290 && timeoutAt - t0 < 450, `closeTimeout at ${Math.round(timeoutAt - t0)} ms`);
  assert.ok(at - t0 < 600, `callback at ${Math.round(at - t0)} ms`);
  assert.equal(snapshot.requests.length, 1);
  assert.equal(snapshot.requests[0].url, '/stuck');
  assert.equal(snapshot.active, 1);
  assert.equal(end.how, 'reset', 'a truncated chunked body must not look complete');
  assert.equal(events[0], 'closeTimeout');
  assert.ok(events.includes('req aborted') && events.includes('req close') && events.includes('res close'), events.join());
  assert.ok(!events.includes('res finish'));
  assert.ok(reqRef.aborted || reqRef.destroyed);
  assert.equal(resRef.writableFinished, false);
});

test('C9: a whole body the client stopped reading is cut at the deadline (reset), not lingered over like a finished response', async () => {
  // hyper takes a whole body at once, so its exchange has ended while the
  // bytes still wait for the client: the deadline must still treat the
  // connection as mid-response. Before, it was closed cleanly, after a
  // linger of 500 ms for the client to acknowledge bytes it never read.
  const big = Buffer.alloc(16 * 1024 * 1024, 7);
  const server = createServer({ shutdownTimeout: 300 }, (req, res) => res.end(big));
  const port = await listen(server);
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.pause();
  await once(s, 'connect');
  s.write(get('/big'));
  // Until the server's kernel buffer is full and hyper holds the rest.
  await sleep(300);
  const t0 = performance.now();
  const at = await closed(server);
  s.destroy();
  assert.ok(at - t0 < 700, `callback at ${Math.round(at - t0)} ms`);
});

test('C10: closeIdleConnections() closes idle connections only; the server keeps listening', async () => {
  let release;
  const server = createServer((req, res) => {
    if (req.url === '/slow') release = () => res.end('slow');
    else res.end('fast');
  });
  const port = await listen(server);
  const idle = await connect(port);
  idle.write(get('/fast'));
  await idle.waitFor((s) => parseResponses(s).length === 1);
  const busy = await connect(port);
  busy.write(get('/slow'));
  while (!release) await sleep(5);
  assert.deepEqual({ ...server.connectionsInfo(), requests: undefined }, { idle: 1, active: 1, http2Sessions: 0, http2Streams: 0, upgraded: 0, handshaking: 0, closing: false, requests: undefined });
  server.closeIdleConnections();
  assert.equal((await idle.ended).how, 'eof');
  await sleep(50);
  assert.equal(busy.endInfo, null, 'the busy connection stays');
  release();
  const [r] = parseResponses(await busy.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.body, 'slow');
  const again = await connect(port);
  again.write(get('/fast'));
  await again.waitFor((s) => parseResponses(s).length === 1);
  again.destroy();
  busy.destroy();
  await closed(server);
});

test('C10: closeAllConnections() aborts requests in flight and closes every connection; the server keeps listening', async () => {
  const events = [];
  const server = createServer((req, res) => {
    if (req.url === '/slow') {
      req.on('aborted', () => events.push('aborted'));
      res.on('close', () => events.push('res close'));
    } else res.end('fast');
  });
  const port = await listen(server);
  const idle = await connect(port);
  idle.write(get('/fast'));
  await idle.waitFor((s) => parseResponses(s).length === 1);
  const busy = await connect(port);
  busy.write(get('/slow'));
  while (server.connectionsInfo().active === 0) await sleep(5);
  server.closeAllConnections();
  assert.equal((await idle.ended).how, 'eof');
  await busy.ended;
  assert.equal(parseResponses(busy.text()).length, 0);
  while (events.length < 2) await sleep(5);
  assert.deepEqual(events.sort(), ['aborted', 'res close']);
  assert.equal(server.listening, true);
  const again = await connect(port);
  again.write(get('/fast'));
  await again.waitFor((s) => parseResponses(s).length === 1);
  again.destroy();
  await closed(server);
});

test('C12: closing, closeSignal and the closing event with a snapshot', async () => {
  let release;
  const server = createServer((req, res) => { release = () => res.end('x'); });
  const port = await listen(server);
  const signal = server.closeSignal;
  assert.equal(server.closing, false);
  assert.equal(signal.aborted, false);
  const c = await connect(port);
  c.write(get('/held'));
  while (!release) await sleep(5);
  let snapshot;
  let closingInEvent;
  server.on('closing', (s) => { snapshot = s; closingInEvent = server.closing; });
  const cb = closed(server);
  assert.equal(server.closing, true);
  assert.equal(signal.aborted, true);
  assert.equal(closingInEvent, true);
  assert.equal(snapshot.closing, true);
  assert.equal(snapshot.active, 1);
  assert.equal(snapshot.requests[0].url, '/held');
  assert.equal(server.connectionsInfo().closing, true);
  release();
  await cb;
  assert.equal(server.closing, false);
});

test('C8: three close() calls emit close once; the later callbacks get ERR_SERVER_NOT_RUNNING; a new listen/close cycle emits it again', async () => {
  const server = createServer((req, res) => res.end());
  let events = 0;
  server.on('close', () => { events++; });
  await listen(server);
  const results = [];
  const first = new Promise((resolve) => server.close((e) => { results.push(e?.code ?? null); resolve(); }));
  server.close((e) => results.push(e?.code ?? null));
  await first;
  await new Promise((resolve) => server.close((e) => { results.push(e?.code ?? null); resolve(); }));
  await sleep(20);
  assert.deepEqual(results, [null, 'ERR_SERVER_NOT_RUNNING', 'ERR_SERVER_NOT_RUNNING']);
  assert.equal(events, 1);
  await listen(server);
  await closed(server);
  await sleep(20);
  assert.equal(events, 2, 'once per cycle');
});
