// req: Node's IncomingMessage fields and a Readable body with backpressure,
// on HTTP/1.1 and h2c.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { pipeline } from 'node:stream/promises';
import { Writable, PassThrough } from 'node:stream';
import { protocols, request, serve, sleep, dropClients, createServer, listen } from './helpers.mjs';
import { connect } from './raw.mjs';

for (const proto of protocols) {
  const h2 = proto === 'h2';

  test(`${proto}: method, url, httpVersion and its parts`, async (t) => {
    let seen;
    const { port } = await serve(t, (req, res) => {
      seen = { method: req.method, url: req.url, v: req.httpVersion, major: req.httpVersionMajor, minor: req.httpVersionMinor };
      res.end();
    });
    await request(proto, port, { method: 'DELETE', path: '/a/b?c=1&d=%20' });
    assert.deepEqual(seen, { method: 'DELETE', url: '/a/b?c=1&d=%20', v: h2 ? '2.0' : '1.1', major: h2 ? 2 : 1, minor: h2 ? 0 : 1 });
    dropClients(port);
  });

  test(`${proto}: headers are lower-case; duplicates combined as Node does`, async (t) => {
    let headers;
    let raw;
    const { port } = await serve(t, (req, res) => {
      headers = req.headers;
      raw = req.rawHeaders;
      res.end();
    });
    await request(proto, port, {
      headers: {
        'X-Custom': 'One',
        'set-cookie': ['a=1', 'b=2'],
        'x-multi': ['p', 'q'],
        'content-type': 'text/plain',
      },
    });
    assert.equal(headers['x-custom'], 'One');
    assert.deepEqual(headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(headers['x-multi'], 'p, q');
    assert.equal(headers['content-type'], 'text/plain');
    if (h2) {
      assert.equal(headers[':method'], 'GET');
      assert.equal(headers[':path'], '/');
    } else {
      assert.equal(headers.host, `127.0.0.1:${port}`);
    }
    assert.ok(Array.isArray(raw) && raw.length % 2 === 0);
    const i = raw.findIndex((v, k) => k % 2 === 0 && v.toLowerCase() === 'x-custom');
    assert.equal(raw[i + 1], 'One');
    dropClients(port);
  });

  test(`${proto}: req.socket gives the addresses and ports of both ends`, async (t) => {
    let s;
    const { port } = await serve(t, (req, res) => {
      s = { ra: req.socket.remoteAddress, rp: req.socket.remotePort, la: req.socket.localAddress, lp: req.socket.localPort };
      res.end();
    });
    await request(proto, port);
    assert.match(s.ra, /127\.0\.0\.1$/);
    assert.match(s.la, /127\.0\.0\.1$/);
    assert.equal(s.lp, port);
    assert.ok(s.rp > 0 && s.rp !== port);
    dropClients(port);
  });

  test(`${proto}: the body is read with for await; complete turns true at the end`, async (t) => {
    let before;
    let after;
    const { port } = await serve(t, async (req, res) => {
      before = req.complete;
      const chunks = [];
      for await (const c of req) chunks.push(c);
      after = req.complete;
      res.end(Buffer.concat(chunks));
    });
    const body = Buffer.alloc(300_000, 'x');
    const r = await request(proto, port, { method: 'POST', body });
    assert.equal(r.body.length, body.length);
    assert.equal(before, false);
    assert.equal(after, true);
    dropClients(port);
  });

  test(`${proto}: a request without a body is complete and ends at once`, async (t) => {
    let state;
    const { port } = await serve(t, (req, res) => {
      const complete = req.complete;
      req.on('end', () => {
        assert.equal(req.complete, true);
        state = { complete, ended: true };
        res.end('done');
      });
      req.resume();
    });
    assert.equal((await request(proto, port)).body.toString(), 'done');
    assert.deepEqual(state, { complete: false, ended: true }, 'complete is false while the handler runs, as in Node');
    dropClients(port);
  });

  test(`${proto}: req.pipe(res) echoes, and stream.pipeline works`, async (t) => {
    const { port } = await serve(t, async (req, res) => {
      if (req.url === '/pipe') {
        req.pipe(res);
        return;
      }
      const through = new PassThrough();
      await pipeline(req, through, res);
    });
    const body = Buffer.from('abc'.repeat(50_000));
    assert.deepEqual((await request(proto, port, { method: 'POST', path: '/pipe', body })).body, body);
    assert.deepEqual((await request(proto, port, { method: 'POST', path: '/pipeline', body })).body, body);
    dropClients(port);
  });

  test(`${proto}: setEncoding and on('data') work`, async (t) => {
    const { port } = await serve(t, (req, res) => {
      let s = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { assert.equal(typeof d, 'string'); s += d; });
      req.on('end', () => res.end(s.toUpperCase()));
    });
    assert.equal((await request(proto, port, { method: 'POST', body: 'héllo' })).body.toString(), 'HÉLLO');
    dropClients(port);
  });

  test(`${proto}: a client that goes away mid-body gives req 'aborted' and 'close', res 'close'`, async (t) => {
    const events = [];
    let got = 0;
    const { port } = await serve(t, (req, res) => {
      req.on('data', (d) => { got += d.length; });
      req.on('aborted', () => events.push('aborted'));
      req.on('error', () => {});
      req.on('close', () => events.push('req close'));
      res.on('close', () => events.push('res close'));
    });
    if (h2) {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      const stream = session.request({ ':method': 'POST', ':path': '/' });
      stream.on('error', () => {});
      stream.write(Buffer.alloc(1000));
      while (got < 1000) await sleep(5);
      session.destroy();
    } else {
      const sock = net.connect(port, '127.0.0.1');
      sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      sock.write(Buffer.alloc(1000));
      while (got < 1000) await sleep(5);
      sock.destroy();
    }
    while (events.length < 3) await sleep(5);
    assert.deepEqual(events.sort(), ['aborted', 'req close', 'res close']);
  });

  test(`${proto}: a slow consumer slows the client instead of filling memory`, async (t) => {
    let reqRef;
    let received = 0;
    const { port } = await serve(t, (req, res) => {
      reqRef = req;
      req.pause();
      req.on('data', (d) => { received += d.length; });
      req.on('end', () => res.end(String(received)));
    });
    const total = 32 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    let stalled = false;
    let sink;
    if (h2) {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      t.after(() => session.destroy());
      sink = session.request({ ':method': 'POST', ':path': '/' });
      sink.on('response', () => {});
      sink.on('error', () => {});
    } else {
      const sock = net.connect(port, '127.0.0.1');
      t.after(() => sock.destroy());
      sock.on('error', () => {});
      sock.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
      sink = sock;
    }
    // Write until the transport pushes back and stays pushed back.
    for (let i = 0; i < 200 && written < total; i++) {
      if (!sink.write(chunk)) {
        const drained = await Promise.race([new Promise((r) => sink.once('drain', () => r(true))), sleep(300).then(() => false)]);
        if (!drained) { stalled = true; break; }
      }
      written += chunk.length;
    }
    assert.ok(stalled, `the client was never held back after ${written} bytes`);
    assert.ok(written < 16 * 1024 * 1024, `${written} bytes went out while the handler read nothing`);
    assert.ok(reqRef);
    reqRef.resume();
    t.after(() => dropClients(port));
  });
}

