// Bad input (DESIGN §7): malformed requests get a clean protocol answer,
// misuse from JS throws Node's errors and sends nothing, and the server
// keeps serving everyone else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, serve, dropClients, impl } from './helpers.mjs';
import { connect, parseResponses, get } from './raw.mjs';
import { H2Wire } from './h2wire.mjs';

async function stillServes(port) {
  const r = await request('h1', port, { path: '/ok' });
  assert.equal(r.status, 200);
  dropClients(port);
}

const handler = (req, res) => res.end('fine');

test('a malformed request line gets 400 and the connection closes', async (t) => {
  const { port } = await serve(t, handler);
  for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n']) {
    const c = await connect(port);
    c.write(bad);
    await c.ended;
    assert.match(c.text(), /^HTTP\/1\.1 400/, JSON.stringify(bad));
  }
  await stillServes(port);
});

test('a request head over maxHeaderSize gets 431', async (t) => {
  const { port } = await serve(t, handler, { maxHeaderSize: 8192 });
  const c = await connect(port);
  c.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  await c.ended;
  assert.match(c.text(), /^HTTP\/1\.1 431/);
  await stillServes(port);
});

test('an HTTP/2 protocol error gets GOAWAY with PROTOCOL_ERROR; others are not disturbed', { skip: impl === 'node' }, async (t) => {
  const { port } = await serve(t, handler);
  const c = await H2Wire.connect(port);
  // DATA on stream 0 is a connection error of type PROTOCOL_ERROR (RFC 9113 §6.1).
  c.writeRaw(Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0x61]));
  const goaway = await c.waitFor((f) => f.typeName === 'GOAWAY');
  assert.equal(goaway.errorCode, 1);
  await c.closed;
  await stillServes(port);
});

test('an invalid header name from JS throws ERR_INVALID_HTTP_TOKEN and nothing is sent', async (t) => {
  const errors = [];
  const { port } = await serve(t, (req, res) => {
    for (const name of ['bad name', 'x\r\ny', '', 'ümlaut']) {
      try { res.setHeader(name, 'v'); } catch (e) { errors.push(e.code); }
    }
    try { res.writeHead(200, { 'bad name': 'v' }); } catch (e) { errors.push(e.code); }
    assert.equal(res.headersSent, false);
    res.end('after');
  });
  const r = await request('h1', port);
  assert.equal(r.body.toString(), 'after');
  assert.equal(r.headers['bad name'], undefined);
  assert.deepEqual(errors, Array(5).fill('ERR_INVALID_HTTP_TOKEN'));
  await stillServes(port);
});

test('CR or LF in a header value throws ERR_INVALID_CHAR', async (t) => {
  const errors = [];
  const { port } = await serve(t, (req, res) => {
    for (const v of ['a\r\nInjected: 1', 'a\nb', 'a\rb']) {
      try { res.setHeader('x-v', v); } catch (e) { errors.push(e.code); }
    }
    res.end('clean');
  });
  const r = await request('h1', port);
  assert.equal(r.headers.injected, undefined);
  assert.deepEqual(errors, Array(3).fill('ERR_INVALID_CHAR'));
  await stillServes(port);
});

test('header values and status messages: tab and bytes 0x20-0x7e, 0x80-0xff pass, anything else throws ERR_INVALID_CHAR, short or long', async (t) => {
  const long = 'x'.repeat(100);
  const good = ['', 'a\tb', ' ~', '\x80\xff', 'caf\xe9'];
  const bad = ['\x00', 'a\x1fb', '\x7f', '\u0100', '\u20ac', 'a\x0b'];
  const values = [...good, ...bad].flatMap((v) => [v, v + long]);
  const outcome = (f) => {
    try { f(); return 'ok'; } catch (e) { return e.code; }
  };
  const seen = [];
  const { port } = await serve(t, (req, res) => {
    const v = values[Number(req.url.slice(1))];
    seen.push(outcome(() => res.setHeader('x-v', v)));
    res.removeHeader('x-v');
    seen.push(outcome(() => res.writeHead(200, v)));
    if (seen.at(-1) !== 'ok') {
      // The message was refused; so is it when the head goes out implicitly.
      seen.push(outcome(() => res.write('')));
      res.statusMessage = '';
    }
    res.end('checked');
  });
  for (let i = 0; i < values.length; i++) {
    const r = await request('h1', port, { path: `/${i}` });
    assert.equal(r.status, 200);
  }
  const want = values.flatMap((v) => (good.includes(v.replace(long, ''))
    ? ['ok', 'ok']
    : ['ERR_INVALID_CHAR', 'ERR_INVALID_CHAR', 'ERR_INVALID_CHAR']));
  assert.deepEqual(seen, want);
  await stillServes(port);
});

test('setHeader/writeHead after the head went out throw ERR_HTTP_HEADERS_SENT', async (t) => {
  const errors = [];
  const { port } = await serve(t, (req, res) => {
    res.write('x');
    try { res.setHeader('x-late', '1'); } catch (e) { errors.push(e.code); }
    try { res.writeHead(500); } catch (e) { errors.push(e.code); }
    res.end();
  });
  const r = await request('h1', port);
  assert.equal(r.status, 200);
  assert.deepEqual(errors, ['ERR_HTTP_HEADERS_SENT', 'ERR_HTTP_HEADERS_SENT']);
  await stillServes(port);
});

test('write() after end() reports ERR_STREAM_WRITE_AFTER_END', async (t) => {
  let got;
  const { port } = await serve(t, (req, res) => {
    res.end('done');
    res.on('error', (e) => { got ??= e.code; });
    res.write('more', (err) => { got ??= err?.code; });
  });
  const r = await request('h1', port);
  assert.equal(r.body.toString(), 'done');
  while (got === undefined) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(got, 'ERR_STREAM_WRITE_AFTER_END');
  await stillServes(port);
});

test('a chunk of the wrong type throws ERR_INVALID_ARG_TYPE', async (t) => {
  const errors = [];
  const { port } = await serve(t, (req, res) => {
    for (const bad of [123, {}, true]) {
      try { res.write(bad); } catch (e) { errors.push(e.code); }
    }
    try { res.end(42); } catch (e) { errors.push(e.code); }
    res.end('ok');
  });
  const r = await request('h1', port);
  assert.equal(r.body.toString(), 'ok');
  assert.deepEqual(errors, Array(4).fill('ERR_INVALID_ARG_TYPE'));
  await stillServes(port);
});

test('a client that vanishes mid-request does not disturb a neighbour on another connection', async (t) => {
  let neighbourDone;
  const { port } = await serve(t, async (req, res) => {
    if (req.url === '/vanish') {
      req.on('error', () => {});
      await new Promise((resolve) => req.on('close', resolve));
      return;
    }
    res.end('neighbour ok');
    neighbourDone = true;
  });
  const c = await connect(port);
  c.write('POST /vanish HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
  await new Promise((r) => setTimeout(r, 50));
  c.destroy();
  const r = await request('h1', port, { path: '/n' });
  assert.equal(r.body.toString(), 'neighbour ok');
  assert.ok(neighbourDone);
  dropClients(port);
});

test('pipelined requests on one connection are all answered in order', async (t) => {
  const { port } = await serve(t, (req, res) => res.end(req.url));
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write(get('/1') + get('/2') + get('/3'));
  const rs = parseResponses(await c.waitFor((s) => parseResponses(s).length === 3));
  assert.deepEqual(rs.map((r) => r.body), ['/1', '/2', '/3']);
});
