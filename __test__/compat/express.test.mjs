// Express 5 and Express 4 attached with `createServer(app)`, as every Express
// user starts (issue 11, DESIGN §8): Express swaps the prototypes of req and
// res for ones derived from node:http's classes, and everything below must
// keep working after that swap. Each check runs on lastcall and on node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import express5 from 'express';
import express4 from 'express4';
import {
  impls, serve, request, requestJson, fixtures, connect, within,
} from './helpers.mjs';

const files = fixtures();
const expresses = [['Express 5', express5], ['Express 4', express4]];

for (const [ex, express] of expresses) {
  for (const [name, createServer] of impls) {
    const on = `${ex} on ${name}`;

    test(`${on}: route params and the query string reach the handler; res.json answers with JSON`, async (t) => {
      const app = express();
      app.get('/users/:id/books/:book', (req, res) => {
        res.json({ params: req.params, query: req.query, method: req.method, path: req.path });
      });
      const { url } = await serve(t, name, createServer, app);
      const r = await requestJson(`${url}/users/42/books/dune?x=1&y=two`);
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /^application\/json; charset=utf-8$/);
      assert.equal(Number(r.headers['content-length']), r.body.length);
      assert.deepEqual(r.json, {
        params: { id: '42', book: 'dune' }, query: { x: '1', y: 'two' }, method: 'GET', path: '/users/42/books/dune',
      });
    });

    test(`${on}: res.status().send() sets the status, Content-Type and Content-Length; an ETag for a sent string`, async (t) => {
      const app = express();
      app.get('/html', (req, res) => res.status(201).send('<p>made</p>'));
      app.get('/buf', (req, res) => res.send(Buffer.from('raw bytes')));
      app.get('/code', (req, res) => res.sendStatus(418));
      const { url } = await serve(t, name, createServer, app);
      const html = await request(`${url}/html`);
      assert.equal(html.status, 201);
      assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(html.headers['content-length'], '11');
      assert.match(html.headers.etag, /^W\/"/);
      assert.equal(html.body.toString(), '<p>made</p>');
      assert.equal(html.headers['x-powered-by'], 'Express');
      const buf = await request(`${url}/buf`);
      assert.equal(buf.headers['content-type'], 'application/octet-stream');
      assert.equal(buf.body.toString(), 'raw bytes');
      const code = await request(`${url}/code`);
      assert.equal(code.status, 418);
      assert.equal(code.body.toString(), "I'm a Teapot");
    });

    test(`${on}: res.redirect answers 302 (or the given status) with Location`, async (t) => {
      const app = express();
      app.get('/old', (req, res) => res.redirect('/new'));
      app.get('/moved', (req, res) => res.redirect(301, '/elsewhere'));
      const { url } = await serve(t, name, createServer, app);
      const r = await request(`${url}/old`);
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, '/new');
      assert.match(r.body.toString(), /Redirecting to \/new/);
      const m = await request(`${url}/moved`);
      assert.equal(m.status, 301);
      assert.equal(m.headers.location, '/elsewhere');
    });

    test(`${on}: res.sendFile sends the file with an ETag; If-None-Match gives 304, Range gives 206`, async (t) => {
      const app = express();
      app.get('/file', (req, res, next) => res.sendFile(files.smallPath, (err) => err && next(err)));
      const { url } = await serve(t, name, createServer, app);
      const full = await request(`${url}/file`);
      assert.equal(full.status, 200);
      assert.match(full.headers['content-type'], /^text\/plain; charset=utf-8$/i);
      assert.equal(Number(full.headers['content-length']), files.small.length);
      assert.equal(full.headers['accept-ranges'], 'bytes');
      assert.ok(full.headers['last-modified']);
      assert.ok(full.body.equals(files.small));
      const etag = full.headers.etag;
      assert.match(etag, /^W\/"/);

      const cached = await request(`${url}/file`, { headers: { 'if-none-match': etag } });
      assert.equal(cached.status, 304);
      assert.equal(cached.body.length, 0);
      assert.equal(cached.headers.etag, etag);

      const part = await request(`${url}/file`, { headers: { range: 'bytes=100-199' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes 100-199/${files.small.length}`);
      assert.equal(part.headers['content-length'], '100');
      assert.ok(part.body.equals(files.small.subarray(100, 200)));

      const tail = await request(`${url}/file`, { headers: { range: 'bytes=-10' } });
      assert.equal(tail.status, 206);
      assert.ok(tail.body.equals(files.small.subarray(-10)));

      const bad = await request(`${url}/file`, { headers: { range: `bytes=${files.small.length + 10}-` } });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers['content-range'], `bytes */${files.small.length}`);
    });

    test(`${on}: express.static serves files under its mount point, with 304 and a redirect for a directory`, async (t) => {
      const app = express();
      app.use('/static', express.static(files.dir));
      const { url } = await serve(t, name, createServer, app);
      const r = await request(`${url}/static/big.bin`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(Number(r.headers['content-length']), files.big.length);
      assert.ok(r.body.equals(files.big));
      const again = await request(`${url}/static/big.bin`, {
        headers: { 'if-modified-since': r.headers['last-modified'], 'if-none-match': r.headers.etag },
      });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      const dir = await request(`${url}/static`);
      assert.equal(dir.status, 301);
      assert.equal(dir.headers.location, '/static/');
      const missing = await request(`${url}/static/none.txt`);
      assert.equal(missing.status, 404);
    });

    test(`${on}: express.json and express.urlencoded parse request bodies; a malformed JSON body is a 400`, async (t) => {
      const app = express();
      app.use(express.json());
      app.use(express.urlencoded({ extended: false }));
      app.post('/echo', (req, res) => res.json({ body: req.body, type: req.headers['content-type'] }));
      const { url } = await serve(t, name, createServer, app);
      const payload = { name: 'lastcall', list: [1, 2, 3], nested: { ok: true }, pad: 'x'.repeat(50_000) };
      const j = await requestJson(`${url}/echo`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload),
      });
      assert.equal(j.status, 200);
      assert.deepEqual(j.json.body, payload);
      const f = await requestJson(`${url}/echo`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two+words&c=%C3%A9',
      });
      assert.deepEqual(f.json.body, { a: '1', b: 'two words', c: 'é' });
      const bad = await request(`${url}/echo`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"unterminated',
      });
      assert.equal(bad.status, 400);
    });

    test(`${on}: error middleware answers a thrown error with the app's own 500 body`, async (t) => {
      const app = express();
      app.get('/throw', () => { throw new Error('boom'); });
      app.get('/next', (req, res, next) => next(Object.assign(new Error('teapot'), { status: 418 })));
      app.use((err, req, res, next) => {
        res.status(err.status || 500).json({ error: err.message });
      });
      const { url } = await serve(t, name, createServer, app);
      const r = await requestJson(`${url}/throw`);
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, { error: 'boom' });
      const n = await requestJson(`${url}/next`);
      assert.equal(n.status, 418);
      assert.deepEqual(n.json, { error: 'teapot' });
    });

    if (ex === 'Express 5') {
      test(`${on}: a rejected async handler reaches the error middleware`, async (t) => {
        const app = express();
        app.get('/async', async () => {
          await new Promise((r) => setImmediate(r));
          throw new Error('async boom');
        });
        app.use((err, req, res, next) => res.status(500).send(`handled: ${err.message}`));
        const { url } = await serve(t, name, createServer, app);
        const r = await request(`${url}/async`);
        assert.equal(r.status, 500);
        assert.equal(r.body.toString(), 'handled: async boom');
      });
    }

    test(`${on}: an unmatched route gets Express's own 404 page`, async (t) => {
      const app = express();
      app.get('/', (req, res) => res.send('home'));
      const { url } = await serve(t, name, createServer, app);
      const r = await request(`${url}/nope?q=1`);
      assert.equal(r.status, 404);
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.match(r.body.toString(), /Cannot GET \/nope/);
      const p = await request(`${url}/`, { method: 'POST' });
      assert.equal(p.status, 404);
      assert.match(p.body.toString(), /Cannot POST \//);
    });

    test(`${on}: req.ip, req.protocol and req.hostname describe the connection, and the proxy headers once trusted`, async (t) => {
      const app = express();
      app.get('/who', (req, res) => res.json({
        ip: req.ip, ips: req.ips, protocol: req.protocol, secure: req.secure, hostname: req.hostname,
        xhr: req.xhr, remote: req.socket.remoteAddress, sameAsConnection: req.connection === req.socket,
      }));
      const { url, port } = await serve(t, name, createServer, app);
      const r = await requestJson(`${url}/who`);
      assert.deepEqual(r.json, {
        ip: '127.0.0.1', ips: [], protocol: 'http', secure: false, hostname: '127.0.0.1',
        xhr: false, remote: '127.0.0.1', sameAsConnection: true,
      });
      app.set('trust proxy', 'loopback');
      const p = await requestJson(`${url}/who`, {
        headers: {
          'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com',
          'x-requested-with': 'XMLHttpRequest', host: `localhost:${port}`,
        },
      });
      assert.equal(p.json.ip, '203.0.113.7');
      assert.deepEqual(p.json.ips, ['203.0.113.7']);
      assert.equal(p.json.protocol, 'https');
      assert.equal(p.json.secure, true);
      assert.equal(p.json.hostname, 'example.com');
      assert.equal(p.json.xhr, true);
    });

    test(`${on}: a file piped into res with fs.createReadStream arrives whole`, async (t) => {
      const app = express();
      app.get('/pipe', (req, res) => {
        res.type('application/octet-stream');
        fs.createReadStream(files.bigPath).pipe(res);
      });
      const { url } = await serve(t, name, createServer, app);
      const r = await request(`${url}/pipe`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['transfer-encoding'], 'chunked');
      assert.ok(r.body.equals(files.big), `got ${r.body.length} bytes, want ${files.big.length}`);
    });

    test(`${on}: HEAD gets the GET route's status and Content-Length and no body bytes on the wire`, async (t) => {
      const app = express();
      app.get('/hello', (req, res) => res.send('hello world'));
      app.get('/file', (req, res) => res.sendFile(files.smallPath));
      const { port } = await serve(t, name, createServer, app);
      for (const [path, length] of [['/hello', 11], ['/file', files.small.length]]) {
        const c = await connect(port);
        c.write(`HEAD ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        await within(c.ended, `HEAD ${path} connection end`);
        const text = c.text();
        const headEnd = text.indexOf('\r\n\r\n');
        assert.ok(headEnd > 0, `a response head for ${path}: ${JSON.stringify(text)}`);
        assert.equal(text.length, headEnd + 4, `no bytes after the head for ${path}: ${JSON.stringify(text.slice(headEnd + 4, headEnd + 100))}`);
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.match(text, new RegExp(`\r\ncontent-length: ${length}\r\n`, 'i'));
      }
    });
  }
}