test('h1: absolute-form request targets reach the handler whole', async (t) => {
  let url;
  const { port } = await serve(t, (req, res) => { url = req.url; res.end(); });
  const sock = net.connect(port, '127.0.0.1');
  sock.write('GET http://example.com/x?y=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n');
  sock.resume();
  await new Promise((r) => sock.on('end', r));
  assert.equal(url, 'http://example.com/x?y=1');
});

test('h1: pipe() into a slow Writable applies backpressure end to end', async (t) => {
  let total = 0;
  const { port } = await serve(t, (req, res) => {
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk, enc, cb) { total += chunk.length; setImmediate(cb); },
    });
    req.pipe(slow).on('finish', () => res.end(String(total)));
  });
  const body = Buffer.alloc(2 * 1024 * 1024, 1);
  assert.equal((await request('h1', port, { method: 'POST', body })).body.toString(), String(body.length));
  dropClients(port);
});

test('a body that finishes after its response was sent still ends: req gets every byte and \'end\' (HTTP/1.1, Content-Length)', async (t) => {
  let ended;
  const done = new Promise((resolve) => { ended = resolve; });
  const { port } = await serve(t, (req, res) => {
    const chunks = [];
    req.on('data', (d) => {
      chunks.push(d);
      if (!res.writableEnded) res.end('early');
    });
    req.on('end', () => ended(Buffer.concat(chunks).toString()));
  });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello');
  await c.waitFor((s) => s.includes('early'));
  c.write('world');
  const body = await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000, 'no end').unref())]);
  assert.equal(body, 'helloworld');
});

