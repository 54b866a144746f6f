// supertest against a listening server (issue 11): `request(server)` reads
// server.address() and sends real requests. (`request(app)` builds its own
// node:http server, so it says nothing about lastcall.) Each check runs on
// lastcall and on node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import express from 'express';
import { impls, serve, within } from './helpers.mjs';

for (const [name, createServer] of impls) {
  test(`supertest request(server) on ${name}: expectations on status, headers and JSON bodies pass, and a wrong one fails`, async (t) => {
    const { server } = await serve(t, name, createServer, (req, res) => {
      if (req.method === 'POST') {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ echo: JSON.parse(Buffer.concat(chunks)) }));
        });
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-impl', 'any');
      res.end(JSON.stringify({ path: req.url }));
    });
    await within(request(server).get('/a?b=c').expect(200).expect('x-impl', 'any').expect('content-type', /json/)
      .expect({ path: '/a?b=c' }), 'supertest GET');
    const post = await within(request(server).post('/items').send({ n: 1 }).expect(201), 'supertest POST');
    assert.deepEqual(post.body, { echo: { n: 1 } });
    await assert.rejects(within(request(server).get('/').expect(404), 'supertest wrong expectation'), /expected 404 "Not Found", got 200 "OK"/);
  });

  test(`supertest request(server) on ${name}: an Express app on the server answers supertest's requests`, async (t) => {
    const app = express();
    app.get('/user/:id', (req, res) => res.json({ id: req.params.id }));
    const { server } = await serve(t, name, createServer, app);
    const r = await within(request(server).get('/user/5').expect('content-type', /json/).expect(200), 'supertest GET');
    assert.deepEqual(r.body, { id: '5' });
  });
}
