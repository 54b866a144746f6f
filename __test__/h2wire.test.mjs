// Tests for the frame-level HTTP/2 test client (h2wire.mjs), against
// node:http2's h2c server (nghttp2 underneath) and RFC 7541's examples.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { H2Wire, HpackDecoder, huffmanDecode, huffmanEncode, encodeHeaders, PREFACE } from './h2wire.mjs';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const header = (res, name) => res.headers.find(([n]) => n === name)?.[1];

/** An h2c node:http2 server on an ephemeral port, torn down after the test. */
async function h2c(t, onStream, options = {}) {
  const server = http2.createServer(options);
  const sessions = new Set();
  const sockets = [];
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('connection', (sock) => sockets.push(sock));
  if (onStream) server.on('stream', onStream);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, port: server.address().port, sessions, sockets };
}

// --- HPACK and Huffman, offline -------------------------------------------

test('HPACK: RFC 7541 C.5 and C.6 (responses, 256-octet table, eviction; plain and Huffman)', () => {
  const plain = [
    '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '4803 3330 37c1 c0bf',
    '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
  ];
  const huffman = [
    '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
    '4883 640e ffc1 c0bf',
    '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
  ];
  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
  const url = 'https://www.example.com';
  const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
  const want = [
    [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', url]],
    [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', url]],
    [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', url], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
  ];
  const tables = [
    [['location', url], ['date', date1], ['cache-control', 'private'], [':status', '302']],
    [[':status', '307'], ['location', url], ['date', date1], ['cache-control', 'private']],
    [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
  ];
  const sizes = [222, 222, 215];
  for (const blocks of [plain, huffman]) {
    const d = new HpackDecoder(256);
    blocks.forEach((b, i) => {
      assert.deepEqual(d.decode(hex(b)), want[i]);
      assert.deepEqual(d.table, tables[i]);
      assert.equal(d.size, sizes[i]);
    });
  }
});

test('HPACK: C.2 representations, C.4 Huffman requests, size updates, and malformed blocks', () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decodeFields(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')),
    [{ name: 'password', value: 'secret', rep: 'never', index: 0, huffman: false }]);
  assert.deepEqual(d.decodeFields(hex('040c 2f73 616d 706c 652f 7061 7468')),
    [{ name: ':path', value: '/sample/path', rep: 'without', index: 4, huffman: false }]);
  assert.equal(d.table.length, 0);

  const r = new HpackDecoder();
  assert.deepEqual(r.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  assert.deepEqual(r.decode(hex('8286 84be 5886 a8eb 1064 9cbf')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
  assert.deepEqual(r.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')),
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
  assert.equal(r.size, 164);

  // A size update to 0 empties the table; one larger than our limit, or one
  // after a field, is an error.
  r.decode(Buffer.from([0x20]));
  assert.deepEqual([r.table.length, r.size, r.sizeUpdates], [0, 0, [0]]);
  assert.throws(() => r.decode(Buffer.from([0x3f, 0xe2, 0x1f])), /exceeds/); // 5000 > 4096
  assert.throws(() => r.decode(Buffer.from([0x82, 0x20])), /after a header field/);
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0xbe])), /beyond the dynamic table/); // index 62, empty table
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x80])), /index 0/);
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x00, 0x05, 0x61])), /overruns/);
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x00, 0x7f])), /truncated/);

  // An entry larger than the whole table empties it and is not added (§4.4).
  const e = new HpackDecoder(64);
  e.decode(encodeLiteralIndexed('a', 'b'));
  assert.equal(e.table.length, 1);
  e.decode(encodeLiteralIndexed('big', 'x'.repeat(40)));
  assert.deepEqual([e.table.length, e.size], [0, 0]);

  // Our own encoder's output decodes, with names and values of 127+ octets.
  const fields = [['n'.repeat(130), 'v'.repeat(5000)], ['x-empty', ''], ['x-hi', '\u00e9\u00ff']];
  for (const huffman of [false, true]) assert.deepEqual(new HpackDecoder().decode(encodeHeaders(fields, { huffman })), fields);
});

