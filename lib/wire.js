'use strict';

// The binary records exchanged with the native side. Must agree byte for
// byte with src/core/wire.rs.

const EV_REQUEST = 1;
const EV_BODY = 2;
const EV_END = 3;
const EV_ABORT = 4;
const EV_DRAIN = 5;
const EV_CONN_OPEN = 6;
const EV_CONN_CLOSE = 7;
const EV_BODY_AT = 8;
const EV_TRAILERS = 9;
const EV_CLIENT_ERROR = 10;
const EV_RELEASE = 16;
const EV_TLS_READY = 11;
const EV_TLS_ERROR = 12;
const TLS_AUTHORIZED = 1;
const TLS_REFUSED = 2;
const TLS_RESUMED = 4;
const REQ_HAS_BODY = 1;
const REQ_UPGRADE = 2;

const OP_HEAD = 1;
const OP_DATA = 2;
const OP_DEMAND = 3;
const OP_ABORT = 4;
const OP_CLOSE = 5;
const OP_TRAILERS = 6;
const OP_KEEP_ALIVE = 7;
const HEAD_END = 1;
const HEAD_KEEP_ALIVE = 2;
const HEAD_KEEP_ALIVE_TIMEOUT = 4;
const DATA_END = 1;
const DATA_WANT_DRAIN = 2;
const DATA_EXTERNAL = 4;

// Response header names that travel as an index (NAME_INDEXED | i) instead
// of text: src/core/wire.rs KNOWN_NAMES, same names, same order (a test there
// compares them). Append only.
const NAME_INDEXED = 0x8000;
const KNOWN_NAMES = [
  'content-type', 'content-length', 'connection', 'keep-alive', 'date',
  'cache-control', 'etag', 'last-modified', 'location', 'set-cookie',
  'server', 'vary', 'x-powered-by', 'transfer-encoding', 'content-encoding',
  'access-control-allow-origin', 'accept-ranges', 'expires', 'pragma',
  'x-content-type-options', 'strict-transport-security', 'content-disposition',
  'content-security-policy', 'upgrade', 'sec-websocket-accept',
  'x-frame-options', 'referrer-policy', 'content-language', 'retry-after',
  'www-authenticate', 'link', 'age',
];
// Looked up by the name as the app spelled it: lower case, Title-Case and
// the usual exceptions. Other spellings go as text, which is as correct.
const KNOWN_INDEX = new Map();
KNOWN_NAMES.forEach((name, i) => {
  const title = name.replace(/(^|-)([a-z])/g, (m, dash, c) => dash + c.toUpperCase());
  for (const spelling of [name, title]) KNOWN_INDEX.set(spelling, NAME_INDEXED | i);
});
for (const [spelling, name] of [['ETag', 'etag'], ['WWW-Authenticate', 'www-authenticate']]) {
  KNOWN_INDEX.set(spelling, NAME_INDEXED | KNOWN_NAMES.indexOf(name));
}

// Chunks at least this large travel as their own Buffer instead of being
// copied into the op buffer: the native side copies them exactly once.
const EXTERNAL_MIN = 16 * 1024;

// Strings up to this length are copied byte by byte in JS.
const SHORT = 64;

// The bytes a header list takes: a count, and per header two length
// prefixes (u16 + u32) beside its latin1 text.
function listSize(headers) {
  let size = 2;
  for (let i = 0; i < headers.length; i += 2) size += 6 + headers[i].length + headers[i + 1].length;
  return size;
}

// Accumulates ops for one flush. Reused across flushes: the native side
// copies what it needs synchronously.
class OpWriter {
  constructor() {
    this.buf = Buffer.allocUnsafe(64 * 1024);
    this.pos = 0;
    this.chunks = [];
    // The Keep-Alive value the native side holds (OP_KEEP_ALIVE), or null
    // for a native server that has none yet.
    this.keepAliveSent = null;
  }

  get empty() {
    return this.pos === 0;
  }

  reserve(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v) {
    this.buf[this.pos++] = v;
  }

  // Plain byte stores: Buffer's writeUInt*LE check their arguments on every
  // call, and these run several times per op (the caller reserved room).
  u16(v) {
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v;
    buf[p + 1] = v >>> 8;
    this.pos = p + 2;
  }

  u32(v) {
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v;
    buf[p + 1] = v >>> 8;
    buf[p + 2] = v >>> 16;
    buf[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  // Writes a latin1 string prefixed by its length (u16 or u32). Short ones
  // (most header names and values) are copied here: a call into C++ per
  // string costs more than the loop.
  latin1(str, wide) {
    const len = str.length;
    if (wide) this.u32(len); else this.u16(len);
    if (len <= SHORT) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < len; i++) buf[p++] = str.charCodeAt(i);
      this.pos = p;
    } else {
      this.pos += this.buf.latin1Write(str, this.pos, len);
    }
  }

  // Writes a short ASCII string as a data op and returns true; false (and
  // nothing written) if it holds anything else.
  asciiData(id, str, flags) {
    const len = str.length;
    this.reserve(10 + len);
    const buf = this.buf;
    const start = this.pos + 10;
    for (let i = 0; i < len; i++) {
      const c = str.charCodeAt(i);
      if (c > 127) return false;
      buf[start + i] = c;
    }
    this.dataHead(id, flags, len);
    this.pos += len;
    return true;
  }

