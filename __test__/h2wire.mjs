// A frame-level HTTP/2 (h2c, prior knowledge) client for tests. It does what
// Node's http2 client refuses to do: open a stream after GOAWAY, hold back
// PING ACKs, send a partial preface, and show every frame as it arrived.
//
// HPACK: requests use literal fields without indexing (no Huffman). Responses
// are decoded for indexed fields (static and dynamic table) and literals; we
// ask for a header table size of 0, so servers do not index. Huffman-coded
// strings are kept as `huffman:<hex>` (these tests only read `:status`, which
// servers send from the static table).

import net from 'node:net';
import { EventEmitter, once } from 'node:events';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const TYPES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const SETTINGS_IDS = { headerTableSize: 1, enablePush: 2, maxConcurrentStreams: 3, initialWindowSize: 4, maxFrameSize: 5, maxHeaderListSize: 6 };

// RFC 7541 Appendix A.
const STATIC = [null,
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', '']];

function encodeInt(value, prefixBits, firstByte) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function encodeString(str) {
  const bytes = Buffer.from(str, 'latin1');
  return [...encodeInt(bytes.length, 7, 0), ...bytes];
}

/** HPACK block of literal fields without indexing, new names, no Huffman. */
export function encodeHeaders(list) {
  const out = [];
  for (const [name, value] of list) out.push(0x00, ...encodeString(name), ...encodeString(String(value)));
  return Buffer.from(out);
}

class Decoder {
  constructor() {
    this.dynamic = [];
    this.size = 0;
    this.max = 4096;
  }

  entry(index) {
    if (index > 0 && index < STATIC.length) return STATIC[index];
    const e = this.dynamic[index - STATIC.length];
    if (!e) throw new Error(`HPACK: bad index ${index}`);
    return e;
  }

  insert(name, value) {
    this.dynamic.unshift([name, value]);
    this.size += name.length + value.length + 32;
    this.evict();
  }

  evict() {
    while (this.size > this.max && this.dynamic.length > 0) {
      const [n, v] = this.dynamic.pop();
      this.size -= n.length + v.length + 32;
    }
  }

  decode(buf) {
    const out = [];
    let p = 0;
    const int = (prefixBits) => {
      const max = (1 << prefixBits) - 1;
      let v = buf[p++] & max;
      if (v < max) return v;
      let m = 0;
      let b;
      do {
        b = buf[p++];
        v += (b & 127) * 2 ** m;
        m += 7;
      } while (b & 128);
      return v;
    };
    const str = () => {
      const huffman = (buf[p] & 0x80) !== 0;
      const len = int(7);
      const raw = buf.subarray(p, p + len);
      p += len;
      return huffman ? `huffman:${raw.toString('hex')}` : raw.toString('latin1');
    };
    while (p < buf.length) {
      const b = buf[p];
      if (b & 0x80) {
        out.push([...this.entry(int(7))]);
      } else if ((b & 0xc0) === 0x40) {
        const idx = int(6);
        const name = idx === 0 ? str() : this.entry(idx)[0];
        const value = str();
        this.insert(name, value);
        out.push([name, value]);
      } else if ((b & 0xe0) === 0x20) {
        this.max = int(5);
        this.evict();
      } else {
        const idx = int(4);
        const name = idx === 0 ? str() : this.entry(idx)[0];
        out.push([name, str()]);
      }
    }
    return out;
  }
}

function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/**
 * An HTTP/2 connection driven frame by frame.
 *
 * - `frames`: every frame received, parsed (`typeName`, `flags`, `streamId`,
 *   plus `lastStreamId`/`errorCode` for GOAWAY, `errorCode` for RST_STREAM,
 *   `ack`/`opaque` for PING, `ack`/`values` for SETTINGS, `data`/`endStream`
 *   for DATA, `headers`/`endStream` for HEADERS).
 * - `closed`: resolves `{ how: 'eof' | 'reset' | 'error', code }`.
 */
export class H2Wire extends EventEmitter {
  /**
   * Connects to 127.0.0.1:port. Options: `preface` (send preface and
   * SETTINGS, default true), `autoAckPing`, `autoAckSettings`, `autoWindow`
   * (send WINDOW_UPDATE for received DATA; all default true), `settings`.
   */
  static async connect(port, options = {}) {
    const c = new H2Wire(options);
    c.socket = net.connect(port, '127.0.0.1');
    c.socket.setNoDelay(true);
    c.socket.on('data', (d) => c.onData(d));
    c.socket.on('end', () => { c.finish({ how: 'eof' }); c.socket.end(); });
    c.socket.on('error', (e) => c.finish({ how: e.code === 'ECONNRESET' ? 'reset' : 'error', code: e.code }));
    c.socket.on('close', () => c.finish({ how: 'eof' }));
    await once(c.socket, 'connect');
    if (options.preface !== false) {
      c.writeRaw(PREFACE);
      c.settings({ headerTableSize: 0, ...options.settings });
    }
    return c;
  }

  constructor(options) {
    super();
    this.options = { autoAckPing: true, autoAckSettings: true, autoWindow: true, ...options };
    this.frames = [];
    this.buf = Buffer.alloc(0);
    this.nextId = 1;
    this.maxFrameSize = 16384;
    this.decoder = new Decoder();
    this.continuing = null;
    this.endInfo = null;
    this.closed = new Promise((r) => { this.resolveClosed = r; });
  }

  finish(info) {
    if (this.endInfo !== null) return;
    this.endInfo = info;
    this.resolveClosed(info);
    this.emit('end');
  }

  writeRaw(buf) {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  settings(values = {}) {
    const parts = [];
    for (const [k, v] of Object.entries(values)) {
      const b = Buffer.alloc(6);
      b.writeUInt16BE(SETTINGS_IDS[k] ?? Number(k), 0);
      b.writeUInt32BE(v, 2);
      parts.push(b);
    }
    this.writeRaw(frame(4, 0, 0, Buffer.concat(parts)));
  }

  /** Opens a stream with HEADERS; returns its id. */
  request({ id, method = 'GET', path = '/', authority = '127.0.0.1', scheme = 'http', headers = {}, endStream = true } = {}) {
    const streamId = id ?? this.nextId;
    this.nextId = Math.max(this.nextId, streamId + 2);
    const block = encodeHeaders([[':method', method], [':scheme', scheme], [':authority', authority], [':path', path], ...Object.entries(headers)]);
    this.writeRaw(frame(1, FLAG_END_HEADERS | (endStream ? FLAG_END_STREAM : 0), streamId, block));
    return streamId;
  }

  data(streamId, buf, { endStream = false } = {}) {
    let p = 0;
    do {
      const chunk = buf.subarray(p, p + this.maxFrameSize);
      p += chunk.length;
      const last = p >= buf.length;
      this.writeRaw(frame(0, last && endStream ? FLAG_END_STREAM : 0, streamId, chunk));
    } while (p < buf.length);
  }

  windowUpdate(streamId, increment) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(increment, 0);
    this.writeRaw(frame(8, 0, streamId, b));
  }

  rstStream(streamId, code) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(code, 0);
    this.writeRaw(frame(3, 0, streamId, b));
  }

  ping(opaque = Buffer.alloc(8), ack = false) {
    this.writeRaw(frame(6, ack ? FLAG_ACK : 0, 0, opaque));
  }

  goaway(lastStreamId, code = 0) {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(lastStreamId, 0);
    b.writeUInt32BE(code, 4);
    this.writeRaw(frame(7, 0, 0, b));
  }

  end() { this.socket.end(); }

  destroy() { this.socket.destroy(); }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f = {
        type: this.buf[3],
        typeName: TYPES[this.buf[3]] ?? `UNKNOWN(${this.buf[3]})`,
        flags: this.buf[4],
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.buf.subarray(9, 9 + len),
      };
      this.buf = this.buf.subarray(9 + len);
      this.onFrame(f);
    }
  }

  onFrame(f) {
    const p = f.payload;
    switch (f.typeName) {
      case 'DATA': {
        const pad = f.flags & FLAG_PADDED ? p[0] : -1;
        f.data = pad >= 0 ? p.subarray(1, p.length - pad) : p;
        f.endStream = (f.flags & FLAG_END_STREAM) !== 0;
        if (this.options.autoWindow && p.length > 0) {
          this.windowUpdate(0, p.length);
          if (!f.endStream) this.windowUpdate(f.streamId, p.length);
        }
        break;
      }
      case 'HEADERS': {
        let q = 0;
        let end = p.length;
        if (f.flags & FLAG_PADDED) { end -= p[0]; q = 1; }
        if (f.flags & FLAG_PRIORITY) q += 5;
        f.endStream = (f.flags & FLAG_END_STREAM) !== 0;
        const block = p.subarray(q, end);
        if (f.flags & FLAG_END_HEADERS) f.headers = this.decoder.decode(block);
        else {
          this.continuing = { f, parts: [block] };
          return;
        }
        break;
      }
      case 'CONTINUATION': {
        const c = this.continuing;
        if (c) {
          c.parts.push(p);
          if (f.flags & FLAG_END_HEADERS) {
            this.continuing = null;
            c.f.headers = this.decoder.decode(Buffer.concat(c.parts));
            this.record(c.f);
          }
        }
        break;
      }
      case 'RST_STREAM':
        f.errorCode = p.readUInt32BE(0);
        break;
      case 'SETTINGS':
        f.ack = (f.flags & FLAG_ACK) !== 0;
        f.values = {};
        for (let q = 0; q + 6 <= p.length; q += 6) f.values[p.readUInt16BE(q)] = p.readUInt32BE(q + 2);
        if (f.values[5]) this.maxFrameSize = f.values[5];
        if (!f.ack && this.options.autoAckSettings) this.writeRaw(frame(4, FLAG_ACK, 0));
        break;
      case 'PING':
        f.ack = (f.flags & FLAG_ACK) !== 0;
        f.opaque = Buffer.from(p);
        if (!f.ack && this.options.autoAckPing) this.ping(f.opaque, true);
        break;
      case 'GOAWAY':
        f.lastStreamId = p.readUInt32BE(0) & 0x7fffffff;
        f.errorCode = p.readUInt32BE(4);
        f.debug = p.subarray(8).toString('latin1');
        break;
      case 'WINDOW_UPDATE':
        f.increment = p.readUInt32BE(0) & 0x7fffffff;
        break;
      default:
    }
    this.record(f);
  }

  record(f) {
    this.frames.push(f);
    this.emit('frame', f);
  }

  /** The first frame, past or future, for which `pred` holds. */
  waitFor(pred, ms = 3000) {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onFrame = (f) => {
        if (pred(f)) { cleanup(); resolve(f); }
      };
      const onEnd = () => { cleanup(); reject(new Error(`connection ended (${this.endInfo.how}) first; frames: ${this.summary()}`)); };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${ms} ms; frames: ${this.summary()}`)); }, ms);
      const cleanup = () => { clearTimeout(timer); this.off('frame', onFrame); this.off('end', onEnd); };
      this.on('frame', onFrame);
      if (this.endInfo !== null) onEnd();
      else this.on('end', onEnd);
    });
  }

  summary() {
    return this.frames.map((f) => `${f.typeName}@${f.streamId}${f.lastStreamId !== undefined ? `(last ${f.lastStreamId})` : ''}`).join(' ');
  }

  /**
   * The response on `streamId`, once it ended (END_STREAM or RST_STREAM):
   * `{ status, headers, body, rst }`.
   */
  async response(streamId, ms = 5000) {
    const last = await this.waitFor((f) => f.streamId === streamId
      && ((f.typeName === 'RST_STREAM') || ((f.typeName === 'DATA' || f.typeName === 'HEADERS') && f.endStream)), ms);
    const mine = this.frames.filter((f) => f.streamId === streamId);
    const head = mine.find((f) => f.typeName === 'HEADERS');
    const headers = head ? head.headers : [];
    const status = Number(headers.find(([n]) => n === ':status')?.[1]);
    const body = Buffer.concat(mine.filter((f) => f.typeName === 'DATA').map((f) => f.data));
    return { status, headers, body, rst: last.typeName === 'RST_STREAM' ? last.errorCode : null };
  }
}