function encodeLiteralIndexed(name, value) {
  // 0x40, new name; lengths here are < 127.
  return Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

test('Huffman: RFC examples, every octet round-trips, EOS and bad padding are rejected', () => {
  assert.equal(huffmanEncode('www.example.com').toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  assert.equal(huffmanEncode('no-cache').toString('hex'), 'a8eb10649cbf');
  assert.equal(huffmanEncode('Mon, 21 Oct 2013 20:13:21 GMT').toString('hex'), 'd07abe941054d444a8200595040b8166e082a62d1bff');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  for (let i = 0; i < 256; i++) assert.deepEqual(huffmanDecode(huffmanEncode(Buffer.from([i, i, 255 - i]))), Buffer.from([i, i, 255 - i]));
  assert.deepEqual(huffmanDecode(Buffer.alloc(0)), Buffer.alloc(0));
  assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff])), /EOS/);
  assert.throws(() => huffmanDecode(Buffer.from([0x18])), /not a prefix of EOS/); // 'a' then 000
  assert.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff])), /11 bits of padding/); // 'a' then 11 ones
});

// --- against node:http2 -----------------------------------------------------

test('GET: response headers decode, including Huffman-coded, long and high-octet values; 127+ octet request fields arrive intact', async (t) => {
  // nghttp2 Huffman-codes a string only when that is shorter, so the rare
  // octets (20-28 bit codes) ride along with many 'e's (5 bits).
  const hi = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x80 + i)).join('');
  const printable = `\t${Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('')}`;
  const rare = `${hi}${printable}${'e'.repeat(2000)}`;
  const { port } = await h2c(t, (stream, h) => {
    stream.respond({
      ':status': 200,
      'content-type': 'text/plain; charset=utf-8',
      'x-rare': rare,
      'x-long': 'abc'.repeat(200),
      'x-raw': '~|~|~|~|', // longer as Huffman: sent raw
      'x-got': `${h['n'.repeat(130)]?.length} ${h['x-value'].length}`,
      'set-cookie': ['a=1', 'b=2'],
    });
    stream.end('hello');
  });
  const c = await H2Wire.connect(port);
  const id = c.request({ path: '/hello', headers: { ['n'.repeat(130)]: 'v'.repeat(300), 'x-value': 'w'.repeat(5000) } });
  assert.equal(id, 1);
  const res = await c.response(id);
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello');
  assert.equal(res.endStream, true);
  assert.equal(res.rst, null);
  assert.equal(header(res, 'content-type'), 'text/plain; charset=utf-8');
  assert.equal(header(res, 'x-rare'), rare);
  assert.equal(header(res, 'x-long'), 'abc'.repeat(200));
  assert.equal(header(res, 'x-raw'), '~|~|~|~|');
  assert.equal(header(res, 'x-got'), '300 5000');
  assert.deepEqual(res.headers.filter(([n]) => n === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  assert.match(header(res, 'date'), /GMT$/);
  const fields = c.frames.find((f) => f.typeName === 'HEADERS').fields;
  const by = (n) => fields.find((f) => f.name === n);
  assert.equal(by('x-rare').huffman, true, 'the rare octets came Huffman-coded');
  assert.equal(by('x-long').huffman, true);
  assert.equal(by('x-raw').huffman, false);
  assert.equal(by(':status').rep, 'indexed');
  c.destroy();
  assert.equal((await c.closed).how, 'local');
});

