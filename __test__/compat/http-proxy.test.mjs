// http-proxy in front of a node:http backend (issue 11): the proxy server is
// lastcall or node:http (the control); proxy.web() forwards requests with
// their bodies, and proxy.ws() forwards WebSocket upgrades from the
// 'upgrade' event's (req, socket, head).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import httpProxy from 'http-proxy';
import { WebSocketServer, WebSocket } from 'ws';
import { impls, serve, requestJson, request, within } from './helpers.mjs';

/** A node:http backend echoing each request as JSON, with a `ws` echo server on it. */
async function backend(t) {
  const b = await serve(t, 'node:http', http.createServer, async (req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': 'yes' });
      for (let i = 0; i < 50; i++) res.write(`chunk ${i}\n`);
      res.end();
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    res.writeHead(201, { 'content-type': 'application/json', 'x-backend': 'yes' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
  });
  const wss = new WebSocketServer({ server: b.server });
  wss.on('connection', (ws, req) => {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${req.url} echo: ${data}`, { binary: isBinary }));
  });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  return b;
}

for (const [name, createServer] of impls) {
  test(`http-proxy on ${name}: proxy.web forwards method, path, body and X-Forwarded-* to the backend and streams its answer back`, async (t) => {
    const target = await backend(t);
    const proxy = httpProxy.createProxyServer({ target: target.url, xfwd: true });
    t.after(() => proxy.close());
    const errors = [];
    proxy.on('error', (err, req, res) => {
      errors.push(err.message);
      res.statusCode = 502;
      res.end();
    });
    const { url, port } = await serve(t, name, createServer, (req, res) => proxy.web(req, res));
    const body = 'p'.repeat(200_000);
    const r = await requestJson(`${url}/api/items?x=1`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'x-client': 'c1' }, body,
    });
    assert.deepEqual(errors, []);
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-backend'], 'yes');
    assert.equal(r.json.method, 'POST');
    assert.equal(r.json.url, '/api/items?x=1');
    assert.equal(r.json.body, body);
    assert.equal(r.json.headers['x-client'], 'c1');
    assert.equal(r.json.headers.host, `127.0.0.1:${port}`);
    assert.equal(r.json.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(r.json.headers['x-forwarded-proto'], 'http');
    assert.equal(r.json.headers['x-forwarded-port'], String(port));
    const s = await request(`${url}/stream`);
    assert.equal(s.status, 200);
    assert.equal(s.body.toString(), Array.from({ length: 50 }, (_, i) => `chunk ${i}\n`).join(''));
  });

  test(`http-proxy on ${name}: proxy.ws forwards a WebSocket upgrade; text and binary messages echo through the proxy`, async (t) => {
    const target = await backend(t);
    const proxy = httpProxy.createProxyServer({ target: target.url, ws: true });
    t.after(() => proxy.close());
    const errors = [];
    proxy.on('error', (err) => errors.push(err.message));
    const { server, port } = await serve(t, name, createServer, (req, res) => res.end('no'));
    server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/room/1`);
    t.after(() => ws.terminate());
    await within(once(ws, 'open'), 'the proxied WebSocket open');
    const next = () => within(once(ws, 'message'), 'an echo through the proxy');
    ws.send('hello');
    const [text, textIsBinary] = await next();
    assert.equal(textIsBinary, false);
    assert.equal(text.toString(), '/room/1 echo: hello');
    const bytes = Buffer.alloc(70_000, 5);
    ws.send(bytes);
    const [bin, binIsBinary] = await next();
    assert.equal(binIsBinary, true);
    assert.ok(Buffer.from(bin).equals(bytes));
    ws.close(1000, 'done');
    const [code] = await within(once(ws, 'close'), 'the WebSocket close handshake');
    assert.equal(code, 1000);
    assert.deepEqual(errors, []);
  });
}
