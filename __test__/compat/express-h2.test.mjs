// Express on HTTP/2 (h2c, issue 11): lastcall serves h2c on the same port with
// the same `createServer(app)`, and its req/res keep working after Express's
// prototype swap, so an Express app answers HTTP/2 clients unchanged.
// node:http2 cannot run Express at all, so its control is skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import express5 from 'express';
import express4 from 'express4';
import * as lastcall from '../../index.mjs';
import { closeServer, listen, within } from './helpers.mjs';

const NODE_HTTP2_CANNOT = 'node:http2 cannot run Express: Express swaps the prototypes of its '
  + 'Http2ServerRequest/Http2ServerResponse for ones derived from http.IncomingMessage/ServerResponse, '
  + 'whose methods then throw on the HTTP/2 objects (IncomingMessage._read reads an undefined '
  + '_readableState.readable; OutgoingMessage.removeHeader finds no headers)';

/** One request on an h2c session; resolves `{ status, headers, body: Buffer }`. */
function h2request(session, headers, body) {
  return within(new Promise((resolve, reject) => {
    const stream = session.request(headers);
    const chunks = [];
    let head;
    stream.on('response', (h) => { head = h; });
    stream.on('data', (d) => chunks.push(d));
    stream.on('end', () => resolve({ status: head[':status'], headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end(body);
  }), `h2 ${headers[':method'] ?? 'GET'} ${headers[':path']}`);
}

for (const [ex, express] of [['Express 5', express5], ['Express 4', express4]]) {
  for (const name of ['lastcall', 'node:http2']) {
    test(`${ex} on ${name} over h2c: a GET route with params answers with res.json, a POST with express.json, and an unknown path 404`, async (t) => {
      if (name === 'node:http2') {
        t.skip(NODE_HTTP2_CANNOT);
        return;
      }
      const app = express();
      app.use(express.json());
      app.get('/items/:id', (req, res) => res.status(200).json({
        id: req.params.id, q: req.query.q, version: req.httpVersion, authority: req.headers[':authority'],
      }));
      app.post('/echo', (req, res) => res.status(201).json(req.body));
      const server = lastcall.createServer(app);
      const port = await listen(server);
      t.after(() => closeServer(name, server));
      const session = http2.connect(`http://127.0.0.1:${port}`);
      t.after(() => session.destroy());
      session.on('error', () => {});

      const get = await h2request(session, { ':path': '/items/7?q=x' });
      assert.equal(get.status, 200);
      assert.equal(get.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(Number(get.headers['content-length']), get.body.length);
      assert.deepEqual(JSON.parse(get.body), { id: '7', q: 'x', version: '2.0', authority: `127.0.0.1:${port}` });

      // With Content-Length, as browsers send it: body-parser (type-is's
      // hasBody) skips a body that has neither Content-Length nor
      // Transfer-Encoding, and HTTP/2 has no Transfer-Encoding.
      const payload = { list: [1, 2, 3], s: 'é'.repeat(1000) };
      const json = Buffer.from(JSON.stringify(payload));
      const post = await h2request(session, {
        ':method': 'POST', ':path': '/echo', 'content-type': 'application/json', 'content-length': json.length,
      }, json);
      assert.equal(post.status, 201);
      assert.deepEqual(JSON.parse(post.body), payload);

      const missing = await h2request(session, { ':path': '/nope' });
      assert.equal(missing.status, 404);
      assert.match(missing.body.toString(), /Cannot GET \/nope/);
    });
  }
}
