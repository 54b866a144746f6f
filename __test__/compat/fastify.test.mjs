// Fastify with `serverFactory: (handler) => createServer(handler)` (issue 11):
// routes run on the given server, and `await fastify.close()` finishes through
// that server's own close(). Each check runs on lastcall and on node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import * as lastcall from '../../index.mjs';
import { impls, requestJson, connect, parseResponses, refused, within, closeServer } from './helpers.mjs';

for (const [name, createServer] of impls) {
  test(`Fastify on ${name} via serverFactory: routes with params, JSON bodies and 404 are served by the given server`, async (t) => {
    let made;
    const fastify = Fastify({
      serverFactory: (handler) => {
        made = createServer(handler);
        return made;
      },
    });
    fastify.get('/hello/:who', async (req) => ({ hello: req.params.who, q: req.query.q }));
    fastify.post('/echo', async (req, reply) => {
      reply.code(201).header('x-echo', 'yes');
      return { got: req.body };
    });
    await within(fastify.listen({ port: 0, host: '127.0.0.1' }), 'fastify.listen');
    t.after(() => within(fastify.close(), 'fastify.close()'));
    assert.equal(fastify.server, made);
    if (name === 'lastcall') assert.ok(made instanceof lastcall.Server);
    const url = `http://127.0.0.1:${made.address().port}`;
    const r = await requestJson(`${url}/hello/world?q=1`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { hello: 'world', q: '1' });
    const p = await requestJson(`${url}/echo`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 'two'] }),
    });
    assert.equal(p.status, 201);
    assert.equal(p.headers['x-echo'], 'yes');
    assert.deepEqual(p.json, { got: { a: [1, 'two'] } });
    const missing = await requestJson(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.message, 'Route GET:/nope not found');
  });

  test(`Fastify on ${name} via serverFactory: await fastify.close() finishes through the server's close(), ending an idle keep-alive connection`, async (t) => {
    let made;
    const fastify = Fastify({
      serverFactory: (handler) => {
        made = createServer(handler);
        return made;
      },
    });
    fastify.get('/', async () => 'hi');
    await within(fastify.listen({ port: 0, host: '127.0.0.1' }), 'fastify.listen');
    const port = made.address().port;
    t.after(() => closeServer(name, made));
    let closeEvents = 0;
    made.on('close', () => { closeEvents++; });
    const c = await connect(port);
    t.after(() => c.destroy());
    c.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const [r] = parseResponses(await c.waitFor((s) => parseResponses(s).length === 1, 10_000, 'the response'));
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hi');
    await within(fastify.close(), 'fastify.close()');
    assert.equal(made.listening, false);
    assert.equal(closeEvents, 1);
    const end = await within(c.ended, 'the idle connection end');
    assert.equal(end.how, 'eof');
    assert.equal(await refused(port), true);
  });
}
