// HTTP/2 control-frame floods (issue 15): a client that sends PING or
// SETTINGS frames, each owed an acknowledgement, while it reads nothing,
// gets GOAWAY(ENHANCE_YOUR_CALM) and the connection closes, as nghttp2
// (Node) does, instead of being held open for as long as it likes. Over
// h2c and over TLS alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { createServer, createSecureServer } from '../index.mjs';
import { PREFACE, encodeFrame } from './h2wire.mjs';
import { listen, sleep } from './raw.mjs';
import { makeCerts } from './tlshelpers.mjs';

const certs = makeCerts();

/** The frames in `buf` as `{ type, flags, stream, payload }`. */
function frames(buf) {
  const out = [];
  for (let at = 0; at + 9 <= buf.length;) {
    const len = buf.readUIntBE(at, 3);
    if (at + 9 + len > buf.length) break;
    out.push({ type: buf[at + 3], flags: buf[at + 4], stream: buf.readUInt32BE(at + 5) & 0x7fffffff, payload: buf.subarray(at + 9, at + 9 + len) });
    at += 9 + len;
  }
  return out;
}

// A TLS client over a TCP socket through a Duplex, so that a paused TLS
// socket really stops reading from TCP (node:tls alone keeps draining the
// TCP socket into memory, and the server's writes never block).
async function tlsOverTcp(port) {
  const tcp = net.connect(port, '127.0.0.1');
  await once(tcp, 'connect');
  const duplex = new Duplex({
    read() { tcp.resume(); },
    write(chunk, enc, cb) { tcp.write(chunk, cb); },
    final(cb) { tcp.end(); cb(); },
    destroy(err, cb) { tcp.destroy(); cb(err); },
  });
  let ended = false;
  const end = () => { if (!ended) { ended = true; duplex.push(null); } };
  tcp.on('data', (d) => { if (!duplex.push(d)) tcp.pause(); });
  // A reset after the last bytes (the server stops reading a client that
  // floods it while it closes) ends the stream after them, as an EOF does.
  tcp.on('end', end);
  tcp.on('close', end);
  tcp.on('error', () => {});
  duplex.on('error', () => {});
  return tls.connect({ socket: duplex, ca: certs.ca, servername: 'localhost', ALPNProtocols: ['h2'] });
}

async function flood(port, frame, secure) {
  const s = secure ? await tlsOverTcp(port) : net.connect(port, '127.0.0.1');
  const closed = new Promise((resolve) => s.on('close', resolve));
  await once(s, secure ? 'secureConnect' : 'connect');
  if (secure) assert.equal(s.alpnProtocol, 'h2');
  s.pause();
  let failed = false;
  s.on('error', () => { failed = true; });
  s.write(Buffer.concat([PREFACE, encodeFrame(4, 0, 0)]));
  const batch = Buffer.concat(Array(1000).fill(frame));
  let last = -1;
  let still = 0;
  const t0 = performance.now();
  // Write until the server stops taking bytes (its socket, and ours, full).
  while (performance.now() - t0 < 20_000) {
    if (s.writableLength < (1 << 20)) {
      s.write(batch);
      // Let the socket (and over TLS, its TCP socket beneath) move bytes.
      await new Promise(setImmediate);
    } else {
      await sleep(20);
      still = s.writableLength === last ? still + 20 : 0;
      last = s.writableLength;
      if (still >= 200) break;
    }
    if (failed || s.destroyed) break;
  }
  // Now read what came back, to its end.
  const chunks = [];
  s.on('data', (d) => chunks.push(d));
  s.resume();
  let timer;
  const closedByServer = await Promise.race([closed.then(() => true), new Promise((resolve) => { timer = setTimeout(resolve, 10_000, false); })]);
  clearTimeout(timer);
  s.destroy();
  return { got: frames(Buffer.concat(chunks)), failed, closedByServer };
}

for (const [name, frame, secure] of [
  ['PING', encodeFrame(6, 0, 0, Buffer.alloc(8))],
  ['SETTINGS', encodeFrame(4, 0, 0)],
  ['PING', encodeFrame(6, 0, 0, Buffer.alloc(8)), true],
  ['SETTINGS', encodeFrame(4, 0, 0), true],
]) {
  test(`a client flooding ${name} frames${secure ? ' over TLS' : ''} while not reading gets GOAWAY(ENHANCE_YOUR_CALM) and the connection closes`, async (t) => {
    const handler = (req, res) => res.end('ok');
    const server = secure ? createSecureServer(certs.server, handler) : createServer(handler);
    const port = await listen(server);
    t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
    const { got, failed, closedByServer } = await flood(port, frame, secure);
    assert.ok(closedByServer, 'the server closed the connection');
    const goaway = got.find((f) => f.type === 7);
    // Over TLS the client's TCP socket sits below a Duplex: when the server,
    // closing, stops reading a client that still floods it (DESIGN C6 drains
    // such a client only so far) and resets, that socket's failed write
    // destroys it, and the server's last bytes (the GOAWAY among them) can
    // be lost before TLS reads them. The close itself is what must hold.
    if (!(secure && failed)) assert.ok(goaway, `no GOAWAY among ${got.length} frames`);
    if (goaway) assert.equal(goaway.payload.readUInt32BE(4), 11, 'ENHANCE_YOUR_CALM');
    assert.equal(server.connectionsInfo().http2Sessions, 0);
  });
}
