// Server options: Node's names, defaults and validation errors, and the
// timeouts doing what they say.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, serve, sleep, impl } from './helpers.mjs';
import { connect, parseResponses, get } from './raw.mjs';

test('defaults are Node\'s', () => {
  const s = createServer();
  assert.equal(s.keepAliveTimeout, 5000);
  assert.equal(s.headersTimeout, 60000);
  assert.equal(s.requestTimeout, 300000);
  if (impl !== 'node') {
    assert.equal(s.maxHeaderSize, 16384);
    assert.equal(s.shutdownTimeout, undefined);
  }
});

test('options are validated with ERR_INVALID_ARG_TYPE and ERR_OUT_OF_RANGE', { skip: impl === 'node' }, () => {
  for (const name of ['keepAliveTimeout', 'headersTimeout', 'requestTimeout', 'maxHeaderSize', 'shutdownTimeout']) {
    assert.throws(() => createServer({ [name]: '100' }), { code: 'ERR_INVALID_ARG_TYPE' }, name);
    assert.throws(() => createServer({ [name]: -1 }), { code: 'ERR_OUT_OF_RANGE' }, name);
    assert.throws(() => createServer({ [name]: 1.5 }), { code: 'ERR_OUT_OF_RANGE' }, name);
  }
  assert.throws(() => createServer({ http2: { maxConcurrentStreams: 0 } }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => createServer({ http2: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createServer('opts'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createServer({}, 'listener'), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('http2.maxSessionMemory is read as node:http2 reads it: a number in MiB, at least 1; anything else leaves the default, 10', { skip: impl === 'node' }, () => {
  assert.equal(createServer().http2.maxSessionMemory, 10);
  assert.equal(createServer({ http2: { maxSessionMemory: 64 } }).http2.maxSessionMemory, 64);
  assert.equal(createServer({ http2: { maxSessionMemory: 0 } }).http2.maxSessionMemory, 1);
  assert.equal(createServer({ http2: { maxSessionMemory: -5 } }).http2.maxSessionMemory, 1);
  assert.equal(createServer({ http2: { maxSessionMemory: '64' } }).http2.maxSessionMemory, 10);
  assert.equal(createServer({ http2: { maxSessionMemory: Number.MAX_SAFE_INTEGER } }).http2.maxSessionMemory, Number.MAX_SAFE_INTEGER);
});

test('keepAliveTimeout closes an idle keep-alive connection, with EOF', async (t) => {
  const { port } = await serve(t, (req, res) => res.end('ka'), { keepAliveTimeout: 200 });
  const c = await connect(port);
  const t0 = performance.now();
  c.write(get());
  await c.waitFor((s) => parseResponses(s).length === 1);
  const end = await c.ended;
  const idle = end.at - t0;
  assert.equal(end.how, 'eof');
  assert.ok(idle >= 150 && idle < 2000, `closed after ${Math.round(idle)} ms`);
});

test('a connection in use is not closed by keepAliveTimeout', async (t) => {
  const { port } = await serve(t, (req, res) => setTimeout(() => res.end('slow'), 400), { keepAliveTimeout: 100 });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write(get());
  const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.body, 'slow');
});

test('headersTimeout cuts off a client that never finishes its request head', async (t) => {
  let handled = 0;
  const { port } = await serve(t, (req, res) => { handled++; res.end(); }, { headersTimeout: 300, keepAliveTimeout: 0 });
  const c = await connect(port);
  const t0 = performance.now();
  c.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
  const end = await c.ended;
  const after = end.at - t0;
  assert.ok(after >= 250 && after < 3000, `cut off after ${Math.round(after)} ms`);
  assert.equal(handled, 0);
});

test('maxHeaderSize raises the limit', { skip: impl === 'node' }, async (t) => {
  const { port } = await serve(t, (req, res) => res.end(String(req.headers['x-big'].length)), { maxHeaderSize: 64 * 1024 });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
  const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.status, 200);
  assert.equal(r.body, '40000');
  await sleep(1);
});

test('requestTimeout answers 408 and closes when a request body does not arrive in time', { skip: impl === 'node' }, async (t) => {
  const events = [];
  const { port } = await serve(t, (req, res) => {
    req.on('aborted', () => events.push('aborted'));
    req.on('error', () => {});
    req.resume();
  }, { requestTimeout: 300 });
  const c = await connect(port);
  const t0 = performance.now();
  c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little');
  const end = await c.ended;
  const after = end.at - t0;
  assert.match(c.text(), /^HTTP\/1\.1 408/);
  assert.match(c.text(), /connection: close/i);
  assert.ok(after >= 250 && after < 3000, `answered after ${Math.round(after)} ms`);
  assert.deepEqual(events, ['aborted']);
});

test('requestTimeout leaves a request whose body arrived in time alone, however long the handler takes', async (t) => {
  const { port } = await serve(t, async (req, res) => {
    let n = 0;
    for await (const c of req) n += c.length;
    setTimeout(() => res.end(String(n)), 500);
  }, { requestTimeout: 200 });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.status, 200);
  assert.equal(r.body, '5');
});

test('listen({ reusePort }): a boolean, else ERR_INVALID_ARG_TYPE; with it two servers share a port, without it EADDRINUSE', { skip: impl === 'node' && 'reusePort needs Node 22.12+' }, async () => {
  const s = createServer();
  for (const bad of ['yes', 1, null]) {
    assert.throws(() => s.listen({ port: 0, reusePort: bad }), { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
  }
  const listenOn = (server, options) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', ...options }, () => resolve(server.address().port));
  });
  const a = createServer((req, res) => res.end('a'));
  const port = await listenOn(a, { port: 0, reusePort: true });
  const b = createServer((req, res) => res.end('b'));
  assert.equal(await listenOn(b, { port, reusePort: true }), port);
  const c = createServer();
  await assert.rejects(listenOn(c, { port }), { code: 'EADDRINUSE' });
  // Closing one leaves the port served by the other.
  await new Promise((resolve) => a.close(resolve));
  const seen = await new Promise((resolve, reject) => {
    import('node:http').then(({ default: http }) => http.get({ port, host: '127.0.0.1', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject));
  });
  assert.equal(seen, 'b');
  await new Promise((resolve) => b.close(resolve));
});
