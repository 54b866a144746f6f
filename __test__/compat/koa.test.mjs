// Koa 3 with `createServer(app.callback())` (issue 11): @koa/router, the body
// parser and a stream body. Each check runs on lastcall and on node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { impls, serve, request, requestJson, fixtures } from './helpers.mjs';

const files = fixtures();

for (const [name, createServer] of impls) {
  test(`Koa on ${name}: @koa/router matches params and methods, sets status and headers, and 404s or 405s the rest`, async (t) => {
    const app = new Koa();
    const router = new Router();
    router.get('/users/:id', (ctx) => {
      ctx.set('x-user', ctx.params.id);
      ctx.body = { id: ctx.params.id, q: ctx.query.q, ip: ctx.ip, host: ctx.hostname, protocol: ctx.protocol };
    });
    router.delete('/users/:id', (ctx) => { ctx.status = 204; });
    app.use(router.routes()).use(router.allowedMethods());
    const { url } = await serve(t, name, createServer, app.callback());
    const r = await requestJson(`${url}/users/9?q=x`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-user'], '9');
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(r.json, { id: '9', q: 'x', ip: '127.0.0.1', host: '127.0.0.1', protocol: 'http' });
    const del = await request(`${url}/users/9`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(del.body.length, 0);
    const put = await request(`${url}/users/9`, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.match(put.headers.allow, /GET/);
    const missing = await request(`${url}/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), 'Not Found');
  });

  test(`Koa on ${name}: @koa/bodyparser parses JSON and form bodies`, async (t) => {
    const app = new Koa();
    app.use(bodyParser());
    app.use((ctx) => { ctx.body = { body: ctx.request.body }; });
    const { url } = await serve(t, name, createServer, app.callback());
    const payload = { a: [1, 2], b: 'x'.repeat(100_000) };
    const j = await requestJson(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    assert.equal(j.status, 200);
    assert.deepEqual(j.json.body, payload);
    const f = await requestJson(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1&y=z' });
    assert.deepEqual(f.json.body, { x: '1', y: 'z' });
  });

  test(`Koa on ${name}: a stream body is piped out whole, and an error thrown in middleware is Koa's 500`, async (t) => {
    const app = new Koa();
    app.silent = true;
    app.use((ctx) => {
      if (ctx.path === '/boom') throw new Error('boom');
      ctx.type = 'application/octet-stream';
      ctx.body = fs.createReadStream(files.bigPath);
    });
    const { url } = await serve(t, name, createServer, app.callback());
    const r = await request(`${url}/file`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.ok(r.body.equals(files.big), `got ${r.body.length} bytes, want ${files.big.length}`);
    const boom = await request(`${url}/boom`);
    assert.equal(boom.status, 500);
    assert.equal(boom.body.toString(), 'Internal Server Error');
  });
}