// Blocks the JS thread for 1.5 s at the first '/block' request, so that the
// requests sent meanwhile gather into one batch on the I/O thread.
function blocker() {
  const b = {
    done: false,
    handle(req, res) {
      if (req.url !== '/block' || b.done) return false;
      b.done = true;
      const until = Date.now() + 1500;
      while (Date.now() < until);
      res.end('blocked');
      return true;
    },
  };
  return b;
}

// Answers with the URL, the body's length and its first and last bytes.
function describeBody(req, res) {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.end(`${req.url} ${body.length} ${body[0] ?? '-'} ${body[body.length - 1] ?? '-'}`);
  });
}

// From another process (this one is blocked meanwhile): '/block', then,
// 200 ms later, `n` requests '/r<i>' on connections of their own, every
// other one a POST of 5,000 bytes when `bodies`. Resolves how many were
// answered 200 with describeBody's text for them.
async function batchFromAnotherProcess(t, port, n, bodies) {
  const client = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    let ok = 0;
    http.get({ port: ${port}, host: '127.0.0.1', path: '/block', agent }, (r) => r.resume());
    setTimeout(() => {
      const all = [];
      for (let i = 0; i < ${n}; i++) {
        const post = ${bodies} && i % 2 === 0;
        const body = post ? Buffer.alloc(5000, i % 251) : null;
        all.push(new Promise((resolve) => {
          const req = http.request({ port: ${port}, host: '127.0.0.1', path: '/r' + i, method: post ? 'POST' : 'GET', agent }, (res) => {
            let text = '';
            res.setEncoding('latin1');
            res.on('data', (d) => { text += d; });
            res.on('end', () => {
              const want = post ? '/r' + i + ' 5000 ' + (i % 251) + ' ' + (i % 251) : '/r' + i + ' 0 - -';
              if (res.statusCode === 200 && text === want) ok++;
              resolve();
            });
          });
          req.on('error', () => resolve());
          req.end(body);
        }));
      }
      Promise.all(all).then(() => console.log(JSON.stringify({ ok })));
    }, 200);
  `;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', client], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(out.trim()).ok;
}

// A batch of many requests is dispatched a slice at a time (lib/transport.js
// drain()): between slices the responses go out and finished exchanges are
// let go. With JS blocked while 600 clients send, the I/O thread gathers
// them into one batch; each must still be answered with its own body, in
// order per exchange, and no more than a slice runs before the next tick.
test('a batch of 600 requests gathered while JS was busy is dispatched in slices, every body reaching its own request', async (t) => {
  const N = 600;
  let run = 0;
  let longest = 0;
  let tickPending = false;
  const block = blocker();
  const { port } = await serve(t, (req, res) => {
    run++;
    if (!tickPending) {
      tickPending = true;
      process.nextTick(() => {
        longest = Math.max(longest, run);
        run = 0;
        tickPending = false;
      });
    }
    if (!block.handle(req, res)) describeBody(req, res);
  });
  const ok = await batchFromAnotherProcess(t, port, N, true);
  assert.deepEqual({ ok }, { ok: N });
  assert.ok(block.done);
  assert.ok(longest <= 256, `longest run without a tick between: ${longest}`);
});

// close() called while such a batch is dispatched slice by slice: every
// request of the batch was in flight when close() came, so each is
// answered (DESIGN C3), and close() calls back once they all are.
test('close() during a sliced batch of 600 requests: each is answered, then close() calls back', async (t) => {
  const N = 600;
  let seen = 0;
  let closedAt = null;
  const block = blocker();
  const server = createServer((req, res) => {
    seen++;
    if (block.handle(req, res)) return;
    if (seen === 10) server.close(() => { closedAt = seen; });
    describeBody(req, res);
  });
  const port = await listen(server);
  t.after(() => { if (server.listening) server.close(); });
  const ok = await batchFromAnotherProcess(t, port, N, false);
  // Requests that reached the server before close() are all answered; the
  // blocked batch is all of them unless the machine was too slow to send
  // them within the block.
  assert.equal(ok, seen - 1, `answered ${ok} of the ${seen - 1} that reached the handler`);
  assert.ok(seen > 10);
  await new Promise((resolve) => { const wait = () => (closedAt !== null ? resolve() : setTimeout(wait, 10)); wait(); });
  assert.equal(closedAt, seen, 'close() called back after the last request was answered');
});
