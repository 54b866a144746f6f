// close() over TLS keeps the contract of DESIGN §5 (C3–C6, C9): GOAWAY and
// Connection: close travel inside TLS, a close_notify goes before the FIN,
// a handshake in progress does not hold close() for handshakeTimeout.
//
// The raw client speaks TLS 1.2 where the test looks at the last record:
// TLS 1.2 sends the close_notify as an alert record (type 21), TLS 1.3 hides
// every record type behind application data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { createSecureServer } from '../index.mjs';
import { H2Wire } from './h2wire.mjs';
import { makeCerts, rawTls, recordTypes } from './tlshelpers.mjs';
import { listen, closed, sleep, get } from './raw.mjs';

const certs = makeCerts();
const ALERT = 21;
const MAX_ID = 2 ** 31 - 1;

function server(options, handler) {
  return createSecureServer({ ...certs.server, ...options }, handler);
}

const lastRecord = (c) => recordTypes(c.raw()).at(-1);

test('C3 over TLS: an idle keep-alive connection is closed at once, close_notify before the FIN, the client sees a clean end', async () => {
  const s = server({}, (req, res) => res.end('one'));
  const port = await listen(s);
  const c = await rawTls(port, { ca: certs.ca, maxVersion: 'TLSv1.2' });
  c.socket.write(get('/1'));
  await c.waitFor((t) => t.endsWith('one'));
  assert.doesNotMatch(c.text(), /connection: close/i);
  const t0 = performance.now();
  const at = await closed(s);
  const end = await c.ended;
  assert.equal(end.how, 'end');
  assert.equal(lastRecord(c), ALERT, 'the last record before the FIN is the close_notify alert');
  assert.ok(at - t0 < 600, `callback ${Math.round(at - t0)} ms after close()`);
});

test('C4 over TLS: a request in flight completes with Connection: close, then close_notify and FIN', async () => {
  let respond;
  const s = server({}, (req, res) => { respond = () => res.end('late'); });
  const port = await listen(s);
  const c = await rawTls(port, { ca: certs.ca, maxVersion: 'TLSv1.2' });
  c.socket.write(get('/slow'));
  while (!respond) await sleep(5);
  const cb = closed(s);
  await sleep(50);
  respond();
  const text = await c.waitFor((t) => t.endsWith('late'));
  assert.match(text, /connection: close/i);
  const end = await c.ended;
  assert.equal(end.how, 'end');
  assert.equal(lastRecord(c), ALERT);
  await cb;
});

async function h2overTls(port) {
  const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca, ALPNProtocols: ['h2'] });
  const c = new H2Wire(socket);
  await once(socket, 'secureConnect');
  assert.equal(socket.alpnProtocol, 'h2');
  c.writeRaw(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
  c.settings({});
  return c;
}

test('C5 over TLS: GOAWAY with a PING, the stream in flight is served to the end, then the final GOAWAY and the close', async () => {
  let respond;
  const s = server({}, (req, res) => { respond = () => res.end('streamed'); });
  const port = await listen(s);
  const c = await h2overTls(port);
  const id = c.request({ path: '/slow' });
  while (!respond) await sleep(5);
  const t0 = performance.now();
  const cb = closed(s);
  const first = await c.waitFor((f) => f.typeName === 'GOAWAY');
  assert.equal(first.lastStreamId, MAX_ID);
  respond();
  const res = await c.response(id);
  assert.equal(res.body.toString(), 'streamed');
  const last = await c.waitFor((f) => f.typeName === 'GOAWAY' && f.lastStreamId !== MAX_ID);
  assert.equal(last.lastStreamId, id);
  assert.equal((await c.closed).how, 'eof');
  const at = await cb;
  assert.ok(at - t0 < 1500, `callback ${Math.round(at - t0)} ms after close()`);
});

test('C5 over TLS: node:http2 sessions get GOAWAY and close() calls back promptly', async () => {
  const s = server({}, (req, res) => res.end('ok'));
  const port = await listen(s);
  const session = http2.connect(`https://localhost:${port}`, { ca: certs.ca });
  session.on('error', () => {});
  const stream = session.request({ ':path': '/' });
  stream.resume();
  await once(stream, 'end');
  const goaway = once(session, 'goaway');
  const t0 = performance.now();
  const at = await closed(s);
  await goaway;
  assert.ok(at - t0 < 1500, `callback ${Math.round(at - t0)} ms after close()`);
  session.destroy();
});