test('HPACK state across responses: dynamic table hits; SETTINGS_HEADER_TABLE_SIZE 0 brings a size update', async (t) => {
  const { port } = await h2c(t, (stream) => {
    stream.respond({ ':status': 200, 'x-same': 'same value every time' });
    stream.end();
  });
  const c = await H2Wire.connect(port);
  const first = await c.response(c.request());
  const second = await c.response(c.request());
  assert.equal(header(first, 'x-same'), 'same value every time');
  assert.equal(header(second, 'x-same'), 'same value every time');
  const [h1, h2] = c.frames.filter((f) => f.typeName === 'HEADERS');
  assert.equal(h1.fields.find((f) => f.name === 'x-same').rep, 'incremental');
  const hit = h2.fields.find((f) => f.name === 'x-same');
  assert.equal(hit.rep, 'indexed');
  assert.ok(hit.index >= 62, `dynamic index ${hit.index}`);
  c.destroy();

  const z = await H2Wire.connect(port, { settings: { headerTableSize: 0 } });
  await z.waitFor((f) => f.typeName === 'SETTINGS' && f.ack);
  for (let i = 0; i < 2; i++) assert.equal(header(await z.response(z.request()), 'x-same'), 'same value every time');
  assert.deepEqual(z.decoder.sizeUpdates, [0]);
  assert.equal(z.decoder.table.length, 0);
  z.destroy();
});

test('CONTINUATION: header blocks larger than a frame, both ways', async (t) => {
  const big = 'x'.repeat(40000); // 35,000 octets as Huffman: HEADERS + 2 CONTINUATION
  const { port } = await h2c(t, (stream, h) => {
    stream.respond({ ':status': 200, 'x-big': big, 'x-got': String(h['x-req'].length) });
    stream.end();
  });
  const c = await H2Wire.connect(port);
  const res = await c.response(c.request({ headers: { 'x-req': 'r'.repeat(20000) } }));
  assert.equal(header(res, 'x-big'), big);
  assert.equal(header(res, 'x-got'), '20000');
  const types = c.frames.filter((f) => f.streamId === 1).map((f) => f.typeName);
  assert.deepEqual(types, ['HEADERS', 'CONTINUATION', 'CONTINUATION', 'DATA']);
  assert.equal(c.frames.find((f) => f.typeName === 'HEADERS').continuations, 2);
  c.destroy();
});

test('POST: bodies are echoed, via data() and via upload() beyond the 65,535-octet window', async (t) => {
  const { port } = await h2c(t, (stream) => {
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
  });
  const c = await H2Wire.connect(port);
  const small = c.request({ method: 'POST', path: '/echo', endStream: false });
  c.data(small, 'hello ');
  c.data(small, Buffer.from('world'), { endStream: true });
  assert.equal((await c.response(small)).body.toString(), 'hello world');

  const body = Buffer.alloc(300_000);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  const id = c.request({ method: 'POST', path: '/echo', endStream: false });
  await c.upload(id, body);
  const res = await c.response(id);
  assert.equal(res.status, 200);
  assert.ok(res.body.equals(body));
  assert.ok(c.frames.some((f) => f.typeName === 'WINDOW_UPDATE' && f.streamId === id), 'upload() waited for window');
  c.destroy();
});

test('flow control: a 1 MiB response flows with autoWindow; without it the server stalls at 65,535 octets until we grant more', async (t) => {
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
  const { port } = await h2c(t, (stream) => {
    stream.respond({ ':status': 200 });
    stream.end(big);
  });
  const c = await H2Wire.connect(port);
  const res = await c.response(c.request());
  assert.ok(res.body.equals(big));
  c.destroy();

  const s = await H2Wire.connect(port, { autoWindow: false });
  const id = s.request();
  await s.waitFor((f) => f.typeName === 'DATA');
  await sleep(100);
  const received = () => s.frames.filter((f) => f.typeName === 'DATA').reduce((n, f) => n + f.data.length, 0);
  assert.equal(received(), 65535);
  assert.ok(!s.frames.some((f) => f.endStream));
  s.windowUpdate(0, big.length);
  s.windowUpdate(id, big.length);
  const done = await s.response(id);
  assert.ok(done.body.equals(big));
  s.destroy();
});

