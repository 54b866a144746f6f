// Hono through @hono/node-server's `serve({ fetch, createServer, port })`
// (issue 11): the adaptor turns req into a fetch Request and writes the
// Response back to res. Each check runs on lastcall and on node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import * as lastcall from '../../index.mjs';
import { impls, request, requestJson, within, closeServer } from './helpers.mjs';

for (const [name, createServer] of impls) {
  test(`Hono on ${name} via @hono/node-server serve({ createServer }): routes, JSON in and out, a streamed body, 404`, async (t) => {
    const app = new Hono();
    app.get('/hello/:who', (c) => c.json({ hello: c.req.param('who'), q: c.req.query('q') }));
    app.post('/echo', async (c) => c.json({ got: await c.req.json(), type: c.req.header('content-type') }, 201));
    app.get('/stream', () => new Response(new ReadableStream({
      start(controller) {
        for (let i = 0; i < 100; i++) controller.enqueue(new TextEncoder().encode(`line ${i}\n`));
        controller.close();
      },
    }), { headers: { 'content-type': 'text/plain' } }));
    const info = await within(new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, createServer, port: 0, hostname: '127.0.0.1' }, (addr) => resolve({ server, addr }));
      t.after(() => closeServer(name, server));
    }), 'serve() listening');
    if (name === 'lastcall') assert.ok(info.server instanceof lastcall.Server);
    const url = `http://127.0.0.1:${info.addr.port}`;
    const r = await requestJson(`${url}/hello/hono?q=2`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(r.json, { hello: 'hono', q: '2' });
    const p = await requestJson(`${url}/echo`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 1 }),
    });
    assert.equal(p.status, 201);
    assert.deepEqual(p.json, { got: { n: 1 }, type: 'application/json' });
    const s = await request(`${url}/stream`);
    assert.equal(s.status, 200);
    assert.equal(s.body.toString(), Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
    const missing = await request(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), '404 Not Found');
  });
}