test('C9 over TLS: at the shutdownTimeout deadline a response in mid-body is reset, without a close_notify that would make it look complete', async () => {
  const s = server({ shutdownTimeout: 300 }, (req, res) => res.write('partial'));
  const port = await listen(s);
  const c = await rawTls(port, { ca: certs.ca, maxVersion: 'TLSv1.2' });
  c.socket.write(get('/stuck'));
  await c.waitFor((t) => t.includes('partial'));
  const timeout = once(s, 'closeTimeout');
  const t0 = performance.now();
  const at = await closed(s);
  await timeout;
  const end = await c.ended;
  assert.equal(end.how, 'reset');
  assert.notEqual(lastRecord(c), ALERT);
  assert.ok(at - t0 >= 290 && at - t0 < 900, `callback ${Math.round(at - t0)} ms after close()`);
});

test('a handshake stalled at close() holds the callback for a short bound, not handshakeTimeout; a silent connection not at all', async () => {
  const s = server({}, (req, res) => res.end());
  const port = await listen(s);
  const silent = net.connect(port, '127.0.0.1');
  const stalled = net.connect(port, '127.0.0.1');
  await Promise.all([once(silent, 'connect'), once(stalled, 'connect')]);
  silent.on('error', () => {});
  stalled.on('error', () => {});
  // The first bytes of a ClientHello, and then nothing.
  stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03]));
  for (let i = 0; i < 100 && s.connectionsInfo().handshaking < 1; i++) await sleep(5);
  assert.deepEqual([s.connectionsInfo().handshaking, s.connectionsInfo().idle], [1, 1], 'the silent one counts as idle');
  const silentEnd = once(silent, 'close');
  const t0 = performance.now();
  const at = await closed(s);
  await silentEnd;
  assert.ok(at - t0 >= 900 && at - t0 < 2500, `callback ${Math.round(at - t0)} ms after close() (bound 1 s)`);
  stalled.destroy();
});

test('a handshake in progress at close() that completes in time is served as closing: its request gets Connection: close', async () => {
  const s = server({}, (req, res) => res.end('served'));
  const port = await listen(s);
  // The client's second flight (its Finished) and its request are held
  // back until close() has started, then sent together.
  const tcp = net.connect(port, '127.0.0.1');
  await once(tcp, 'connect');
  const held = [];
  let writes = 0;
  let gated = false;
  const wire = new Duplex({
    read() {},
    write(chunk, enc, cb) {
      if (gated) held.push(chunk); else tcp.write(chunk);
      if (++writes === 1) gated = true;
      cb();
    },
  });
  tcp.on('data', (d) => wire.push(d));
  tcp.on('end', () => wire.push(null));
  tcp.on('error', () => {});
  const socket = tls.connect({ socket: wire, servername: 'localhost', ca: certs.ca });
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (d) => { text += d; });
  const ended = once(socket, 'end');
  await once(socket, 'secureConnect');
  socket.write(get('/'));
  await sleep(20);
  assert.equal(s.connectionsInfo().handshaking, 1);
  const cb = closed(s);
  await sleep(50);
  gated = false;
  tcp.write(Buffer.concat(held));
  await ended;
  assert.match(text, /^HTTP\/1\.1 200/);
  assert.match(text, /connection: close/i);
  assert.match(text, /served$/);
  await cb;
});

// closeAllConnections() drops hyper's side of an idle connection without
// hyper shutting the TLS stream down: the close_notify must come from the
// connection task itself (conn.rs, the farewell) before the FIN.
test('C10 over TLS: closeAllConnections() on an idle connection still sends close_notify before the FIN', async (t) => {
  const s = server({}, (req, res) => res.end('one'));
  const port = await listen(s);
  t.after(() => closed(s));
  const c = await rawTls(port, { ca: certs.ca, maxVersion: 'TLSv1.2' });
  c.socket.write(get('/1'));
  await c.waitFor((text) => text.endsWith('one'));
  s.closeAllConnections();
  const end = await c.ended;
  assert.equal(end.how, 'end');
  assert.equal(lastRecord(c), ALERT, 'the last record before the FIN is the close_notify alert');
});