test('PING: ours is ACKed with its opaque data; the server\'s is auto-ACKed, or held back with autoAckPing:false', async (t) => {
  const { port, sessions } = await h2c(t);
  const c = await H2Wire.connect(port);
  c.ping('abcdefgh');
  const ack = await c.waitFor((f) => f.typeName === 'PING' && f.ack);
  assert.equal(ack.opaque.toString(), 'abcdefgh');
  await c.waitFor((f) => f.typeName === 'SETTINGS' && f.ack);
  const [session] = sessions;
  const pinged = await new Promise((resolve) => session.ping(Buffer.from('12345678'), (err, ms, payload) => resolve({ err, payload })));
  assert.equal(pinged.err, null);
  assert.equal(pinged.payload.toString(), '12345678');
  c.destroy();

  const q = await H2Wire.connect(port, { autoAckPing: false });
  await q.waitFor((f) => f.typeName === 'SETTINGS' && f.ack);
  const quiet = [...sessions].find((s) => s !== session);
  let answered = false;
  const done = new Promise((resolve) => quiet.ping(Buffer.from('87654321'), (err) => { answered = true; resolve(err); }));
  const ping = await q.waitFor((f) => f.typeName === 'PING' && !f.ack);
  assert.equal(ping.opaque.toString(), '87654321');
  await sleep(50);
  assert.equal(answered, false, 'no ACK was sent');
  q.ping(ping.opaque, true);
  assert.equal(await done, null);
  q.destroy();
});

test('SETTINGS: the server\'s values are decoded and ACKed; autoAckSettings:false holds the ACK back', async (t) => {
  const { port, sessions } = await h2c(t, null, { settings: { maxConcurrentStreams: 7, initialWindowSize: 100000 } });
  const c = await H2Wire.connect(port, { autoAckSettings: false });
  const settings = await c.waitFor((f) => f.typeName === 'SETTINGS' && !f.ack);
  assert.equal(settings.values.maxConcurrentStreams, 7);
  assert.equal(settings.values.initialWindowSize, 100000);
  assert.equal(c.peerSettings.maxConcurrentStreams, 7);
  assert.equal(c.sendWindow(1), 100000);
  await c.waitFor((f) => f.typeName === 'SETTINGS' && f.ack); // the server ACKs ours
  const [session] = sessions;
  let acked = false;
  session.on('localSettings', () => { acked = true; });
  await sleep(50);
  assert.equal(acked, false);
  c.settingsAck();
  await once(session, 'localSettings');
  c.destroy();
});

test('GOAWAY from session.goaway(); a stream opened after it is ignored by node; our GOAWAY reaches the server', async (t) => {
  let release;
  const { port, sessions } = await h2c(t, (stream, h) => {
    if (h[':path'] === '/held') release = () => { stream.respond({ ':status': 200 }); stream.end('held'); };
    else { stream.respond({ ':status': 200 }); stream.end('late'); }
  });
  const c = await H2Wire.connect(port);
  const held = c.request({ path: '/held' });
  while (!release) await sleep(5);
  const [session] = sessions;
  session.goaway(NGHTTP2_ENHANCE_YOUR_CALM, held, Buffer.from('slow down'));
  const g = await c.waitFor((f) => f.typeName === 'GOAWAY');
  assert.deepEqual([g.lastStreamId, g.errorCode, g.errorName, g.debug], [1, 11, 'ENHANCE_YOUR_CALM', 'slow down']);
  const late = c.request(5, { path: '/late' });
  assert.equal(late, 5);
  assert.equal(c.nextStreamId, 7);
  release();
  assert.equal((await c.response(held)).body.toString(), 'held');
  await assert.rejects(c.response(late, 200), /timed out after 200 ms while waiting for the end of stream 5; frames: .*GOAWAY@0\(last 1, ENHANCE_YOUR_CALM\)/);
  c.destroy();

  const d = await H2Wire.connect(port);
  await d.waitFor((f) => f.typeName === 'SETTINGS' && f.ack);
  const other = [...sessions].find((s) => s !== session);
  const got = once(other, 'goaway');
  d.goaway(0, 0, 'client bye');
  const [code, lastStreamID, data] = await got;
  assert.deepEqual([code, lastStreamID, data.toString()], [0, 0, 'client bye']);
  d.destroy();
});

