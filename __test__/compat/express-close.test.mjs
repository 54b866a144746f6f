// close() with an Express app behaves exactly as with a plain handler (issue
// 11, DESIGN C3–C8): each check runs with a plain `(req, res)` handler as the
// reference, then with Express 5 and Express 4 apps. node:http is the control
// where Node has the same rule (C3); where it has not (C4) or serves no HTTP/2
// (C5), the control is skipped with the reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import express5 from 'express';
import express4 from 'express4';
import { impls, listen, connect, parseResponses, sleep, until, within } from './helpers.mjs';

const NODE_CLOSE_DIFFERS = 'node:http answers the in-flight request with Connection: keep-alive and '
  + 'its close() calls back only when the keep-alive timeout (5 s) ends that connection; DESIGN C4 '
  + 'is lastcall\'s close() rule, not Node\'s';
const NODE_NO_H2C = 'node:http serves no HTTP/2, and node:http2 cannot run Express (see express-h2.test.mjs)';

/** `[name, makeHandler]`: makeHandler(onSlow) returns the request listener. */
const handlers = [
  ['a plain handler', (onSlow) => (req, res) => {
    if (req.url === '/slow') onSlow(() => res.end(JSON.stringify({ done: true })), req, res);
    else res.end('other');
  }],
  ...[['an Express 5 app', express5], ['an Express 4 app', express4]].map(([label, express]) => [label, (onSlow) => {
    const app = express();
    app.get('/slow', (req, res) => onSlow(() => res.json({ done: true }), req, res));
    app.get('/other', (req, res) => res.send('other'));
    return app;
  }]),
];

/** server.close() as a promise bounded by 10 s, resolving with the callback count so far. */
function closeOnce(server) {
  let calls = 0;
  let closeEvents = 0;
  server.on('close', () => { closeEvents++; });
  const done = within(new Promise((resolve, reject) => {
    server.close((err) => {
      calls++;
      if (err) reject(err);
      else resolve();
    });
  }), 'close() callback');
  return { done, counts: () => ({ calls, closeEvents }) };
}

for (const [label, makeHandler] of handlers) {
  for (const [name, createServer] of impls) {
    test(`C4 with ${label} on ${name}: a request in flight at close() gets its full response with Connection: close, a later request never reaches the app, close() calls back once`, async (t) => {
      if (name === 'node:http') {
        t.skip(NODE_CLOSE_DIFFERS);
        return;
      }
      const seen = [];
      let release;
      const server = createServer(makeHandler((send, req) => {
        release = send;
      }));
      server.on('request', (req) => seen.push(req.url));
      const port = await listen(server);
      t.after(() => { if (server.listening) server.close(); });
      const c = await connect(port);
      t.after(() => c.destroy());
      c.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await until(() => release, 'the app to receive /slow');
      const close = closeOnce(server);
      await sleep(50);
      release();
      const text = await c.waitFor((s) => parseResponses(s).length === 1, 10_000, 'the /slow response');
      const [r] = parseResponses(text);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { done: true });
      assert.equal(r.headers.connection, 'close');
      c.write('GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const end = await within(c.ended, 'the connection end');
      await close.done;
      await sleep(100);
      assert.equal(end.how, 'eof');
      assert.deepEqual(c.errors, [], 'no reset though the client wrote after the response');
      assert.deepEqual(seen, ['/slow']);
      assert.equal(parseResponses(c.text()).length, 1);
      assert.deepEqual(close.counts(), { calls: 1, closeEvents: 1 });
    });

    test(`C3 with ${label} on ${name}: an idle keep-alive connection that an app has served is closed at once by close(), with EOF`, async (t) => {
      const server = createServer(makeHandler((send) => send()));
      const port = await listen(server);
      t.after(() => { if (server.listening) server.close(); });
      const c = await connect(port);
      t.after(() => c.destroy());
      c.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1, 10_000, 'the response'));
      assert.equal(r.status, 200);
      assert.notEqual(r.headers.connection, 'close');
      const t0 = performance.now();
      const close = closeOnce(server);
      const end = await within(c.ended, 'the idle connection end');
      await close.done;
      assert.equal(end.how, 'eof');
      assert.ok(performance.now() - t0 < 1000, `close() took ${Math.round(performance.now() - t0)} ms`);
    });

    test(`C5 with ${label} on ${name}: an HTTP/2 stream in flight at close() completes, then the session ends and close() calls back`, async (t) => {
      if (name === 'node:http') {
        t.skip(NODE_NO_H2C);
        return;
      }
      let release;
      const server = createServer(makeHandler((send) => { release = send; }));
      const port = await listen(server);
      t.after(() => { if (server.listening) server.close(); });
      const session = http2.connect(`http://127.0.0.1:${port}`);
      t.after(() => session.destroy());
      const goaways = [];
      session.on('goaway', (code) => goaways.push(code));
      session.on('error', () => {});
      const stream = session.request({ ':path': '/slow' });
      stream.end();
      const chunks = [];
      stream.on('data', (d) => chunks.push(d));
      const response = within(new Promise((resolve, reject) => {
        let status;
        stream.on('response', (h) => { status = h[':status']; });
        stream.on('end', () => resolve(status));
        stream.on('error', reject);
      }), 'the in-flight h2 response');
      await until(() => release, 'the app to receive /slow');
      const close = closeOnce(server);
      await sleep(50);
      release();
      assert.equal(await response, 200);
      assert.deepEqual(JSON.parse(Buffer.concat(chunks)), { done: true });
      await within(new Promise((resolve) => (session.closed ? resolve() : session.on('close', resolve))), 'the session end');
      await close.done;
      assert.ok(goaways.length >= 1 && goaways.every((code) => code === http2.constants.NGHTTP2_NO_ERROR), `GOAWAY codes ${goaways}`);
      assert.deepEqual(close.counts(), { calls: 1, closeEvents: 1 });
    });
  }
}
