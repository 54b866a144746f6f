// node:http's own semantics that apps and middleware rely on (issue 11,
// DESIGN §8 "Compatibility is identity"). Node's test/parallel/test-http-*
// server tests describe the behaviour; these are our own tests of it. Every
// check runs with the same body on lastcall and on node:http, the control
// that proves the check describes Node. Where Node's output is a version's
// choice rather than a rule, the check says so and holds lastcall alone to it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as lastcall from '../index.mjs';
import { connect, parseResponses, get, listen } from './raw.mjs';
import { within, closeServer, request, BOUND_MS } from './compat/helpers.mjs';

const impls = [
  ['lastcall', lastcall.createServer],
  ['node:http', http.createServer],
];

/**
 * Starts `createServer(options, handler)` on 127.0.0.1:0 after assigning
 * `props` to the server (as apps set `server.maxRequestsPerSocket`), and
 * closes it when the test ends.
 */
async function serve(t, name, createServer, handler, { options = {}, props = {} } = {}) {
  const server = createServer(options, handler);
  Object.assign(server, props);
  const port = await listen(server);
  t.after(() => closeServer(name, server));
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/**
 * Wraps a handler so that an exception inside it (a failed check, or a
 * method that broke after a prototype swap) is kept for the test to rethrow,
 * and the client is cut off instead of left waiting.
 */
function guarded(fn) {
  const state = { error: null };
  const handler = async (req, res) => {
    try {
      await fn(req, res);
    } catch (err) {
      state.error ??= err;
      req.socket?.destroy();
    }
  };
  return [handler, state];
}

/** `request()` that resolves with the error instead of rejecting. */
function attempt(url, options) {
  return request(url, options).catch((err) => err);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

/** The `[name, value]` pair of `raw` (rawHeaders) whose name is `name`, in any case. */
function rawPair(raw, name) {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === name) return [raw[i].toLowerCase(), raw[i + 1]];
  }
  return undefined;
}

/** Moves req/res onto fresh objects derived from node:http's prototypes, as Express does. */
function swapPrototypes(req, res) {
  Object.setPrototypeOf(req, Object.create(http.IncomingMessage.prototype));
  Object.setPrototypeOf(res, Object.create(http.ServerResponse.prototype));
}

/** on-headers' way of hooking the head: an instance writeHead calling the previous one. */
function onHeaders(res, listener) {
  const previous = res.writeHead;
  res.writeHead = function writeHead(...args) {
    listener.call(this);
    return previous.apply(this, args);
  };
}

/**
 * A request with node:http's client sending `Expect: <expect>`; with
 * `100-continue` the body is sent only once the server says 'continue'.
 * Resolves `{ continued, status, body }`.
 */
function expectRequest(url, expect, body) {
  return within(new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { expect, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ continued, status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (/100-continue/i.test(expect)) {
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
    } else {
      req.end(body);
    }
  }), `Expect: ${expect}`);
}

