// Strict HTTP/1.1, as Node is strict (DESIGN §7, issue 15): requests that
// hyper would let through but node:http refuses get 400 and the connection
// closes; a stalled head gets 408. Run with LASTCALL_IMPL=node to check
// each test describes node:http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, impl } from './helpers.mjs';
import { connect } from './raw.mjs';

/** Sends `raw` on a new connection; resolves with what came back by EOF. */
async function exchange(port, raw) {
  const c = await connect(port);
  c.write(raw);
  const end = await c.ended;
  return { text: c.text(), end };
}

// Node checks headersTimeout every connectionsCheckingInterval (30 s by
// default); lastcall has no such interval and ignores the option.
const quick = { connectionsCheckingInterval: 50 };

test('Content-Length together with Transfer-Encoding gets 400 and the connection closes; the handler never runs', async (t) => {
  let handled = 0;
  const { port } = await serve(t, (req, res) => { handled++; req.resume(); res.end('served'); }, quick);
  for (const head of [
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
  ]) {
    const { text, end } = await exchange(port, `${head}3\r\nabc\r\n0\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 400 /, JSON.stringify(head));
    assert.doesNotMatch(text, /served/);
    assert.notEqual(end.how, 'error');
  }
  assert.equal(handled, 0);
});

test('a request head whose lines end in a bare LF gets 400 and the connection closes', async (t) => {
  let handled = 0;
  const { port } = await serve(t, (req, res) => { handled++; res.end('served'); }, quick);
  for (const raw of [
    'GET / HTTP/1.1\nHost: x\n\n',
    'GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n',
  ]) {
    const { text } = await exchange(port, raw);
    assert.match(text, /^HTTP\/1\.1 400 /, JSON.stringify(raw));
  }
  assert.equal(handled, 0);
});

test('a broken chunked body gets 400 when no response has started, and req hears aborted or error', async (t) => {
  const bodies = {
    'bad size': 'zz\r\nabc\r\n0\r\n\r\n',
    'bare LF in the size line': '3\nabc\r\n0\r\n\r\n',
    overflow: 'fffffffffffffffffff\r\nabc\r\n0\r\n\r\n',
    'data longer than its size': '3\r\nabcdef\r\n0\r\n\r\n',
  };
  const seen = new Map();
  const { port } = await serve(t, (req) => {
    const events = [];
    seen.set(req.url, events);
    req.on('aborted', () => events.push('aborted'));
    req.on('error', () => events.push('error'));
    req.on('data', () => {});
    req.on('end', () => events.push('end'));
  }, quick);
  for (const [name, body] of Object.entries(bodies)) {
    const path = `/${encodeURIComponent(name)}`;
    const { text } = await exchange(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    assert.match(text, /^HTTP\/1\.1 400 /, name);
    for (let i = 0; i < 100 && !(seen.get(path)?.length > 0); i++) await new Promise((r) => setTimeout(r, 10));
    const events = seen.get(path) ?? [];
    assert.ok(events.includes('aborted') || events.includes('error'), `${name}: ${events}`);
    assert.ok(!events.includes('end'), `${name}: ${events}`);
  }
});

test('a broken chunked body after the response started: req hears aborted or error, the connection closes', async (t) => {
  let events;
  const { port } = await serve(t, (req, res) => {
    events = [];
    res.writeHead(200);
    res.write('started');
    req.on('aborted', () => events.push('aborted'));
    req.on('error', () => events.push('error'));
    req.on('data', () => {});
  }, quick);
  const c = await connect(port);
  c.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  await c.waitFor((s) => s.includes('started'));
  c.write('zz\r\n');
  await c.ended;
  for (let i = 0; i < 100 && !(events?.length > 0); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(events.includes('aborted') || events.includes('error'), String(events));
  assert.doesNotMatch(c.text(), /400/);
});

test('headersTimeout answers 408 Request Timeout, then the connection closes', async (t) => {
  let handled = 0;
  const { port } = await serve(t, (req, res) => { handled++; res.end(); }, { headersTimeout: 300, requestTimeout: 600, keepAliveTimeout: 0, ...quick });
  const { text, end } = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(text, /\r\nConnection: close\r\n/i);
  assert.notEqual(end.how, 'error');
  assert.equal(handled, 0);
});

test('a well-formed chunked request and a Content-Length request on one keep-alive connection are served', { skip: impl === 'node' ? false : false }, async (t) => {
  const { port } = await serve(t, async (req, res) => {
    let n = 0;
    for await (const c of req) n += c.length;
    res.end(`${req.url}:${n}`);
  });
  const c = await connect(port);
  t.after(() => c.destroy());
  c.write('POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  await c.waitFor((s) => s.includes('/a:3'));
  // A body that looks like a head (bare LF, Content-Length) is a body.
  c.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\nx\ncontent-length: 1\n\n\n');
  await c.waitFor((s) => s.includes('/b:22'));
  c.write('POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n');
  await c.waitFor((s) => s.includes('/c:1'));
});
