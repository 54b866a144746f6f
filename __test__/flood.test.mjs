// HTTP/2 control-frame floods (issue 15): a client that sends PING or
// SETTINGS frames, each owed an acknowledgement, while it reads nothing,
// gets GOAWAY(ENHANCE_YOUR_CALM) and the connection closes, as nghttp2
// (Node) does, instead of being held open for as long as it likes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createServer } from '../index.mjs';
import { PREFACE, encodeFrame } from './h2wire.mjs';
import { listen, sleep } from './raw.mjs';

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

async function flood(port, frame) {
  const s = net.connect(port, '127.0.0.1');
  const closed = new Promise((resolve) => s.on('close', resolve));
  await once(s, 'connect');
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
    if (s.writableLength < (1 << 20)) s.write(batch);
    else {
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
  await Promise.race([closed, new Promise((resolve) => { timer = setTimeout(resolve, 10_000); })]);
  clearTimeout(timer);
  s.destroy();
  return frames(Buffer.concat(chunks));
}

for (const [name, frame] of [
  ['PING', encodeFrame(6, 0, 0, Buffer.alloc(8))],
  ['SETTINGS', encodeFrame(4, 0, 0)],
]) {
  test(`a client flooding ${name} frames while not reading gets GOAWAY(ENHANCE_YOUR_CALM) and the connection closes`, async (t) => {
    const server = createServer((req, res) => res.end('ok'));
    const port = await listen(server);
    t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
    const got = await flood(port, frame);
    const goaway = got.find((f) => f.type === 7);
    assert.ok(goaway, `no GOAWAY among ${got.length} frames`);
    assert.equal(goaway.payload.readUInt32BE(4), 11, 'ENHANCE_YOUR_CALM');
    assert.equal(server.connectionsInfo().http2Sessions, 0);
  });
}
