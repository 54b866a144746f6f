// res: Node's ServerResponse methods, events and framing, on HTTP/1.1 and
// h2c; the HTTP/1.1 framing is checked on the wire.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { protocols, request, serve, sleep, dropClients, impl } from './helpers.mjs';
import { connect, parseResponses, get } from './raw.mjs';

for (const proto of protocols) {
  const h2 = proto === 'h2';

  test(`${proto}: statusCode, statusMessage and the header methods`, async (t) => {
    let seen;
    const { port } = await serve(t, (req, res) => {
      res.statusCode = 201;
      res.statusMessage = 'Made It';
      res.setHeader('X-One', '1');
      res.setHeader('x-list', ['a', 'b']);
      res.setHeader('x-gone', 'soon');
      res.removeHeader('X-GONE');
      if (typeof res.appendHeader === 'function') res.appendHeader('x-list', 'c');
      seen = {
        one: res.getHeader('x-one'),
        has: res.hasHeader('X-ONE'),
        gone: res.hasHeader('x-gone'),
        names: res.getHeaderNames().sort(),
        headers: { ...res.getHeaders() },
        sent: res.headersSent,
      };
      res.end('created');
    });
    const r = await request(proto, port);
    assert.equal(r.status, 201);
    if (!h2) assert.equal(r.statusMessage, 'Made It');
    assert.equal(r.headers['x-one'], '1');
    assert.equal(r.headers['x-list'], 'a, b, c');
    assert.equal(r.headers['x-gone'], undefined);
    assert.deepEqual(seen, {
      one: '1', has: true, gone: false, names: ['x-list', 'x-one'],
      headers: { 'x-one': '1', 'x-list': ['a', 'b', 'c'] }, sent: false,
    });
    dropClients(port);
  });

  test(`${proto}: writeHead(status, message, headers) with an object and with a flat array`, async (t) => {
    const { port } = await serve(t, (req, res) => {
      if (req.url === '/obj') res.writeHead(202, 'Fine', { 'x-a': '1', 'content-type': 'text/x' });
      else res.writeHead(203, ['x-b', '2', 'x-b', '3']);
      res.end('w');
    });
    const a = await request(proto, port, { path: '/obj' });
    assert.equal(a.status, 202);
    if (!h2) assert.equal(a.statusMessage, 'Fine');
    assert.equal(a.headers['x-a'], '1');
    assert.equal(a.headers['content-type'], 'text/x');
    const b = await request(proto, port, { path: '/arr' });
    assert.equal(b.status, 203);
    assert.equal(b.headers['x-b'], '2, 3');
    dropClients(port);
  });

  test(`${proto}: headersSent, writableEnded, writableFinished, end callback, then 'finish' before 'close'`, async (t) => {
    const order = [];
    let done;
    const finished = new Promise((r) => { done = r; });
    const { port } = await serve(t, (req, res) => {
      order.push(`sent:${res.headersSent}`);
      res.write('a');
      order.push(`sent:${res.headersSent}`);
      res.on('finish', () => order.push(`finish:${res.writableFinished}`));
      res.on('close', () => { order.push('close'); done(); });
      res.end('b', 'utf8', () => order.push('cb'));
      // writableFinished may already be true here in Node (socket written
      // synchronously); it is true by 'finish' in both.
      order.push(`ended:${res.writableEnded}`);
    });
    const r = await request(proto, port);
    assert.equal(r.body.toString(), 'ab');
    await finished;
    assert.deepEqual(order.filter((x) => x !== 'cb'), ['sent:false', 'sent:true', 'ended:true', 'finish:true', 'close']);
    assert.ok(order.includes('cb'));
    dropClients(port);
  });

  test(`${proto}: write() returns false past the high-water mark, then 'drain'`, async (t) => {
    let sawFalse = false;
    let drains = 0;
    const { port } = await serve(t, async (req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 64; i++) {
        if (!res.write(chunk)) {
          sawFalse = true;
          await new Promise((r) => res.once('drain', r));
          drains++;
        }
      }
      res.end();
    });
    const r = await request(proto, port);
    assert.equal(r.body.length, 64 * 64 * 1024);
    assert.ok(sawFalse);
    assert.ok(drains > 0);
    dropClients(port);
  });

  test(`${proto}: flushHeaders() sends the head before any body`, async (t) => {
    let release;
    const { port } = await serve(t, (req, res) => {
      res.setHeader('x-early', 'yes');
      res.flushHeaders();
      release = () => res.end('later');
    });
    if (h2) {
      const s = http2.connect(`http://127.0.0.1:${port}`);
      t.after(() => s.destroy());
      const st = s.request({ ':path': '/' });
      const [head] = await new Promise((r) => st.once('response', (...a) => r(a)));
      assert.equal(head['x-early'], 'yes');
      let body = '';
      st.on('data', (d) => { body += d; });
      release();
      await new Promise((r) => st.on('end', r));
      assert.equal(body, 'later');
    } else {
      const c = await connect(port);
      t.after(() => c.destroy());
      c.write(get());
      const text = await c.waitFor((s) => s.includes('\r\n\r\n'));
      assert.match(text, /x-early: yes/i);
      release();
      await c.waitFor((s) => parseResponses(s).length === 1);
      assert.equal(parseResponses(c.text())[0].body, 'later');
    }
  });

  test(`${proto}: HEAD, 204 and 304 carry no body`, async (t) => {
    const { port } = await serve(t, (req, res) => {
      if (req.url === '/204') res.statusCode = 204;
      if (req.url === '/304') res.statusCode = 304;
      res.end('ignored body');
    });
    for (const [method, path, status] of [['HEAD', '/', 200], ['GET', '/204', 204], ['GET', '/304', 304]]) {
      const r = await request(proto, port, { method, path });
      assert.equal(r.status, status);
      assert.equal(r.body.length, 0, `${method} ${path}`);
    }
    // The connection is still in sync afterwards.
    assert.equal((await request(proto, port)).body.toString(), 'ignored body');
    dropClients(port);
  });
}