  // The fixed part of a data op (10 bytes; the caller reserved them).
  // `len` is the inline length, or the chunk's index when DATA_EXTERNAL.
  dataHead(id, flags, len) {
    this.u8(OP_DATA);
    this.u32(id);
    this.u8(flags);
    this.u32(len);
  }

  // `headers` is a flat array [name, value, name, value, ...] of strings.
  // `keepAlive`: HEAD_KEEP_ALIVE (the core adds `Connection: keep-alive`),
  // with HEAD_KEEP_ALIVE_TIMEOUT (and `Keep-Alive: <keepAliveValue>`).
  head(id, status, end, reason, headers, keepAlive = 0, keepAliveValue = null) {
    if ((keepAlive & HEAD_KEEP_ALIVE_TIMEOUT) !== 0 && keepAliveValue !== this.keepAliveSent) {
      this.reserve(5 + keepAliveValue.length);
      this.u8(OP_KEEP_ALIVE);
      this.latin1(keepAliveValue, true);
      this.keepAliveSent = keepAliveValue;
    }
    let size = 12 + (reason ? reason.length : 0);
    for (let i = 0; i < headers.length; i++) size += headers[i].length + 4;
    this.reserve(size);
    this.u8(OP_HEAD);
    this.u32(id);
    this.u16(status);
    this.u8((end ? HEAD_END : 0) | keepAlive);
    this.latin1(reason || '', false);
    this.u16(headers.length >>> 1);
    for (let i = 0; i < headers.length; i += 2) {
      const known = KNOWN_INDEX.get(headers[i]);
      if (known === undefined) this.latin1(headers[i], false);
      else this.u16(known);
      this.latin1(headers[i + 1], true);
    }
  }

  // `chunk` is a string (with `encoding`) or a Uint8Array. Returns its byte length.
  data(id, chunk, encoding, end, wantDrain) {
    const flags = (end ? DATA_END : 0) | (wantDrain ? DATA_WANT_DRAIN : 0);
    if (typeof chunk === 'string') {
      if (chunk.length <= SHORT && (encoding === 'utf8' || encoding === 'utf-8') && this.asciiData(id, chunk, flags)) {
        return chunk.length;
      }
      const len = Buffer.byteLength(chunk, encoding);
      if (len >= EXTERNAL_MIN) return this.data(id, Buffer.from(chunk, encoding), undefined, end, wantDrain);
      this.reserve(10 + len);
      this.dataHead(id, flags, len);
      this.pos += this.buf.write(chunk, this.pos, len, encoding);
      return len;
    }
    const len = chunk ? chunk.byteLength : 0;
    if (len >= EXTERNAL_MIN) {
      this.reserve(10);
      this.dataHead(id, flags | DATA_EXTERNAL, this.chunks.length);
      this.chunks.push(chunk);
      return len;
    }
    this.reserve(10 + len);
    this.dataHead(id, flags, len);
    if (len > 0) {
      this.buf.set(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, len), this.pos);
      this.pos += len;
    }
    return len;
  }

  // Response trailers: `headers` is a flat [name, value, …] list of strings.
  trailers(id, headers) {
    this.reserve(5 + listSize(headers));
    this.u8(OP_TRAILERS);
    this.u32(id);
    this.headerList(headers);
  }

  // `u16 count, (u16 name_len, name, u32 value_len, value)*`; the caller
  // reserved listSize(headers) bytes.
  headerList(headers) {
    this.u16(headers.length >>> 1);
    for (let i = 0; i < headers.length; i += 2) {
      this.latin1(headers[i], false);
      this.latin1(headers[i + 1], true);
    }
  }

  simple(op, id) {
    this.reserve(5);
    this.u8(op);
    this.u32(id);
  }

  // Hands everything to `native.flush` and resets. The long chunks are
  // lent, not copied: each stays in `pins` (token → Buffer) until the
  // native side sends EV_RELEASE for its token.
  flushTo(native, pins) {
    if (this.pos === 0) return;
    const meta = this.buf.subarray(0, this.pos);
    const chunks = this.chunks;
    this.pos = 0;
    this.chunks = [];
    const base = pins.next;
    for (let i = 0; i < chunks.length; i++) pins.held.set((base + i) >>> 0, chunks[i]);
    pins.next = (base + chunks.length) >>> 0;
    native.flush(meta, chunks, base);
  }
}

module.exports = {
  EV_REQUEST,
  EV_BODY,
  EV_END,
  EV_ABORT,
  EV_DRAIN,
  EV_CONN_OPEN,
  EV_CONN_CLOSE,
  EV_BODY_AT,
  EV_TRAILERS,
  EV_CLIENT_ERROR,
  EV_RELEASE,
  EV_TLS_READY,
  EV_TLS_ERROR,
  TLS_AUTHORIZED,
  TLS_REFUSED,
  TLS_RESUMED,
  REQ_HAS_BODY,
  REQ_UPGRADE,
  OP_DEMAND,
  OP_ABORT,
  OP_CLOSE,
  HEAD_KEEP_ALIVE,
  HEAD_KEEP_ALIVE_TIMEOUT,
  OpWriter,
};
