// Bad input of every kind at once (DESIGN §7): thousands of connections
// sending mutated HTTP/1.1 requests (pipelined, chunked, upgrades) and
// HTTP/2 frames with random types, flags, stream ids and payloads, written
// whole or a few bytes at a time, then ended, reset or held open. The server
// must keep serving, count nothing that is gone, and close() must finish
// without its deadline. Seeded, so a failure can be replayed (FUZZ_SEED).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { createServer } from '../index.mjs';
import { request, dropClients } from './helpers.mjs';
import { listen, closed, sleep } from './raw.mjs';

const SEED = Number(process.env.FUZZ_SEED) || 20261201;
const CONNECTIONS = Number(process.env.FUZZ_CONNECTIONS) || 6000;
const PARALLEL = 16;

// mulberry32: a small seeded PRNG.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = [
  'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'));
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function makeInput(rand) {
  const int = (n) => Math.floor(rand() * n);
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
  if (rand() < 0.4) {
    // HTTP/2: the preface, SETTINGS, then frames of any kind; some HEADERS
    // carry a valid request block (GET http://x/ in HPACK static entries).
    const parts = [PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])];
    for (let i = int(20) + 1; i > 0; i--) {
      const type = int(11);
      const ids = [0, 1, 3, 5, int(2 ** 31)];
      const sid = ids[int(ids.length)];
      let payload = bytes([0, 1, 4, 8, 9, int(100)][int(6)]);
      if (type === 1 && rand() < 0.5) payload = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x41, 0x01, 0x78]), payload.subarray(0, 3)]);
      const head = Buffer.alloc(9);
      head.writeUIntBE(payload.length, 0, 3);
      head[3] = type;
      head[4] = int(256);
      head.writeUInt32BE(sid, 5);
      parts.push(head, payload);
    }
    return Buffer.concat(parts);
  }
  // HTTP/1.1: a request with bytes flipped, inserted, cut, or other whole
  // requests spliced in; sometimes repeated (pipelined).
  let b = Buffer.from(BASE[int(BASE.length)]);
  for (let i = int(8) + 1; i > 0; i--) {
    const at = int(b.length + 1);
    const op = rand();
    if (op < 0.3 && b.length > 0) b[Math.min(at, b.length - 1)] = int(256);
    else if (op < 0.5) b = Buffer.concat([b.subarray(0, at), bytes(int(20) + 1), b.subarray(at)]);
    else if (op < 0.7) b = Buffer.concat([b.subarray(0, at), b.subarray(at + int(10) + 1)]);
    else b = Buffer.concat([b.subarray(0, at), BASE[int(BASE.length)], b.subarray(at)]);
  }
  return Buffer.concat(Array.from({ length: int(3) + 1 }, () => b));
}

// One connection: write the input, maybe read a little, then end it one of
// three ways or keep it open until the storm is over.
function hit(port, rand, held) {
  return new Promise((resolve) => {
    const input = makeInput(rand);
    const split = rand() < 0.3;
    const wait = rand() < 0.5 ? Math.floor(rand() * 20) : 0;
    const how = rand();
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', resolve);
    s.once('connect', async () => {
      if (split) {
        for (let i = 0; i < input.length && !s.destroyed; i += 7) {
          s.write(input.subarray(i, i + 7));
          if (i % 70 === 0) await sleep(0);
        }
      } else {
        s.write(input);
      }
      if (wait) await sleep(wait);
      if (how < 0.1) {
        held.push(s);
        resolve();
      } else if (how < 0.4) {
        s.resetAndDestroy();
      } else if (how < 0.7) {
        s.end();
        s.resume();
      } else {
        s.destroy();
      }
    });
  });
}

test(`a storm of malformed HTTP/1.1 and HTTP/2 input leaves the server serving, nothing counted that is gone, and close() finishing (seed ${SEED})`, async () => {
  const server = createServer({ headersTimeout: 1000, requestTimeout: 2000, shutdownTimeout: 8000 }, (req, res) => {
    if (req.method === 'POST') {
      req.pipe(res);
      return;
    }
    res.end('ok');
  });
  let forced = null;
  server.on('closeTimeout', (snapshot) => { forced = snapshot; });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (m) => ws.send(m));
  });
  const port = await listen(server);
  const rand = prng(SEED);
  const held = [];
  let started = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (started < CONNECTIONS) {
      started++;
      await hit(port, rand, held);
    }
  }));

  // Still serving, on both protocols.
  for (const proto of ['h1', 'h2']) {
    const r = await request(proto, port, { method: 'POST', body: 'still here' });
    assert.equal(r.status, 200, proto);
    assert.equal(r.body.toString(), 'still here', proto);
  }
  dropClients(port);

  // Once every client is gone, nothing may stay counted.
  for (const s of held) s.destroy();
  const deadline = performance.now() + 5000;
  const busy = () => {
    const i = server.connectionsInfo();
    return i.idle + i.active + i.http2Sessions + i.http2Streams + i.upgraded;
  };
  while (busy() > 0 && performance.now() < deadline) await sleep(20);
  const left = server.connectionsInfo();
  await closed(server);
  assert.deepEqual(left, { idle: 0, active: 0, http2Sessions: 0, http2Streams: 0, upgraded: 0, handshaking: 0, closing: false });
  assert.equal(forced, null, 'close() had to be forced');
});
