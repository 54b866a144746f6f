// Bad input on a TLS port (issue 13): plain HTTP, a garbage ClientHello, a
// client that stops mid-handshake. Each is answered or closed cleanly,
// 'tlsClientError' is emitted, and the server keeps serving.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { once } from 'node:events';
import { createSecureServer } from '../index.mjs';
import { makeCerts, rawTls } from './tlshelpers.mjs';
import { listen, closed, connect, get, sleep } from './raw.mjs';

const certs = makeCerts();

async function secure(t) {
  const server = createSecureServer(certs.server, (req, res) => res.end('still serving'));
  const port = await listen(server);
  const errors = [];
  server.on('tlsClientError', (err, socket) => errors.push({ code: err.code, message: err.message, remote: socket.remoteAddress }));
  t.after(() => closed(server));
  return { server, port, errors };
}

function stillServes(port) {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', servername: 'localhost', port, ca: certs.ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function waitFor(pred, ms = 3000) {
  for (let t0 = Date.now(); !pred(); await sleep(5)) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
  }
}

test('plain HTTP sent to the TLS port is answered 400 "The plain HTTP request was sent to HTTPS port" and closed with EOF', async (t) => {
  const { port, errors } = await secure(t);
  const c = await connect(port);
  c.write(get('/'));
  const end = await c.ended;
  assert.equal(end.how, 'eof');
  assert.match(c.text(), /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(c.text(), /connection: close/i);
  assert.match(c.text(), /The plain HTTP request was sent to HTTPS port\n$/);
  await waitFor(() => errors.length === 1);
  assert.equal(errors[0].code, 'ERR_SSL_HTTP_REQUEST');
  assert.equal(await stillServes(port), 'still serving');
});

test('a garbage ClientHello is closed cleanly (EOF, not a reset); tlsClientError', async (t) => {
  const { port, errors } = await secure(t);
  const c = await connect(port);
  c.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05]));
  const end = await c.ended;
  assert.equal(end.how, 'eof');
  const sent = c.bytes();
  assert.ok(sent.length === 0 || sent[0] === 21, 'nothing, or an alert record');
  await waitFor(() => errors.length === 1);
  assert.match(errors[0].code, /^ERR_SSL_/, JSON.stringify(errors[0]));
  assert.equal(errors[0].remote, '127.0.0.1');
  assert.equal(await stillServes(port), 'still serving');
});

test('bytes that are neither TLS nor HTTP get an alert and a clean close', async (t) => {
  const { port, errors } = await secure(t);
  const c = await connect(port);
  c.write(Buffer.from('\x00\x01garbage garbage garbage\r\n'));
  assert.equal((await c.ended).how, 'eof');
  await waitFor(() => errors.length === 1);
  assert.equal(errors[0].code, 'ERR_SSL_WRONG_VERSION_NUMBER');
  assert.equal(await stillServes(port), 'still serving');
});

test('a client that stops mid-handshake: tlsClientError ECONNRESET, nothing else disturbed', async (t) => {
  const { server, port, errors } = await secure(t);
  const c = await connect(port);
  c.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc]));
  await waitFor(() => server.connectionsInfo().handshaking === 1);
  c.socket.end();
  await c.ended;
  await waitFor(() => errors.length === 1);
  assert.equal(errors[0].code, 'ECONNRESET');
  await waitFor(() => server.connectionsInfo().handshaking === 0);
  assert.equal(await stillServes(port), 'still serving');
});

test('a client that never finishes its handshake is cut at handshakeTimeout with ERR_TLS_HANDSHAKE_TIMEOUT', async (t) => {
  const server = createSecureServer({ ...certs.server, handshakeTimeout: 200 }, (req, res) => res.end('ok'));
  const port = await listen(server);
  t.after(() => closed(server));
  const failed = once(server, 'tlsClientError');
  const c = await connect(port);
  c.write(Buffer.from([0x16, 0x03, 0x01]));
  const t0 = performance.now();
  const [err] = await failed;
  assert.equal(err.code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
  assert.ok(performance.now() - t0 < 1000);
  assert.equal((await c.ended).how, 'eof');
});

// The checks that read a request head as it arrives run on the decrypted
// bytes over TLS too: framing by both Content-Length and Transfer-Encoding
// (the shape of request smuggling) and bare-LF line endings get 400 and the
// connection closes, before the app sees them (DESIGN §7).
test('over TLS, a head framed both ways or ending lines in a bare LF gets 400 and the connection closes; the app never sees it', async (t) => {
  let reached = 0;
  const s = createSecureServer({ ...certs.server }, (req, res) => { reached++; res.end('ok'); });
  const port = await listen(s);
  t.after(() => closed(s));
  for (const raw of [
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'GET / HTTP/1.1\nHost: x\n\n',
  ]) {
    const c = await rawTls(port, { ca: certs.ca });
    c.socket.write(raw);
    await c.ended;
    assert.match(c.text(), /^HTTP\/1\.1 400 /, JSON.stringify(raw));
  }
  assert.equal(reached, 0);
});