for (const [name, createServer] of impls) {
  // 1. Prototype swaps (Express's init / handle).

  test(`${name}: req is an http.IncomingMessage and res an http.ServerResponse`, async (t) => {
    const seen = {};
    const { url } = await serve(t, name, createServer, (req, res) => {
      seen.req = req instanceof http.IncomingMessage;
      seen.res = res instanceof http.ServerResponse;
      res.end('ok');
    });
    const r = await request(url);
    assert.equal(r.body.toString(), 'ok');
    assert.deepEqual(seen, { req: true, res: true });
  });

  test(`${name}: after req/res are moved onto prototypes derived from node:http's, headers, socket, the body stream and every res method still work`, async (t) => {
    const seen = {};
    const [handler, state] = guarded(async (req, res) => {
      swapPrototypes(req, res);
      seen.instances = [req instanceof http.IncomingMessage, res instanceof http.ServerResponse];
      seen.method = req.method;
      seen.url = req.url;
      seen.custom = req.headers['x-custom'];
      seen.host = typeof req.headers.host;
      seen.rawCustom = rawPair(req.rawHeaders, 'x-custom');
      seen.remoteAddress = req.socket.remoteAddress;
      seen.connection = req.connection === req.socket;
      const body = await readBody(req);
      res.setHeader('X-A', '1');
      res.setHeader('X-Gone', 'soon');
      seen.getHeader = res.getHeader('x-a');
      seen.hasHeader = res.hasHeader('X-A');
      res.removeHeader('x-gone');
      seen.removed = res.hasHeader('x-gone');
      seen.getHeaders = { ...res.getHeaders() };
      seen.sentBefore = res.headersSent;
      res.writeHead(201, { 'X-B': '2' });
      seen.sentAfter = res.headersSent;
      seen.header = typeof res._header === 'string' && res._header.length > 0;
      res.write('got:');
      res.end(body);
    });
    const { url } = await serve(t, name, createServer, handler);
    const r = await attempt(`${url}/swap?q=1`, {
      method: 'POST',
      headers: { 'X-Custom': 'v1', 'content-type': 'text/plain' },
      body: 'hello body',
    });
    if (state.error) throw state.error;
    if (r instanceof Error) throw r;
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-a'], '1');
    assert.equal(r.headers['x-b'], '2');
    assert.equal(r.headers['x-gone'], undefined);
    assert.equal(r.body.toString(), 'got:hello body');
    assert.deepEqual(seen, {
      instances: [true, true],
      method: 'POST',
      url: '/swap?q=1',
      custom: 'v1',
      host: 'string',
      rawCustom: ['x-custom', 'v1'],
      remoteAddress: '127.0.0.1',
      connection: true,
      getHeader: '1',
      hasHeader: true,
      removed: false,
      getHeaders: { 'x-a': '1' },
      sentBefore: false,
      sentAfter: true,
      header: true,
    });
  });

  test(`${name}: after the prototype swap a POST body is read whole with for await`, async (t) => {
    const [handler, state] = guarded(async (req, res) => {
      swapPrototypes(req, res);
      let n = 0;
      const chunks = [];
      for await (const chunk of req) {
        chunks.push(chunk);
        n += chunk.length;
      }
      res.end(`${n}:${Buffer.concat(chunks).toString().slice(0, 5)}`);
    });
    const { url } = await serve(t, name, createServer, handler);
    const body = 'abcde'.repeat(40_000);
    const r = await attempt(url, { method: 'POST', body });
    if (state.error) throw state.error;
    if (r instanceof Error) throw r;
    assert.equal(r.body.toString(), `${body.length}:abcde`);
  });

  test(`${name}: after the prototype swap res._implicitHeader() decides the head from statusCode and the set headers`, async (t) => {
    const seen = {};
    const [handler, state] = guarded((req, res) => {
      swapPrototypes(req, res);
      res.statusCode = 202;
      res.setHeader('X-I', 'implicit');
      res._implicitHeader();
      seen.sent = res.headersSent;
      seen.header = typeof res._header === 'string' && /x-i: implicit/i.test(res._header);
      res.end('done');
    });
    const { url } = await serve(t, name, createServer, handler);
    const r = await attempt(url);
    if (state.error) throw state.error;
    if (r instanceof Error) throw r;
    assert.equal(r.status, 202);
    assert.equal(r.headers['x-i'], 'implicit');
    assert.equal(r.body.toString(), 'done');
    assert.deepEqual(seen, { sent: true, header: true });
  });

  test(`${name}: a writeHead wrapped as on-headers does it runs once on an implicit head (end or write without writeHead), with or without a prototype swap`, async (t) => {
    const calls = {};
    const [handler, state] = guarded((req, res) => {
      if (req.url.startsWith('/swap')) swapPrototypes(req, res);
      onHeaders(res, function hook() {
        calls[req.url] = (calls[req.url] ?? 0) + 1;
        this.setHeader('X-Hook', req.url);
      });
      if (req.url.endsWith('/write')) {
        res.write('a');
        res.end('b');
      } else {
        res.end('ab');
      }
    });
    const { url } = await serve(t, name, createServer, handler);
    for (const path of ['/plain/end', '/plain/write', '/swap/end', '/swap/write']) {
      const r = await attempt(url + path);
      if (state.error) throw state.error;
      if (r instanceof Error) throw r;
      assert.equal(r.headers['x-hook'], path, `${path}: the hook's header is sent`);
      assert.equal(r.body.toString(), 'ab', path);
    }
    assert.deepEqual(calls, { '/plain/end': 1, '/plain/write': 1, '/swap/end': 1, '/swap/write': 1 });
  });

  test(`${name}: a method added to http.IncomingMessage.prototype / http.ServerResponse.prototype (as restify does) is there on req and res`, async (t) => {
    http.IncomingMessage.prototype.lastcallTestHeader = function lastcallTestHeader(n) { return this.headers[n]; };
    http.ServerResponse.prototype.lastcallTestSend = function lastcallTestSend(s) {
      this.setHeader('X-Patched', 'yes');
      this.end(s);
    };
    t.after(() => {
      delete http.IncomingMessage.prototype.lastcallTestHeader;
      delete http.ServerResponse.prototype.lastcallTestSend;
    });
    const [handler, state] = guarded((req, res) => {
      res.lastcallTestSend(`h=${req.lastcallTestHeader('x-a')}`);
    });
    const { url } = await serve(t, name, createServer, handler);
    const r = await attempt(url, { headers: { 'x-a': 'patched' } });
    if (state.error) throw state.error;
    if (r instanceof Error) throw r;
    assert.equal(r.headers['x-patched'], 'yes');
    assert.equal(r.body.toString(), 'h=patched');
  });

  // 2. res.setHeaders

  test(`${name}: res.setHeaders takes a Headers or a Map, and keeps several Set-Cookie values apart`, async (t) => {
    const [handler, state] = guarded((req, res) => {
      if (req.url === '/headers') {
        res.setHeaders(new Headers([['X-H', 'a'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]));
      } else {
        res.setHeaders(new Map([['X-M', 'm'], ['Set-Cookie', ['c=3', 'd=4']]]));
      }
      res.end('ok');
    });
    const { url } = await serve(t, name, createServer, handler);
    const h = await attempt(`${url}/headers`);
    if (state.error) throw state.error;
    assert.equal(h.headers['x-h'], 'a');
    assert.deepEqual(h.headers['set-cookie'], ['a=1', 'b=2']);
    const m = await attempt(`${url}/map`);
    if (state.error) throw state.error;
    assert.equal(m.headers['x-m'], 'm');
    assert.deepEqual(m.headers['set-cookie'], ['c=3', 'd=4']);
  });

  // 3. Expect

  test(`${name}: Expect: 100-continue with no 'checkContinue' listener is answered 100 Continue, then 'request' reads the body`, async (t) => {
    let requests = 0;
    const [handler, state] = guarded(async (req, res) => {
      requests++;
      res.end(`body:${await readBody(req)}`);
    });
    const { url } = await serve(t, name, createServer, handler);
    const r = await expectRequest(url, '100-continue', 'payload');
    if (state.error) throw state.error;
    assert.deepEqual(r, { continued: true, status: 200, body: 'body:payload' });
    assert.equal(requests, 1);
  });

  test(`${name}: Expect: 100-continue goes to a 'checkContinue' listener (req, res) instead of 'request'; writeContinue() then lets it read the body`, async (t) => {
    let requests = 0;
    const { server, url } = await serve(t, name, createServer, () => { requests++; });
    const seen = [];
    server.on('checkContinue', async (req, res) => {
      seen.push([req instanceof http.IncomingMessage, res instanceof http.ServerResponse, req.headers.expect]);
      res.writeContinue();
      res.end(`checked:${await readBody(req)}`);
    });
    const r = await expectRequest(url, '100-continue', 'payload');
    assert.deepEqual(r, { continued: true, status: 200, body: 'checked:payload' });
    assert.deepEqual(seen, [[true, true, '100-continue']]);
    assert.equal(requests, 0);
  });

  test(`${name}: an unknown expectation is answered 417 without 'request'; a 'checkExpectation' listener gets it instead`, async (t) => {
    let requests = 0;
    const { server, url } = await serve(t, name, createServer, (req, res) => {
      requests++;
      res.end();
    });
    const r = await expectRequest(url, 'x-something', 'payload');
    assert.equal(r.status, 417);
    assert.equal(r.continued, false);
    assert.equal(requests, 0);

    const seen = [];
    server.on('checkExpectation', async (req, res) => {
      seen.push(req.headers.expect);
      res.statusCode = 202;
      res.end(`expectation:${await readBody(req)}`);
    });
    const r2 = await expectRequest(url, 'x-something', 'payload');
    assert.deepEqual(r2, { continued: false, status: 202, body: 'expectation:payload' });
    assert.deepEqual(seen, ['x-something']);
    assert.equal(requests, 0);
  });

  // 4. maxRequestsPerSocket

  test(`${name}: with maxRequestsPerSocket = 2 the second response on a connection says Connection: close`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end(req.url), { props: { maxRequestsPerSocket: 2 } });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/1'));
    await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the first response');
    conn.write(get('/2'));
    await conn.waitFor((s) => parseResponses(s).length === 2, BOUND_MS, 'the second response');
    const [first, second] = parseResponses(conn.text());
    assert.equal(first.body, '/1');
    assert.equal(first.headers.connection, 'keep-alive');
    assert.equal(first.headers['keep-alive'], 'timeout=5, max=2');
    assert.equal(second.body, '/2');
    assert.equal(second.headers.connection, 'close');
    assert.equal(second.headers['keep-alive'], undefined);
  });

  test(`${name}: with maxRequestsPerSocket = 2 a third pipelined request never reaches 'request' (node:http: 503 and 'dropRequest')`, async (t) => {
    const urls = [];
    const { server, port } = await serve(t, name, createServer, (req, res) => {
      urls.push(req.url);
      res.end(req.url);
    }, { props: { maxRequestsPerSocket: 2 } });
    const dropped = [];
    server.on('dropRequest', (req, socket) => {
      dropped.push({ url: req.url, isReq: req instanceof http.IncomingMessage, sameSocket: socket === req.socket });
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/1') + get('/2') + get('/3'));
    if (name === 'lastcall') {
      // hyper reads no request after a response that says Connection: close,
      // so the third is left unanswered and the connection ends: the request
      // never reached the app, and a client retries it safely (DESIGN C13).
      // README "Differences" has this row.
      await conn.waitFor((s) => parseResponses(s).length === 2, BOUND_MS, 'two responses');
      await conn.ended;
      const responses = parseResponses(conn.text());
      assert.deepEqual(responses.map((r) => r.status), [200, 200]);
      assert.deepEqual(responses.map((r) => r.headers.connection), ['keep-alive', 'close']);
      assert.deepEqual(urls, ['/1', '/2']);
      assert.deepEqual(dropped, []);
      return;
    }
    await conn.waitFor((s) => parseResponses(s).length === 3, BOUND_MS, 'three responses');
    const responses = parseResponses(conn.text());
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 503]);
    assert.deepEqual(responses.map((r) => r.headers.connection), ['keep-alive', 'close', 'close']);
    assert.deepEqual(urls, ['/1', '/2']);
    assert.deepEqual(dropped, [{ url: '/3', isReq: true, sameSocket: true }]);
  });

  // 5. Connection / Keep-Alive response headers

  test(`${name}: an HTTP/1.1 response says Connection: keep-alive and Keep-Alive: timeout=5 by default`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end('ok'));
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/'));
    await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the response');
    const [r] = parseResponses(conn.text());
    assert.equal(r.headers.connection, 'keep-alive');
    assert.equal(r.headers['keep-alive'], 'timeout=5');
  });

  test(`${name}: keepAliveTimeout = 7000 is announced as Keep-Alive: timeout=7`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end('ok'), { props: { keepAliveTimeout: 7000 } });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/'));
    await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the response');
    const [r] = parseResponses(conn.text());
    assert.equal(r.headers.connection, 'keep-alive');
    assert.equal(r.headers['keep-alive'], 'timeout=7');
  });

  test(`${name}: a request with Connection: close gets Connection: close (no Keep-Alive) and the connection ends`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end('ok'));
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/', 'Connection: close\r\n'));
    await within(conn.ended, 'the connection ending');
    const [r] = parseResponses(conn.text());
    assert.equal(r.body, 'ok');
    assert.equal(r.headers.connection, 'close');
    assert.equal(r.headers['keep-alive'], undefined);
  });

  test(`${name}: a Connection header set by the app wins over the default one`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => {
      res.setHeader('Connection', 'close');
      res.end('ok');
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/'));
    await within(conn.ended, 'the connection ending');
    const responses = parseResponses(conn.text());
    assert.equal(responses.length, 1);
    assert.equal(responses[0].headers.connection, 'close');
    assert.equal(responses[0].headers['keep-alive'], undefined);
  });

  // 6. Host

  test(`${name}: an HTTP/1.1 request without Host gets 400 and the connection closes, without 'request'`, async (t) => {
    let requests = 0;
    const { port } = await serve(t, name, createServer, (req, res) => {
      requests++;
      res.end('served');
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write('GET / HTTP/1.1\r\n\r\n');
    await within(conn.ended, 'the connection ending');
    const responses = parseResponses(conn.text());
    assert.equal(responses.length, 1);
    assert.equal(responses[0].status, 400);
    assert.equal(responses[0].headers.connection, 'close');
    assert.equal(requests, 0);
  });

  test(`${name}: an HTTP/1.0 request without Host is served`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end(`served ${req.httpVersion}`));
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write('GET / HTTP/1.0\r\n\r\n');
    await within(conn.ended, 'the connection ending');
    // Node answers with an HTTP/1.1 status line and delimits the body by
    // closing; lastcall (hyper) answers HTTP/1.0 with a Content-Length. Both
    // are valid replies to HTTP/1.0, so the check is on status and body only.
    const text = conn.text();
    assert.match(text, /^HTTP\/1\.[01] 200 /);
    assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), 'served 1.0');
  });

  test(`${name}: with the option requireHostHeader: false an HTTP/1.1 request without Host is served`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end('served'), { options: { requireHostHeader: false } });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write('GET / HTTP/1.1\r\n\r\n');
    await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the response');
    const [r] = parseResponses(conn.text());
    assert.equal(r.status, 200);
    assert.equal(r.body, 'served');
  });

  // 7. req.destroy()

  test(`${name}: req.destroy() in the handler of a GET closes the connection with no response, res emits 'close', and the server keeps serving`, async (t) => {
    let resClosed;
    const closedPromise = new Promise((resolve) => { resClosed = resolve; });
    const { url, port } = await serve(t, name, createServer, (req, res) => {
      if (req.url === '/destroy') {
        res.on('close', resClosed);
        req.destroy();
      } else {
        res.end('still serving');
      }
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/destroy'));
    const ended = await within(conn.ended, 'the connection ending');
    assert.ok(ended.how === 'eof' || ended.how === 'reset', `ended by ${ended.how}`);
    assert.equal(conn.text(), '', 'no response bytes');
    await within(closedPromise, "res 'close'");
    const r = await request(url);
    assert.equal(r.body.toString(), 'still serving');
  });

  // 8. Response framing

  test(`${name}: with strictContentLength a write past Content-Length throws ERR_HTTP_CONTENT_LENGTH_MISMATCH and sends nothing`, async (t) => {
    const seen = {};
    const [handler, state] = guarded((req, res) => {
      res.strictContentLength = true;
      res.setHeader('Content-Length', 5);
      res.write('abc');
      try {
        res.write('def');
        seen.threw = null;
      } catch (err) {
        seen.threw = err.code;
      }
      res.end('de');
    });
    const { url } = await serve(t, name, createServer, handler);
    const r = await attempt(url);
    if (state.error) throw state.error;
    assert.equal(seen.threw, 'ERR_HTTP_CONTENT_LENGTH_MISMATCH');
    if (r instanceof Error) throw r;
    assert.equal(r.body.toString(), 'abcde');
  });

  test(`${name}: with strictContentLength an end() short of Content-Length throws ERR_HTTP_CONTENT_LENGTH_MISMATCH`, async (t) => {
    const seen = {};
    const [handler, state] = guarded((req, res) => {
      res.strictContentLength = true;
      res.setHeader('Content-Length', 5);
      try {
        if (req.url === '/write-then-end') {
          res.write('abc');
          res.end();
        } else {
          res.end('abc');
        }
        seen[req.url] = null;
      } catch (err) {
        seen[req.url] = err.code;
      }
      res.destroy();
    });
    const { port } = await serve(t, name, createServer, handler);
    for (const path of ['/write-then-end', '/end-short']) {
      const conn = await connect(port);
      t.after(() => conn.destroy());
      conn.write(get(path));
      await within(conn.ended, `${path}: the connection ending`);
    }
    if (state.error) throw state.error;
    assert.deepEqual(seen, { '/write-then-end': 'ERR_HTTP_CONTENT_LENGTH_MISMATCH', '/end-short': 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
  });

  test(`${name}: a Content-Length removed before end(body) stays removed: the body goes chunked`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => {
      res.setHeader('Content-Length', 5);
      res.removeHeader('content-length');
      res.end('hello');
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/'));
    await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the response');
    const [r] = parseResponses(conn.text());
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.body, 'hello');
  });

  test(`${name}: writeHead(200) then end('x') sends the body framed, and the connection serves the next request`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => {
      res.writeHead(200);
      res.end(req.url === '/1' ? 'x' : 'y');
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write(get('/1'));
    await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the first response');
    conn.write(get('/2'));
    await conn.waitFor((s) => parseResponses(s).length === 2, BOUND_MS, 'the second response');
    const [first, second] = parseResponses(conn.text());
    assert.equal(first.body, 'x');
    assert.equal(second.body, 'y');
    // writeHead() fixes the head before the body is known, so the body is
    // chunked (Node's rule; lastcall follows it).
    assert.equal(first.headers['transfer-encoding'], 'chunked');
    assert.equal(first.headers['content-length'], undefined);
  });

  test(`${name}: headers given to writeHead are sent but getHeader does not see them, unless setHeader was used first`, async (t) => {
    const seen = {};
    const [handler, state] = guarded((req, res) => {
      if (req.url === '/merged') res.setHeader('X-S', 's');
      res.writeHead(200, { 'X-W': 'w' });
      seen[req.url] = res.getHeader('x-w');
      res.end();
    });
    const { url } = await serve(t, name, createServer, handler);
    const only = await attempt(`${url}/only`);
    const merged = await attempt(`${url}/merged`);
    if (state.error) throw state.error;
    assert.equal(only.headers['x-w'], 'w');
    assert.equal(merged.headers['x-w'], 'w');
    assert.equal(merged.headers['x-s'], 's');
    assert.deepEqual(seen, { '/only': undefined, '/merged': 'w' });
  });

  test(`${name}: a HEAD response carries no body even when the handler ends with one`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => res.end(req.method === 'HEAD' ? 'head body' : 'get body'));
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write('HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' + get('/next'));
    await conn.waitFor((s) => s.endsWith('get body'), BOUND_MS, 'the GET response after the HEAD one');
    const text = conn.text();
    const headEnd = text.indexOf('\r\n\r\n');
    assert.match(text.slice(0, headEnd), /^HTTP\/1\.1 200 /);
    assert.match(text.slice(headEnd + 4), /^HTTP\/1\.1 200 /, 'the next response follows the HEAD head directly');
    assert.doesNotMatch(text, /head body/);
  });
}