for (const proto of protocols) {
  test(`${proto}: string chunks in any encoding and latin1 header values arrive byte for byte`, async (t) => {
    const long = 'y'.repeat(100);
    const parts = [['abc', 'utf8'], ['é✓', 'utf8'], ['68656c6c6f', 'hex'], ['caf\u00e9', 'latin1'], [long, 'utf8']];
    const { port } = await serve(t, (req, res) => {
      res.setHeader('x-latin', 'caf\u00e9');
      res.setHeader('x-long', 'v'.repeat(80) + '\u00ff');
      for (const [text, enc] of parts) res.write(text, enc);
      res.end('end');
    });
    const r = await request(proto, port);
    const expected = Buffer.concat([...parts.map(([text, enc]) => Buffer.from(text, enc)), Buffer.from('end')]);
    assert.deepEqual(r.body, expected);
    assert.equal(r.headers['x-latin'], 'caf\u00e9');
    assert.equal(r.headers['x-long'], 'v'.repeat(80) + '\u00ff');
    dropClients(port);
  });
}

test('h1: end(body) alone sends Content-Length; write() then end() is chunked', async (t) => {
  const { port } = await serve(t, (req, res) => {
    if (req.url === '/whole') res.end('0123456789');
    else {
      res.write('01234');
      setTimeout(() => res.end('56789'), 10);
    }
  });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write(get('/whole'));
  await c.waitFor((s) => parseResponses(s).length === 1);
  c.write(get('/stream'));
  const [whole, streamed] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 2));
  assert.equal(whole.headers['content-length'], '10');
  assert.equal(whole.headers['transfer-encoding'], undefined);
  assert.equal(streamed.headers['transfer-encoding'], 'chunked');
  assert.equal(streamed.headers['content-length'], undefined);
  assert.equal(streamed.body, '0123456789');
});

test('h1: a Content-Length set by the handler is used as given', async (t) => {
  const { port } = await serve(t, (req, res) => {
    res.setHeader('content-length', 6);
    res.write('abc');
    setTimeout(() => res.end('def'), 5);
  });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write(get());
  const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1));
  assert.equal(r.headers['content-length'], '6');
  assert.equal(r.headers['transfer-encoding'], undefined);
  assert.equal(r.body, 'abcdef');
});

test('h1: a response to an HTTP/1.0 request without keep-alive closes the connection', async (t) => {
  const { port } = await serve(t, (req, res) => res.end('old'));
  const c = await connect(port);
  c.write('GET / HTTP/1.0\r\n\r\n');
  assert.equal((await c.ended).how, 'eof');
  assert.match(c.text(), /^HTTP\/1\.[01] 200/);
  assert.match(c.text(), /old$/);
});

test('h2: a whole body gets its Content-Length; a handler\'s own is kept; streamed and empty bodies get none', { skip: impl === 'node' }, async (t) => {
  const big = 'x'.repeat(5000);
  const { port } = await serve(t, (req, res) => {
    if (req.url === '/small') res.end('hello world');
    else if (req.url === '/big') res.end(big);
    else if (req.url === '/own') {
      res.setHeader('Content-Length', '3');
      res.end('abc');
    } else if (req.url === '/empty') res.end();
    else {
      res.write('ab');
      setTimeout(() => res.end('cd'), 5);
    }
  });
  const small = await request('h2', port, { path: '/small' });
  assert.equal(small.headers['content-length'], '11');
  assert.equal(small.body.toString(), 'hello world');
  const large = await request('h2', port, { path: '/big' });
  assert.equal(large.headers['content-length'], '5000');
  assert.equal(large.body.length, 5000);
  const own = await request('h2', port, { path: '/own' });
  assert.equal(own.headers['content-length'], '3');
  assert.equal(own.body.toString(), 'abc');
  const empty = await request('h2', port, { path: '/empty' });
  assert.equal(empty.body.length, 0);
  const streamed = await request('h2', port, { path: '/stream' });
  assert.equal(streamed.headers['content-length'], undefined);
  assert.equal(streamed.body.toString(), 'abcd');
  dropClients(port);
});

test('h2: connection-specific headers set by the handler are dropped, the response still works', { skip: impl === 'node' }, async (t) => {
  const { port } = await serve(t, (req, res) => {
    res.setHeader('connection', 'keep-alive');
    res.setHeader('keep-alive', 'timeout=5');
    res.setHeader('transfer-encoding', 'chunked');
    res.setHeader('x-kept', 'yes');
    res.end('h2 ok');
  });
  const r = await request('h2', port);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'h2 ok');
  assert.equal(r.headers['x-kept'], 'yes');
  assert.equal(r.headers.connection, undefined);
  dropClients(port);
});

test('h1: res.destroy() mid-response closes the connection; the server keeps serving', async (t) => {
  const { port } = await serve(t, (req, res) => {
    if (req.url === '/kill') {
      res.write('part');
      setTimeout(() => res.destroy(), 10);
    } else res.end('fine');
  });
  const c = await connect(port);
  c.write(get('/kill'));
  await c.ended;
  assert.equal(parseResponses(c.text()).length, 0, 'a truncated chunked body is not complete');
  assert.equal((await request('h1', port)).body.toString(), 'fine');
  dropClients(port);
  await sleep(1);
});
