// The Express middleware most apps load, each with its real package, on
// Express 5 and Express 4 attached with `createServer(app)` (issue 11). Many of
// them hook node:http's internals: on-headers wraps res.writeHead (morgan,
// cookie-session, express-session, compression), express-session calls
// res._implicitHeader(), compression replaces res.write/res.end. Each check
// runs on lastcall and on node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import express5 from 'express';
import express4 from 'express4';
import multer from 'multer';
import compression from 'compression';
import cookieParser from 'cookie-parser';
import session from 'express-session';
import cookieSession from 'cookie-session';
import morgan from 'morgan';
import helmet from 'helmet';
import cors from 'cors';
import { impls, serve, request, requestJson, until, sha256 } from './helpers.mjs';

const expresses = [['Express 5', express5], ['Express 4', express4]];

/** The `name=value` pairs of a response's Set-Cookie headers, as one Cookie header. */
function cookieHeader(res) {
  return (res.headers['set-cookie'] || []).map((c) => c.split(';')[0]).join('; ');
}

for (const [ex, express] of expresses) {
  for (const [name, createServer] of impls) {
    const on = `${ex} on ${name}`;

    test(`${on}: multer receives a 2 MB multipart file upload whole, with the form's text fields`, async (t) => {
      const app = express();
      const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 4 << 20 } });
      app.post('/upload', upload.single('file'), (req, res) => {
        res.json({
          field: req.body.note, name: req.file.originalname, mime: req.file.mimetype,
          size: req.file.size, hash: sha256(req.file.buffer),
        });
      });
      const { url } = await serve(t, name, createServer, app);
      const file = crypto.randomBytes(2 << 20);
      const form = new FormData();
      form.append('note', 'hello multer');
      form.append('file', new Blob([file], { type: 'application/x-test' }), 'data.bin');
      // The multipart body as fetch would send it, sent by node:http's client.
      const encoded = new Response(form);
      const body = Buffer.from(await encoded.arrayBuffer());
      const r = await requestJson(`${url}/upload`, {
        method: 'POST', headers: { 'content-type': encoded.headers.get('content-type') }, body,
      });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, {
        field: 'hello multer', name: 'data.bin', mime: 'application/x-test', size: file.length, hash: sha256(file),
      });
    });

    test(`${on}: compression gzips a large body for a client that accepts gzip, and leaves it alone otherwise`, async (t) => {
      const app = express();
      app.use(compression());
      const text = 'lastcall compresses this line well. '.repeat(10_000);
      app.get('/big', (req, res) => res.type('text/plain').send(text));
      const { url } = await serve(t, name, createServer, app);
      const z = await request(`${url}/big`, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(z.status, 200);
      assert.equal(z.headers['content-encoding'], 'gzip');
      assert.match(z.headers.vary, /Accept-Encoding/i);
      assert.equal(z.headers['content-length'], undefined);
      assert.ok(z.body.length < text.length / 10, `gzip body of ${z.body.length} bytes`);
      assert.equal(zlib.gunzipSync(z.body).toString(), text);
      const plain = await request(`${url}/big`, { headers: { 'accept-encoding': 'identity' } });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.body.toString(), text);
    });

    test(`${on}: cookie-parser reads plain and signed cookies that res.cookie set`, async (t) => {
      const app = express();
      app.use(cookieParser('s3cret'));
      app.get('/set', (req, res) => {
        res.cookie('plain', 'one', { httpOnly: true, path: '/' });
        res.cookie('signed', 'two', { signed: true });
        res.cookie('gone', '', { expires: new Date(0) });
        res.send('set');
      });
      app.get('/read', (req, res) => res.json({ cookies: req.cookies, signed: req.signedCookies }));
      const { url } = await serve(t, name, createServer, app);
      const set = await request(`${url}/set`);
      const cookies = set.headers['set-cookie'];
      assert.equal(cookies.length, 3);
      assert.equal(cookies[0], 'plain=one; Path=/; HttpOnly');
      assert.match(cookies[1], /^signed=s%3Atwo\./);
      assert.match(cookies[2], /^gone=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      const read = await requestJson(`${url}/read`, { headers: { cookie: cookieHeader(set) } });
      assert.deepEqual(read.json.cookies, { plain: 'one', gone: '' });
      assert.deepEqual(read.json.signed, { signed: 'two' });
    });

    test(`${on}: express-session keeps a session across two requests carrying its cookie`, async (t) => {
      const app = express();
      app.use(session({ secret: 'k', resave: false, saveUninitialized: false, name: 'sid' }));
      app.get('/count', (req, res) => {
        req.session.n = (req.session.n || 0) + 1;
        res.json({ n: req.session.n, id: req.sessionID });
      });
      // An implicit head: res.end() without writeHead, which express-session
      // hooks through res._implicitHeader() and on-headers.
      app.get('/touch', (req, res) => {
        req.session.touched = true;
        res.statusCode = 202;
        res.end('touched');
      });
      const { url } = await serve(t, name, createServer, app);
      const first = await requestJson(`${url}/count`);
      assert.equal(first.json.n, 1);
      assert.match(first.headers['set-cookie']?.[0] ?? '', /^sid=s%3A/);
      const cookie = cookieHeader(first);
      const second = await requestJson(`${url}/count`, { headers: { cookie } });
      assert.equal(second.json.n, 2);
      assert.equal(second.json.id, first.json.id);
      const third = await requestJson(`${url}/count`, { headers: { cookie } });
      assert.equal(third.json.n, 3);
      const touched = await request(`${url}/touch`);
      assert.equal(touched.status, 202);
      assert.equal(touched.body.toString(), 'touched');
      assert.match(touched.headers['set-cookie']?.[0] ?? '', /^sid=s%3A/, 'Set-Cookie on an implicit head');
    });

    test(`${on}: cookie-session sets its cookie and signature, and reads them back`, async (t) => {
      const app = express();
      app.use(cookieSession({ name: 'sess', keys: ['key1'] }));
      app.get('/login', (req, res) => {
        req.session.user = 'ada';
        res.end('in');
      });
      app.get('/me', (req, res) => res.json({ user: req.session.user ?? null }));
      const { url } = await serve(t, name, createServer, app);
      const login = await request(`${url}/login`);
      const names = (login.headers['set-cookie'] || []).map((c) => c.split('=')[0]);
      assert.deepEqual(names, ['sess', 'sess.sig']);
      const me = await requestJson(`${url}/me`, { headers: { cookie: cookieHeader(login) } });
      assert.deepEqual(me.json, { user: 'ada' });
      const anon = await requestJson(`${url}/me`);
      assert.deepEqual(anon.json, { user: null });
    });

    test(`${on}: morgan logs method, url, status and a numeric response time for explicit and implicit heads`, async (t) => {
      const app = express();
      const lines = [];
      app.use(morgan(':method :url :status :res[content-length] :response-time ms', {
        stream: { write: (line) => lines.push(line.trim()) },
      }));
      app.get('/send', (req, res) => res.send('sent'));
      app.get('/end', (req, res) => {
        res.statusCode = 203;
        res.end('ended');
      });
      app.get('/head', (req, res) => {
        res.writeHead(204);
        res.end();
      });
      const { url } = await serve(t, name, createServer, app);
      for (const p of ['/send', '/end', '/head']) await request(`${url}${p}`);
      await until(() => lines.length === 3, 'three morgan log lines');
      const time = '\\d+\\.\\d{3} ms';
      assert.match(lines[0], new RegExp(`^GET /send 200 4 ${time}$`));
      assert.match(lines[1], new RegExp(`^GET /end 203 - ${time}$`));
      assert.match(lines[2], new RegExp(`^GET /head 204 - ${time}$`));
    });

    test(`${on}: helmet sets its security headers and removes X-Powered-By`, async (t) => {
      const app = express();
      app.use(helmet());
      app.get('/', (req, res) => res.send('safe'));
      const { url } = await serve(t, name, createServer, app);
      const r = await request(`${url}/`);
      assert.equal(r.status, 200);
      assert.match(r.headers['content-security-policy'], /default-src 'self'/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['x-frame-options'], 'SAMEORIGIN');
      assert.match(r.headers['strict-transport-security'], /max-age=\d+/);
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      assert.equal(r.headers['x-powered-by'], undefined);
    });

    test(`${on}: cors answers a preflight OPTIONS with 204 and Access-Control-Allow-*, and marks the actual response`, async (t) => {
      const app = express();
      app.use(cors({ origin: 'http://example.com', credentials: true, methods: ['GET', 'PUT'] }));
      app.put('/api', (req, res) => res.json({ ok: true }));
      const { url } = await serve(t, name, createServer, app);
      const pre = await request(`${url}/api`, {
        method: 'OPTIONS',
        headers: { origin: 'http://example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-custom' },
      });
      assert.equal(pre.status, 204);
      // cors sets Content-Length: 0, which node:http sends; RFC 9110 §8.6 says a
      // 204 MUST NOT carry one, and lastcall leaves it out. Either way, no body.
      assert.ok([undefined, '0'].includes(pre.headers['content-length']), `Content-Length ${pre.headers['content-length']}`);
      assert.equal(pre.headers['access-control-allow-origin'], 'http://example.com');
      assert.equal(pre.headers['access-control-allow-methods'], 'GET,PUT');
      assert.equal(pre.headers['access-control-allow-headers'], 'x-custom');
      assert.equal(pre.headers['access-control-allow-credentials'], 'true');
      assert.equal(pre.body.length, 0);
      const put = await requestJson(`${url}/api`, { method: 'PUT', headers: { origin: 'http://example.com' } });
      assert.deepEqual(put.json, { ok: true });
      assert.equal(put.headers['access-control-allow-origin'], 'http://example.com');
      assert.match(put.headers.vary, /Origin/);
    });
  }
}