// A response decided before close() but sent after it: the connection
// closes, and the response says so once, not "keep-alive, close" (hyper
// appends close to a Connection header that said keep-alive).
test('lastcall: a response written just before close() says Connection: close alone', async (t) => {
  let server;
  ({ server } = await serve(t, 'lastcall', lastcall.createServer, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('bye');
    server.close();
  }));
  const port = server.address().port;
  const conn = await connect(port);
  t.after(() => conn.destroy());
  conn.write(get('/'));
  await conn.waitFor((s) => parseResponses(s).length === 1, BOUND_MS, 'the response');
  const [r] = parseResponses(conn.text());
  assert.equal(r.headers.connection, 'close');
  assert.equal(r.headers['keep-alive'], undefined);
  await conn.ended;
});

// Trailers: a chunked request's trailers reach req.trailers / rawTrailers,
// and res.addTrailers() sends the response's after a chunked body. On
// HTTP/1.1 hyper sends them when the head declared them (Trailer:) and the
// client said it takes them (TE: trailers), as RFC 9110 §6.5.1 and §6.6.2
// advise; node:http sends them either way (README "Differences").
for (const [name, createServer] of impls) {
  test(`${name}: request trailers reach req.trailers, and res.addTrailers() sends response trailers`, async (t) => {
    const { port } = await serve(t, name, createServer, (req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Sum' });
        res.write(`got ${Buffer.concat(chunks)}`);
        res.addTrailers({ 'X-Sum': 'abc123' });
        res.end(` ${JSON.stringify(req.trailers)} ${JSON.stringify(req.rawTrailers.map((x) => x.toLowerCase()))}`);
      });
    });
    const got = await within(new Promise((resolve, reject) => {
      const r = http.request({ port, host: '127.0.0.1', method: 'POST', agent: false, headers: { 'Transfer-Encoding': 'chunked', Trailer: 'X-Req', TE: 'trailers' } }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ body, te: res.headers['transfer-encoding'], trailers: res.trailers }));
      });
      r.on('error', reject);
      r.write('hello');
      r.addTrailers({ 'X-Req': 'from-client' });
      r.end();
    }), 'the response');
    assert.equal(got.te, 'chunked');
    assert.equal(got.body, 'got hello {"x-req":"from-client"} ["x-req","from-client"]');
    assert.deepEqual(got.trailers, { 'x-sum': 'abc123' });
  });
}