test('graceful close: server.close() + session.close() send GOAWAY(NO_ERROR); the in-flight stream completes; then EOF', async (t) => {
  let release;
  const { server, port, sessions } = await h2c(t, (stream) => {
    release = () => { stream.respond({ ':status': 200 }); stream.end('done'); };
  });
  const c = await H2Wire.connect(port);
  const id = c.request();
  while (!release) await sleep(5);
  server.close();
  for (const s of sessions) s.close();
  const g = await c.waitFor((f) => f.typeName === 'GOAWAY');
  assert.deepEqual([g.lastStreamId, g.errorName], [id, 'NO_ERROR']);
  release();
  const res = await c.response(id);
  assert.equal(res.body.toString(), 'done');
  const end = await c.closed;
  assert.equal(end.how, 'eof');
});

test('RST_STREAM: stream.close(NGHTTP2_CANCEL) arrives as CANCEL; ours reaches the server', async (t) => {
  const codes = [];
  const { port } = await h2c(t, (stream, h) => {
    if (h[':path'] === '/cancel') stream.close(NGHTTP2_CANCEL);
    else if (h[':path'] === '/partial') {
      stream.respond({ ':status': 200 });
      stream.write('partial', () => stream.close(NGHTTP2_CANCEL));
    } else stream.on('close', () => codes.push(stream.rstCode));
  });
  const c = await H2Wire.connect(port);
  const res = await c.response(c.request({ path: '/cancel' }));
  assert.deepEqual([res.status, res.headers, res.body.length, res.endStream, res.rst], [NaN, [], 0, false, 8]);

  // After a response has begun, node ends the stream (END_STREAM) and then
  // resets it: response() is complete at END_STREAM, the RST comes after.
  const id = c.request({ path: '/partial', endStream: false });
  const rst = await c.waitFor((f) => f.typeName === 'RST_STREAM' && f.streamId === id);
  assert.equal(rst.errorName, 'CANCEL');
  const partial = await c.response(id);
  assert.deepEqual([partial.status, partial.body.toString(), partial.endStream, partial.rst], [200, 'partial', true, null]);
  assert.deepEqual(c.frames.filter((f) => f.streamId === id).map((f) => f.typeName).slice(-2), ['DATA', 'RST_STREAM']);

  const mine = c.request({ path: '/wait', endStream: false });
  await sleep(20);
  c.rstStream(mine, 8);
  while (codes.length === 0) await sleep(5);
  assert.deepEqual(codes, [8]);
  c.destroy();
});

test('closed: the server\'s socket.end() is EOF, socket.resetAndDestroy() is a reset', async (t) => {
  const { port, sockets } = await h2c(t, (stream, h) => {
    const sock = sockets.at(-1);
    if (h[':path'] === '/end') sock.end();
    else sock.resetAndDestroy();
  });
  const a = await H2Wire.connect(port);
  a.request({ path: '/end' });
  assert.equal((await a.closed).how, 'eof');

  const b = await H2Wire.connect(port);
  b.request({ path: '/reset' });
  assert.deepEqual(Object.entries(await b.closed).filter(([k]) => k !== 'at'), [['how', 'reset'], ['code', 'ECONNRESET']]);
  await assert.rejects(b.waitFor(() => false), /connection ended \(reset ECONNRESET\)/);
});

test('preface:false: a partial preface by writeRaw(), completed later, still makes a working connection', async (t) => {
  const { port } = await h2c(t, (stream) => {
    stream.respond({ ':status': 204 });
    stream.end();
  });
  const c = await H2Wire.connect(port, { preface: false });
  c.writeRaw(PREFACE.subarray(0, 10));
  // The server speaks first (its SETTINGS); our ACK waits for our preface.
  await c.waitFor((f) => f.typeName === 'SETTINGS');
  await sleep(30);
  c.writeRaw(PREFACE.subarray(10));
  c.settings();
  assert.equal((await c.response(c.request())).status, 204);
  await assert.rejects(c.waitFor(() => false, 50, 'nothing'), /timed out after 50 ms while waiting for nothing; frames: SETTINGS@0 SETTINGS@0\+ACK HEADERS@1\+ES\(204\)$/);
  c.end();
  assert.equal((await c.closed).how, 'eof');
});