test('lastcall: HTTP/2 trailers both ways (node:http2 client)', async (t) => {
  const { port } = await serve(t, 'lastcall', lastcall.createServer, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.write(JSON.stringify(req.trailers));
      res.addTrailers({ 'x-sum': 'h2' });
      res.end();
    });
  });
  const http2 = await import('node:http2');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  const got = await within(new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-req': 'h2-client' }));
    let body = '';
    let trailers;
    stream.on('trailers', (tr) => { trailers = tr; });
    stream.on('data', (d) => { body += d; });
    stream.on('end', () => resolve({ body, trailers }));
    stream.on('error', reject);
    stream.end('payload');
  }), 'the response');
  assert.equal(got.body, '{"x-req":"h2-client"}');
  assert.equal(got.trailers['x-sum'], 'h2');
});

// 'clientError': bad input is reported with Node's error codes. With no
// listener both servers answer 400 themselves; lastcall answers before the
// listener runs too (README "Differences"), so the listener cannot write
// its own answer.
for (const [name, createServer] of impls) {
  test(`${name}: a malformed request or an oversized head emits 'clientError' with Node's code; with no listener the client gets 400`, async (t) => {
    const { server, port } = await serve(t, name, createServer, (req, res) => res.end('ok'));
    const seen = [];
    const heard = (n) => new Promise((resolve) => {
      const check = () => (seen.length >= n ? resolve() : setTimeout(check, 10));
      check();
    });
    server.on('clientError', (err, socket) => {
      seen.push(err.code);
      assert.ok(err instanceof Error);
      socket.destroy();
    });
    for (const raw of ['G@T / HTTP/1.1\r\nHost: x\r\n\r\n', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70000)}\r\n\r\n`]) {
      const conn = await connect(port);
      t.after(() => conn.destroy());
      conn.write(raw);
    }
    await within(heard(2), 'two clientError events');
    assert.deepEqual(seen.sort(), ['HPE_HEADER_OVERFLOW', 'HPE_INVALID_METHOD']);

    server.removeAllListeners('clientError');
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write('G@T / HTTP/1.1\r\nHost: x\r\n\r\n');
    await conn.ended;
    assert.match(conn.text(), /^HTTP\/1\.1 400 /);
  });
}

// headersTimeout counts from the connection's start: a client that sends
// nothing is answered 408 and the connection closes (Node checks its timers
// every connectionsCheckingInterval, set short here).
for (const [name, createServer] of impls) {
  test(`${name}: a connection that sends no request within headersTimeout gets 408 Request Timeout, then EOF`, async (t) => {
    const { port } = await serve(t, name, createServer, () => assert.fail('no request reaches the app'), {
      options: { headersTimeout: 300, requestTimeout: 0, keepAliveTimeout: 0, connectionsCheckingInterval: 100 },
    });
    const conn = await connect(port);
    t.after(() => conn.destroy());
    await within(conn.ended, 'the connection end');
    assert.equal(conn.text(), 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
  });
}

// CONNECT (a forward proxy's tunnel): 'connect' with the authority-form
// target; a 2xx written on the socket opens the tunnel both ways. With
// nobody listening the connection is closed.
for (const [name, createServer] of impls) {
  test(`${name}: CONNECT goes to 'connect' with its host:port target, and a 200 opens a tunnel both ways`, async (t) => {
    const { server, port } = await serve(t, name, createServer, () => assert.fail('CONNECT is not a request'));
    server.on('connect', (req, socket) => {
      assert.equal(req.method, 'CONNECT');
      socket.write(`HTTP/1.1 200 Connection established\r\nX-Target: ${req.url}\r\n\r\n`);
      socket.on('data', (d) => socket.write(`echo:${d}`));
      socket.on('end', () => socket.end());
    });
    const got = await within(new Promise((resolve, reject) => {
      const r = http.request({ port, host: '127.0.0.1', method: 'CONNECT', path: 'example.com:443', agent: false });
      r.on('error', reject);
      r.on('connect', (res, socket, head) => {
        let data = head.toString();
        socket.on('data', (d) => {
          data += d;
          if (data.includes('echo:ping')) {
            socket.destroy();
            resolve({ status: res.statusCode, target: res.headers['x-target'], data });
          }
        });
        socket.write('ping');
      });
      r.end();
    }), 'the tunnel echo');
    assert.equal(got.status, 200);
    assert.equal(got.target, 'example.com:443');
    assert.equal(got.data, 'echo:ping');
  });

  test(`${name}: CONNECT with no 'connect' listener closes the connection without a response`, async (t) => {
    const { port } = await serve(t, name, createServer, () => assert.fail('CONNECT is not a request'));
    const conn = await connect(port);
    t.after(() => conn.destroy());
    conn.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    await within(conn.ended, 'the connection end');
    assert.equal(conn.text(), '');
  });
}
