// A frame-level HTTP/2 client for tests (h2c: plain TCP, prior knowledge).
//
// It does what Node's own http2 client will not: open a stream after GOAWAY,
// hold back PING or SETTINGS ACKs, stall the server by not granting flow
// control window, send a partial preface or any bytes at all, and show every
// frame exactly as it arrived (`c.frames`).
//
// Sending: requests use HPACK "literal header field without indexing, new
// name" with raw (non-Huffman) strings, so nothing the client sends depends on
// table state. Receiving: a complete HPACK decoder (static and dynamic table,
// size updates, eviction, Huffman), CONTINUATION reassembly, and decoded
// fields for every frame type of RFC 9113.
//
// Only node: built-ins; Node 20+.
//
//   const c = await H2Wire.connect(port);
//   const id = c.request({ path: '/' });
//   const res = await c.response(id);      // { status, headers, body, ... }
//   const goaway = await c.waitFor((f) => f.typeName === 'GOAWAY');
//   const { how } = await c.closed;         // 'eof' | 'reset' | 'error' | 'local'

import net from 'node:net';
import { EventEmitter, once } from 'node:events';

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Frame type names, indexed by type code. */
export const FRAME_TYPES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];

/** Error code names (RFC 9113 §7), indexed by code. */
export const ERROR_CODES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];

/** SETTINGS parameter ids by the names `settings()` accepts and `values` uses. */
export const SETTINGS = { headerTableSize: 1, enablePush: 2, maxConcurrentStreams: 3, initialWindowSize: 4, maxFrameSize: 5, maxHeaderListSize: 6, enableConnectProtocol: 8 };
const SETTINGS_NAMES = Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [v, k]));

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const DEFAULT_WINDOW = 65535;

// ---------------------------------------------------------------------------
// HPACK (RFC 7541)

// Appendix A.
const STATIC_TABLE = [null,
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

// Appendix B: code (aligned to the least significant bit) and length in bits,
// for symbols 0..255 and EOS (256), as flat pairs. Transcribed mechanically from
// the RFC's table and checked against the h2 crate's table (all 256 + EOS
// agree) and by Kraft's equality (the code is complete).
const HUFFMAN_CODES = [
  0x1ff8, 13, 0x7fffd8, 23, 0xfffffe2, 28, 0xfffffe3, 28, 0xfffffe4, 28, 0xfffffe5, 28, 0xfffffe6, 28, 0xfffffe7, 28, // 0-7
  0xfffffe8, 28, 0xffffea, 24, 0x3ffffffc, 30, 0xfffffe9, 28, 0xfffffea, 28, 0x3ffffffd, 30, 0xfffffeb, 28, 0xfffffec, 28, // 8-15
  0xfffffed, 28, 0xfffffee, 28, 0xfffffef, 28, 0xffffff0, 28, 0xffffff1, 28, 0xffffff2, 28, 0x3ffffffe, 30, 0xffffff3, 28, // 16-23
  0xffffff4, 28, 0xffffff5, 28, 0xffffff6, 28, 0xffffff7, 28, 0xffffff8, 28, 0xffffff9, 28, 0xffffffa, 28, 0xffffffb, 28, // 24-31
  0x14, 6, 0x3f8, 10, 0x3f9, 10, 0xffa, 12, 0x1ff9, 13, 0x15, 6, 0xf8, 8, 0x7fa, 11, // 32-39
  0x3fa, 10, 0x3fb, 10, 0xf9, 8, 0x7fb, 11, 0xfa, 8, 0x16, 6, 0x17, 6, 0x18, 6, // 40-47
  0x0, 5, 0x1, 5, 0x2, 5, 0x19, 6, 0x1a, 6, 0x1b, 6, 0x1c, 6, 0x1d, 6, // 48-55
  0x1e, 6, 0x1f, 6, 0x5c, 7, 0xfb, 8, 0x7ffc, 15, 0x20, 6, 0xffb, 12, 0x3fc, 10, // 56-63
  0x1ffa, 13, 0x21, 6, 0x5d, 7, 0x5e, 7, 0x5f, 7, 0x60, 7, 0x61, 7, 0x62, 7, // 64-71
  0x63, 7, 0x64, 7, 0x65, 7, 0x66, 7, 0x67, 7, 0x68, 7, 0x69, 7, 0x6a, 7, // 72-79
  0x6b, 7, 0x6c, 7, 0x6d, 7, 0x6e, 7, 0x6f, 7, 0x70, 7, 0x71, 7, 0x72, 7, // 80-87
  0xfc, 8, 0x73, 7, 0xfd, 8, 0x1ffb, 13, 0x7fff0, 19, 0x1ffc, 13, 0x3ffc, 14, 0x22, 6, // 88-95
  0x7ffd, 15, 0x3, 5, 0x23, 6, 0x4, 5, 0x24, 6, 0x5, 5, 0x25, 6, 0x26, 6, // 96-103
  0x27, 6, 0x6, 5, 0x74, 7, 0x75, 7, 0x28, 6, 0x29, 6, 0x2a, 6, 0x7, 5, // 104-111
  0x2b, 6, 0x76, 7, 0x2c, 6, 0x8, 5, 0x9, 5, 0x2d, 6, 0x77, 7, 0x78, 7, // 112-119
  0x79, 7, 0x7a, 7, 0x7b, 7, 0x7ffe, 15, 0x7fc, 11, 0x3ffd, 14, 0x1ffd, 13, 0xffffffc, 28, // 120-127
  0xfffe6, 20, 0x3fffd2, 22, 0xfffe7, 20, 0xfffe8, 20, 0x3fffd3, 22, 0x3fffd4, 22, 0x3fffd5, 22, 0x7fffd9, 23, // 128-135
  0x3fffd6, 22, 0x7fffda, 23, 0x7fffdb, 23, 0x7fffdc, 23, 0x7fffdd, 23, 0x7fffde, 23, 0xffffeb, 24, 0x7fffdf, 23, // 136-143
  0xffffec, 24, 0xffffed, 24, 0x3fffd7, 22, 0x7fffe0, 23, 0xffffee, 24, 0x7fffe1, 23, 0x7fffe2, 23, 0x7fffe3, 23, // 144-151
  0x7fffe4, 23, 0x1fffdc, 21, 0x3fffd8, 22, 0x7fffe5, 23, 0x3fffd9, 22, 0x7fffe6, 23, 0x7fffe7, 23, 0xffffef, 24, // 152-159
  0x3fffda, 22, 0x1fffdd, 21, 0xfffe9, 20, 0x3fffdb, 22, 0x3fffdc, 22, 0x7fffe8, 23, 0x7fffe9, 23, 0x1fffde, 21, // 160-167
  0x7fffea, 23, 0x3fffdd, 22, 0x3fffde, 22, 0xfffff0, 24, 0x1fffdf, 21, 0x3fffdf, 22, 0x7fffeb, 23, 0x7fffec, 23, // 168-175
  0x1fffe0, 21, 0x1fffe1, 21, 0x3fffe0, 22, 0x1fffe2, 21, 0x7fffed, 23, 0x3fffe1, 22, 0x7fffee, 23, 0x7fffef, 23, // 176-183
  0xfffea, 20, 0x3fffe2, 22, 0x3fffe3, 22, 0x3fffe4, 22, 0x7ffff0, 23, 0x3fffe5, 22, 0x3fffe6, 22, 0x7ffff1, 23, // 184-191
  0x3ffffe0, 26, 0x3ffffe1, 26, 0xfffeb, 20, 0x7fff1, 19, 0x3fffe7, 22, 0x7ffff2, 23, 0x3fffe8, 22, 0x1ffffec, 25, // 192-199
  0x3ffffe2, 26, 0x3ffffe3, 26, 0x3ffffe4, 26, 0x7ffffde, 27, 0x7ffffdf, 27, 0x3ffffe5, 26, 0xfffff1, 24, 0x1ffffed, 25, // 200-207
  0x7fff2, 19, 0x1fffe3, 21, 0x3ffffe6, 26, 0x7ffffe0, 27, 0x7ffffe1, 27, 0x3ffffe7, 26, 0x7ffffe2, 27, 0xfffff2, 24, // 208-215
  0x1fffe4, 21, 0x1fffe5, 21, 0x3ffffe8, 26, 0x3ffffe9, 26, 0xffffffd, 28, 0x7ffffe3, 27, 0x7ffffe4, 27, 0x7ffffe5, 27, // 216-223
  0xfffec, 20, 0xfffff3, 24, 0xfffed, 20, 0x1fffe6, 21, 0x3fffe9, 22, 0x1fffe7, 21, 0x1fffe8, 21, 0x7ffff3, 23, // 224-231
  0x3fffea, 22, 0x3fffeb, 22, 0x1ffffee, 25, 0x1ffffef, 25, 0xfffff4, 24, 0xfffff5, 24, 0x3ffffea, 26, 0x7ffff4, 23, // 232-239
  0x3ffffeb, 26, 0x7ffffe6, 27, 0x3ffffec, 26, 0x3ffffed, 26, 0x7ffffe7, 27, 0x7ffffe8, 27, 0x7ffffe9, 27, 0x7ffffea, 27, // 240-247
  0x7ffffeb, 27, 0xffffffe, 28, 0x7ffffec, 27, 0x7ffffed, 27, 0x7ffffee, 27, 0x7ffffef, 27, 0x7fffff0, 27, 0x3ffffee, 26, // 248-255
  0x3fffffff, 30, // 256 (EOS)
];

// A binary trie over the codes: KIDS[node] = [child for 0, child for 1]
// (0 = none; the root is never a child), SYMS[node] = symbol at a leaf or -1.
const KIDS = [[0, 0]];
const SYMS = [-1];
for (let sym = 0; sym <= 256; sym++) {
  const code = HUFFMAN_CODES[2 * sym];
  const len = HUFFMAN_CODES[2 * sym + 1];
  let node = 0;
  for (let i = len - 1; i >= 0; i--) {
    const bit = (code >>> i) & 1;
    if (KIDS[node][bit] === 0) {
      KIDS.push([0, 0]);
      SYMS.push(-1);
      KIDS[node][bit] = KIDS.length - 1;
    }
    node = KIDS[node][bit];
  }
  SYMS[node] = sym;
}

/**
 * Decodes an HPACK Huffman-coded string (RFC 7541 §5.2).
 * @param {Uint8Array} buf the coded octets
 * @returns {Buffer} the decoded octets
 * @throws {Error} on an EOS symbol, padding longer than 7 bits, or padding
 *   that is not the most significant bits of EOS (all ones)
 */
export function huffmanDecode(buf) {
  const out = [];
  let node = 0;
  let depth = 0;
  let allOnes = true;
  for (const byte of buf) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      node = KIDS[node][bit];
      depth++;
      if (bit === 0) allOnes = false;
      const sym = SYMS[node];
      if (sym >= 0) {
        if (sym === 256) throw new Error('HPACK Huffman: EOS symbol inside a string');
        out.push(sym);
        node = 0;
        depth = 0;
        allOnes = true;
      }
    }
  }
  if (depth > 7) throw new Error(`HPACK Huffman: ${depth} bits of padding (at most 7 allowed)`);
  if (!allOnes) throw new Error('HPACK Huffman: padding is not a prefix of EOS');
  return Buffer.from(out);
}

/**
 * Huffman-codes octets as HPACK does (RFC 7541 §5.2), padding with ones.
 * @param {Uint8Array|string} input octets, or a string taken as latin1
 * @returns {Buffer}
 */
export function huffmanEncode(input) {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out = [];
  let acc = 0;
  let n = 0;
  for (const b of bytes) {
    const code = HUFFMAN_CODES[2 * b];
    for (let i = HUFFMAN_CODES[2 * b + 1] - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++n === 8) {
        out.push(acc);
        acc = 0;
        n = 0;
      }
    }
  }
  if (n > 0) out.push(((acc << (8 - n)) | (0xff >> n)) & 0xff);
  return Buffer.from(out);
}

function encodeInt(value, prefixBits, firstByte) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function encodeString(str, huffman) {
  const raw = Buffer.from(String(str), 'latin1');
  const bytes = huffman ? huffmanEncode(raw) : raw;
  return [...encodeInt(bytes.length, 7, huffman ? 0x80 : 0), ...bytes];
}

/** Normalises `{ name: value | value[] }` or `[[name, value], ...]` into pairs. */
function fieldList(headers) {
  if (Array.isArray(headers)) return headers.map(([n, v]) => [String(n), String(v)]);
  const out = [];
  for (const [n, v] of Object.entries(headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) out.push([n, String(one)]);
  }
  return out;
}

/**
 * Encodes a header block with only "literal header field without indexing —
 * new name" representations (RFC 7541 §6.2.2, first byte 0x00), so the block
 * never touches the peer's dynamic table. Names and values are sent verbatim
 * (latin1 octets, no lower-casing or validation).
 * @param {Array<[string, string]>|Record<string, string|string[]>} headers
 * @param {{ huffman?: boolean }} [options] Huffman-code the strings (default false)
 * @returns {Buffer}
 */
export function encodeHeaders(headers, { huffman = false } = {}) {
  const out = [];
  for (const [name, value] of fieldList(headers)) out.push(0x00, ...encodeString(name, huffman), ...encodeString(value, huffman));
  return Buffer.from(out);
}

/**
 * An HPACK decoder (RFC 7541): static and dynamic table, dynamic table size
 * updates and eviction, Huffman-coded strings. Strings are returned as latin1
 * (one char per octet; `Buffer.from(v, 'latin1')` gives the octets back).
 * Throws on any malformed block; after that its state is unreliable, as a
 * real peer's would be (COMPRESSION_ERROR).
 */
export class HpackDecoder {
  /** @param {number} [limit] SETTINGS_HEADER_TABLE_SIZE we advertise (default 4096) */
  constructor(limit = 4096) {
    /** The largest table size the encoder may choose (our SETTINGS_HEADER_TABLE_SIZE). */
    this.limit = limit;
    /** The table size the encoder chose (last size update, else `limit`). */
    this.maxSize = limit;
    /** Dynamic table, newest first: `[name, value]` (index 62 is `table[0]`). */
    this.table = [];
    /** Current size of the dynamic table (RFC 7541 §4.1). */
    this.size = 0;
    /** Every dynamic table size update seen, in order. */
    this.sizeUpdates = [];
  }

  /** The `[name, value]` at a table index (1-61 static, 62+ dynamic). */
  entry(index) {
    if (index === 0) throw new Error('HPACK: index 0');
    if (index < STATIC_TABLE.length) return STATIC_TABLE[index];
    const e = this.table[index - STATIC_TABLE.length];
    if (!e) throw new Error(`HPACK: index ${index} beyond the dynamic table (${this.table.length} entries)`);
    return e;
  }

  /** Inserts into the dynamic table (§4.4), evicting as needed. */
  add(name, value) {
    const size = name.length + value.length + 32;
    if (size > this.maxSize) {
      // §4.4: an entry larger than the table empties it and is not added.
      this.table = [];
      this.size = 0;
      return;
    }
    this.table.unshift([name, value]);
    this.size += size;
    this.evict();
  }

  /** Evicts the oldest entries until the table fits `maxSize`. */
  evict() {
    while (this.size > this.maxSize) {
      const [n, v] = this.table.pop();
      this.size -= n.length + v.length + 32;
    }
  }

  /**
   * Decodes one complete header block into `[name, value]` pairs.
   * @param {Uint8Array} block
   * @returns {Array<[string, string]>}
   */
  decode(block) {
    return this.decodeFields(block).map((f) => [f.name, f.value]);
  }

  /**
   * Decodes one complete header block, describing how each field was sent.
   * @param {Uint8Array} block
   * @returns {Array<{ name: string, value: string, rep: 'indexed'|'incremental'|'without'|'never', index: number, huffman: boolean }>}
   *   `index` is the table index used (0 for a new name); `huffman` is true if
   *   the value was sent as a Huffman-coded literal
   */
  decodeFields(block) {
    const out = [];
    let p = 0;
    let huffman = false;
    const int = (prefixBits) => {
      const max = (1 << prefixBits) - 1;
      let v = block[p++] & max;
      if (v < max) return v;
      let m = 0;
      let b;
      do {
        if (p >= block.length) throw new Error('HPACK: truncated integer');
        b = block[p++];
        v += (b & 127) * 2 ** m;
        m += 7;
        if (m > 35) throw new Error('HPACK: integer too large');
      } while (b & 128);
      return v;
    };
    const str = () => {
      if (p >= block.length) throw new Error('HPACK: truncated string');
      const h = (block[p] & 0x80) !== 0;
      const len = int(7);
      if (p + len > block.length) throw new Error(`HPACK: string of ${len} octets overruns the block`);
      const raw = block.subarray(p, p + len);
      p += len;
      huffman = h;
      return (h ? huffmanDecode(raw) : Buffer.from(raw)).toString('latin1');
    };
    while (p < block.length) {
      const b = block[p];
      huffman = false;
      if (b & 0x80) {
        const index = int(7);
        const [name, value] = this.entry(index);
        out.push({ name, value, rep: 'indexed', index, huffman });
      } else if (b & 0x40) {
        const index = int(6);
        const name = index === 0 ? str() : this.entry(index)[0];
        const value = str(); // last: `huffman` is the value's
        this.add(name, value);
        out.push({ name, value, rep: 'incremental', index, huffman });
      } else if (b & 0x20) {
        // §4.2: size updates come only at the start of a block.
        if (out.length > 0) throw new Error('HPACK: dynamic table size update after a header field');
        const size = int(5);
        if (size > this.limit) throw new Error(`HPACK: table size update to ${size} exceeds our SETTINGS_HEADER_TABLE_SIZE ${this.limit}`);
        this.maxSize = size;
        this.sizeUpdates.push(size);
        this.evict();
      } else {
        const rep = b & 0x10 ? 'never' : 'without';
        const index = int(4);
        const name = index === 0 ? str() : this.entry(index)[0];
        const value = str();
        out.push({ name, value, rep, index, huffman });
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Frames

/**
 * Builds one frame: 9-octet header plus payload.
 * @param {number} type
 * @param {number} flags
 * @param {number} streamId
 * @param {Uint8Array} [payload]
 * @returns {Buffer}
 */
export function encodeFrame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
};
const errorName = (code) => ERROR_CODES[code] ?? `0x${code.toString(16)}`;

/** Short text for a frame, e.g. `GOAWAY@0(last 1, NO_ERROR)` or `DATA@1+ES`. */
function describe(f) {
  let s = `${f.typeName}@${f.streamId}`;
  if (f.ack) s += '+ACK';
  if (f.endStream) s += '+ES';
  if (f.typeName === 'GOAWAY') s += `(last ${f.lastStreamId}, ${f.errorName})`;
  if (f.typeName === 'RST_STREAM') s += `(${f.errorName})`;
  if (f.typeName === 'HEADERS') {
    const status = f.headers?.find(([n]) => n === ':status');
    if (status) s += `(${status[1]})`;
  }
  if (f.error) s += '!';
  return s;
}

/**
 * @typedef {object} Frame A received frame. Every frame has `type`,
 *   `typeName`, `flags`, `streamId`, `length`, `payload` (Buffer) and `at`
 *   (performance.now() on arrival); `error` (string) if it was malformed.
 *   Decoded fields by type:
 *   - DATA: `data` (Buffer, padding removed), `endStream`
 *   - HEADERS: `endStream`, `headers` ([name, value] pairs), `fields` (see
 *     HpackDecoder#decodeFields), `block` (the raw HPACK block),
 *     `continuations` (number of CONTINUATION frames it took), `priority`
 *   - PRIORITY: `priority` ({ exclusive, dependency, weight })
 *   - RST_STREAM: `errorCode`, `errorName`
 *   - SETTINGS: `ack`, `values` (by name, see SETTINGS; unknown ids by number)
 *   - PUSH_PROMISE: `promisedStreamId`, `headers`, `fields`, `block`
 *   - PING: `ack`, `opaque` (8-octet Buffer)
 *   - GOAWAY: `lastStreamId`, `errorCode`, `errorName`, `debug` (latin1 string)
 *   - WINDOW_UPDATE: `increment`
 *   - CONTINUATION: recorded right after the HEADERS/PUSH_PROMISE it continues
 */

/**
 * @typedef {object} CloseInfo How the TCP connection ended, first signal wins:
 *   `how` is 'eof' (the peer's FIN arrived), 'reset' (ECONNRESET or EPIPE: the
 *   peer sent RST), 'error' (any other socket error; `code` says which) or
 *   'local' (we destroyed the socket first). `at` is performance.now().
 * @property {'eof'|'reset'|'error'|'local'} how
 * @property {string} [code]
 * @property {number} at
 */

/**
 * @typedef {object} Response What `response()` collects for one stream.
 * @property {number} status `:status` of the final (non-1xx) HEADERS, NaN if none
 * @property {Array<[string, string]>} headers the final response's header pairs
 * @property {Array<[string, string]>} trailers a HEADERS after the response headers, else []
 * @property {Array<Array<[string, string]>>} informational 1xx header lists
 * @property {Buffer} body all DATA payloads
 * @property {boolean} endStream the stream ended with END_STREAM
 * @property {number|null} rst the RST_STREAM error code, or null
 */

/**
 * An HTTP/2 connection driven frame by frame. Create with `H2Wire.connect()`.
 *
 * Events: 'frame' (Frame), 'close' (CloseInfo).
 *
 * Flow control: received DATA is acknowledged with WINDOW_UPDATE (connection
 * and stream) unless `autoWindow: false`. For sending, `data()` ignores the
 * peer's windows (so a test can overrun them on purpose) while `upload()`
 * waits for window; both keep the accounting in `sendWindow()`.
 */
export class H2Wire extends EventEmitter {
  /**
   * Connects over TCP and (unless `preface: false`) sends the preface and a
   * SETTINGS frame.
   * @param {number} port
   * @param {object} [options]
   * @param {string} [options.host] default '127.0.0.1'
   * @param {Record<string, number>} [options.settings] our SETTINGS (names from
   *   SETTINGS or numeric ids); default {} (an empty SETTINGS frame)
   * @param {boolean} [options.preface] send preface + SETTINGS (default true);
   *   with false nothing is sent: use `writeRaw(PREFACE)` and `settings()`;
   *   automatic ACKs and WINDOW_UPDATEs are held until `settings()` is called
   * @param {boolean} [options.autoAckPing] answer PING (default true)
   * @param {boolean} [options.autoAckSettings] answer SETTINGS (default true)
   * @param {boolean} [options.autoWindow] WINDOW_UPDATE for received DATA (default true)
   * @param {boolean} [options.debug] log frames to stderr (default: env H2WIRE_DEBUG)
   * @param {boolean} [options.keepOpen] read the server's EOF but never send
   *   our FIN (default false: answer EOF with our own)
   * @returns {Promise<H2Wire>}
   */
  static async connect(port, options = {}) {
    const { host = '127.0.0.1', preface = true, settings = {}, keepOpen = false } = options;
    const socket = net.connect({ port, host, allowHalfOpen: keepOpen });
    const c = new H2Wire(socket, options);
    await once(socket, 'connect');
    if (preface) {
      c.writeRaw(PREFACE);
      c.settings(settings);
    }
    return c;
  }

  /**
   * Wraps a socket (use `H2Wire.connect()`); sends nothing by itself.
   * @param {net.Socket} socket
   * @param {object} [options] as for `connect()`
   */
  constructor(socket, options = {}) {
    super();
    this.options = { autoAckPing: true, autoAckSettings: true, autoWindow: true, debug: !!process.env.H2WIRE_DEBUG, ...options };
    /** @type {net.Socket} */
    this.socket = socket;
    /** @type {Frame[]} every frame received, in order */
    this.frames = [];
    /** Socket errors, in order (also those after `closed` settled). */
    this.errors = [];
    /** The server's SETTINGS values so far, by name. */
    this.peerSettings = {};
    /** Largest DATA/HEADERS payload we send: the peer's SETTINGS_MAX_FRAME_SIZE. */
    this.maxFrameSize = 16384;
    /** The id `request()` uses when none is given. */
    this.nextStreamId = 1;
    /** The HPACK decoder for the server's header blocks. */
    this.decoder = new HpackDecoder();
    /** @type {CloseInfo|null} */
    this.closeInfo = null;
    /** @type {Promise<CloseInfo>} settles once, when the connection ends */
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    this.buf = Buffer.alloc(0);
    this.pendingBlock = null;
    this.pendingTableSizes = [];
    this.connWindow = DEFAULT_WINDOW;
    this.streamWindows = new Map();
    this.localClose = false;
    // With `preface: false`, automatic frames (ACKs, WINDOW_UPDATE) wait
    // until the test completes the preface with `settings()`.
    this.held = options.preface === false ? [] : null;

    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('end', () => {
      this.finish('eof');
      if (!this.options.keepOpen) socket.end();
    });
    socket.on('error', (e) => {
      this.errors.push(e);
      this.finish(e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'error', e.code ?? e.message);
    });
    socket.on('close', () => this.finish(this.localClose ? 'local' : 'eof'));
  }

  /** @internal Settles `closed` with the first way the connection ended. */
  finish(how, code) {
    if (this.closeInfo !== null) return;
    this.closeInfo = code === undefined ? { how, at: performance.now() } : { how, code, at: performance.now() };
    if (this.options.debug) console.error(`h2wire: connection ended: ${how}${code ? ` ${code}` : ''}`);
    this.resolveClosed(this.closeInfo);
    this.emit('close', this.closeInfo);
  }

  // --- sending -------------------------------------------------------------

  /**
   * Writes bytes as they are (if the socket is still writable).
   * @param {Uint8Array|string} buf
   * @returns {boolean} whether it was handed to the socket
   */
  writeRaw(buf) {
    if (!this.socket.writable) return false;
    this.socket.write(buf);
    return true;
  }

  /** Sends an automatic frame, or holds it while the preface is incomplete. */
  autoSend(type, flags, streamId, payload) {
    if (this.held) this.held.push([type, flags, streamId, payload]);
    else this.sendFrame(type, flags, streamId, payload);
  }

  /**
   * Sends one frame as given (no splitting, no checks).
   * @param {number} type
   * @param {number} flags
   * @param {number} streamId
   * @param {Uint8Array} [payload]
   * @returns {boolean} whether it was handed to the socket
   */
  sendFrame(type, flags, streamId, payload) {
    if (this.options.debug) console.error(`h2wire -> ${FRAME_TYPES[type] ?? type}@${streamId} flags=0x${flags.toString(16)} len=${payload?.length ?? 0}`);
    return this.writeRaw(encodeFrame(type, flags, streamId, payload));
  }

  /**
   * Opens a stream: HEADERS (+ CONTINUATION if the block is larger than the
   * peer's max frame size) with `:method`, `:scheme`, `:authority`, `:path`
   * (in that order; pass null to leave one out) and then `headers`.
   * Also callable as `request({ id, ...options })`. Works after GOAWAY too.
   * @param {number} [streamId] default: the next odd id (1, 3, 5, ...)
   * @param {object} [options]
   * @param {string} [options.method] default 'GET'
   * @param {string} [options.path] default '/'
   * @param {string} [options.authority] default '127.0.0.1'
   * @param {string} [options.scheme] default 'http'
   * @param {Array<[string, string]>|Record<string, string|string[]>} [options.headers]
   * @param {boolean} [options.endStream] default true (no body)
   * @param {boolean} [options.huffman] Huffman-code the strings (default false)
   * @returns {number} the stream id
   */
  request(streamId, options) {
    let opts = options ?? {};
    let id = streamId;
    if (typeof streamId === 'object' && streamId !== null) {
      opts = streamId;
      id = opts.id;
    }
    const { method = 'GET', path = '/', authority = '127.0.0.1', scheme = 'http', headers = {}, endStream = true, huffman = false } = opts;
    id ??= this.nextStreamId;
    this.nextStreamId = Math.max(this.nextStreamId, id + 2);
    const pseudo = [[':method', method], [':scheme', scheme], [':authority', authority], [':path', path]].filter(([, v]) => v !== null && v !== undefined);
    this.headers(id, [...pseudo, ...fieldList(headers)], { endStream, huffman });
    return id;
  }

  /**
   * Sends a header block as given (no pseudo-headers added): trailers, or a
   * deliberately odd request. Split into CONTINUATION by the peer's max frame size.
   * @param {number} streamId
   * @param {Array<[string, string]>|Record<string, string|string[]>} headers
   * @param {{ endStream?: boolean, huffman?: boolean }} [options] endStream default true
   */
  headers(streamId, headers, { endStream = true, huffman = false } = {}) {
    const block = encodeHeaders(headers, { huffman });
    if (!this.streamWindows.has(streamId)) this.streamWindows.set(streamId, this.peerSettings.initialWindowSize ?? DEFAULT_WINDOW);
    let p = Math.min(block.length, this.maxFrameSize);
    this.sendFrame(1, (endStream ? END_STREAM : 0) | (p === block.length ? END_HEADERS : 0), streamId, block.subarray(0, p));
    while (p < block.length) {
      const q = Math.min(block.length, p + this.maxFrameSize);
      this.sendFrame(9, q === block.length ? END_HEADERS : 0, streamId, block.subarray(p, q));
      p = q;
    }
  }

  /**
   * Sends DATA now, split by the peer's max frame size, whatever the flow
   * control windows say (see `upload()` for a well-behaved sender). An empty
   * body sends one empty frame.
   * @param {number} streamId
   * @param {Uint8Array|string} body
   * @param {{ endStream?: boolean }} [options] endStream default false
   */
  data(streamId, body, { endStream = false } = {}) {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    let p = 0;
    do {
      const chunk = buf.subarray(p, p + this.maxFrameSize);
      p += chunk.length;
      this.connWindow -= chunk.length;
      this.streamWindows.set(streamId, this.sendWindow(streamId) - chunk.length);
      this.sendFrame(0, p >= buf.length && endStream ? END_STREAM : 0, streamId, chunk);
    } while (p < buf.length);
  }

  /**
   * Sends a body within the peer's flow control windows, waiting for
   * WINDOW_UPDATE as needed.
   * @param {number} streamId
   * @param {Uint8Array|string} body
   * @param {{ endStream?: boolean, timeoutMs?: number }} [options] endStream
   *   default true; timeoutMs (default 5000) for each wait for window
   * @returns {Promise<void>} rejects if the window stays shut or the connection ends
   */
  async upload(streamId, body, { endStream = true, timeoutMs = 5000 } = {}) {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    let p = 0;
    for (;;) {
      const n = Math.min(buf.length - p, this.maxFrameSize, this.connWindow, this.sendWindow(streamId));
      if (n > 0 || p === buf.length) {
        const last = p + n >= buf.length;
        this.data(streamId, buf.subarray(p, p + n), { endStream: endStream && last });
        p += n;
        if (last) return;
        continue;
      }
      await this.next((f) => f.typeName === 'WINDOW_UPDATE' || (f.typeName === 'SETTINGS' && !f.ack) || (f.typeName === 'RST_STREAM' && f.streamId === streamId),
        timeoutMs, `flow control window for stream ${streamId} (${p}/${buf.length} sent; windows: connection ${this.connWindow}, stream ${this.sendWindow(streamId)})`);
      const rst = this.frames.findLast((f) => f.typeName === 'RST_STREAM' && f.streamId === streamId);
      if (rst) throw new Error(`upload: stream ${streamId} was reset (${rst.errorName}) after ${p}/${buf.length} octets`);
    }
  }

  /**
   * The peer's flow control window as we have accounted it.
   * @param {number} [streamId] 0 (default) for the connection
   * @returns {number}
   */
  sendWindow(streamId = 0) {
    if (streamId === 0) return this.connWindow;
    return this.streamWindows.get(streamId) ?? this.peerSettings.initialWindowSize ?? DEFAULT_WINDOW;
  }

  /**
   * @param {number} streamId 0 for the connection
   * @param {number} increment
   */
  windowUpdate(streamId, increment) {
    this.sendFrame(8, 0, streamId, u32(increment));
  }

  /**
   * @param {number} streamId
   * @param {number} [code] default 8 (CANCEL)
   */
  rstStream(streamId, code = 8) {
    this.sendFrame(3, 0, streamId, u32(code));
  }

  /**
   * @param {Uint8Array|string} [opaque] up to 8 octets, zero-padded (default 8 zeros)
   * @param {boolean} [ack] send as an ACK (for `autoAckPing: false`)
   */
  ping(opaque = Buffer.alloc(8), ack = false) {
    const raw = typeof opaque === 'string' ? Buffer.from(opaque, 'latin1') : opaque;
    if (raw.length > 8) throw new Error('ping: opaque data is 8 octets');
    const data = Buffer.alloc(8);
    data.set(raw);
    this.sendFrame(6, ack ? ACK : 0, 0, data);
  }

  /**
   * Sends SETTINGS. Keys are names from SETTINGS (e.g. `initialWindowSize`)
   * or numeric ids; sent in the given order.
   * @param {Record<string, number>} [values]
   */
  settings(values = {}) {
    const parts = [];
    let tableSize;
    for (const [k, v] of Object.entries(values)) {
      const id = SETTINGS[k] ?? Number(k);
      if (!Number.isInteger(id)) throw new Error(`settings: unknown setting ${k}`);
      if (id === 1) tableSize = v;
      const b = Buffer.alloc(6);
      b.writeUInt16BE(id, 0);
      b.writeUInt32BE(v >>> 0, 2);
      parts.push(b);
    }
    // The server may use a larger table as soon as it has our SETTINGS, a
    // smaller limit binds once it ACKs (RFC 7541 §4.2).
    this.pendingTableSizes.push(tableSize);
    if (tableSize > this.decoder.limit) this.decoder.limit = tableSize;
    this.sendFrame(4, 0, 0, Buffer.concat(parts));
    const held = this.held;
    this.held = null;
    for (const args of held ?? []) this.sendFrame(...args);
  }

  /** Sends a SETTINGS ACK (for `autoAckSettings: false`). */
  settingsAck() {
    this.sendFrame(4, ACK, 0);
  }

  /**
   * @param {number} [lastStreamId] default 0
   * @param {number} [code] default 0 (NO_ERROR)
   * @param {string} [debug] opaque debug data
   */
  goaway(lastStreamId = 0, code = 0, debug = '') {
    this.sendFrame(7, 0, 0, Buffer.concat([u32(lastStreamId & 0x7fffffff), u32(code), Buffer.from(debug, 'latin1')]));
  }

  /** Half-closes: sends our FIN; frames keep arriving until the peer closes. */
  end() {
    this.socket.end();
  }

  /** Closes the socket at once (FIN, or RST if unread data is pending). */
  destroy() {
    this.localClose = true;
    this.socket.destroy();
  }

  /** Aborts the connection with a TCP RST. */
  reset() {
    this.localClose = true;
    this.socket.resetAndDestroy();
  }

  // --- receiving -----------------------------------------------------------

  /** @internal Splits received bytes into frames. */
  onData(chunk) {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 9) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + length) break;
      const type = this.buf[3];
      const f = {
        type,
        typeName: FRAME_TYPES[type] ?? `UNKNOWN_0x${type.toString(16)}`,
        flags: this.buf[4],
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        length,
        payload: this.buf.subarray(9, 9 + length),
        at: performance.now(),
      };
      this.buf = this.buf.subarray(9 + length);
      this.onFrame(f);
    }
  }

  /** @internal */
  onFrame(f) {
    if (this.pendingBlock && f.typeName !== 'CONTINUATION') {
      this.flushBlock('header block interrupted by another frame');
    }
    try {
      if (this.decodeFrame(f) === 'pending') return;
    } catch (e) {
      f.error = `malformed ${f.typeName}: ${e.message}`;
    }
    this.record(f);
  }

  /** @internal Adds the decoded fields; returns 'pending' if recorded later. */
  decodeFrame(f) {
    const p = f.payload;
    switch (f.typeName) {
      case 'DATA': {
        let data = p;
        if (f.flags & PADDED) {
          if (p.length < 1 || p[0] >= p.length) throw new Error('padding exceeds the payload');
          data = p.subarray(1, p.length - p[0]);
        }
        f.data = data;
        f.endStream = (f.flags & END_STREAM) !== 0;
        if (this.options.autoWindow && p.length > 0) {
          this.autoSend(8, 0, 0, u32(p.length));
          if (!f.endStream) this.autoSend(8, 0, f.streamId, u32(p.length));
        }
        return undefined;
      }
      case 'HEADERS':
      case 'PUSH_PROMISE': {
        let q = 0;
        let end = p.length;
        if (f.flags & PADDED) {
          if (p.length < 1) throw new Error('no pad length');
          end -= p[0];
          q = 1;
        }
        if (f.typeName === 'HEADERS') {
          f.endStream = (f.flags & END_STREAM) !== 0;
          if (f.flags & PRIORITY) {
            f.priority = { exclusive: (p[q] & 0x80) !== 0, dependency: p.readUInt32BE(q) & 0x7fffffff, weight: p[q + 4] + 1 };
            q += 5;
          }
        } else {
          f.promisedStreamId = p.readUInt32BE(q) & 0x7fffffff;
          q += 4;
        }
        if (end < q) throw new Error('padding exceeds the payload');
        this.pendingBlock = { f, parts: [p.subarray(q, end)], conts: [] };
        if (f.flags & END_HEADERS) {
          this.flushBlock();
          return 'pending'; // recorded by flushBlock
        }
        return 'pending';
      }
      case 'CONTINUATION': {
        const b = this.pendingBlock;
        if (!b || b.f.streamId !== f.streamId) {
          if (b) this.flushBlock('CONTINUATION on another stream');
          throw new Error('no header block to continue');
        }
        b.parts.push(p);
        b.conts.push(f);
        if (f.flags & END_HEADERS) this.flushBlock();
        return 'pending';
      }
      case 'PRIORITY':
        f.priority = { exclusive: (p[0] & 0x80) !== 0, dependency: p.readUInt32BE(0) & 0x7fffffff, weight: p[4] + 1 };
        return undefined;
      case 'RST_STREAM':
        f.errorCode = p.readUInt32BE(0);
        f.errorName = errorName(f.errorCode);
        return undefined;
      case 'SETTINGS': {
        f.ack = (f.flags & ACK) !== 0;
        f.values = {};
        if (p.length % 6 !== 0) throw new Error(`payload of ${p.length} octets`);
        for (let q = 0; q < p.length; q += 6) {
          const id = p.readUInt16BE(q);
          f.values[SETTINGS_NAMES[id] ?? id] = p.readUInt32BE(q + 2);
        }
        if (f.ack) {
          const size = this.pendingTableSizes.shift();
          if (size !== undefined) this.decoder.limit = size;
        } else {
          const v = f.values;
          if (v.initialWindowSize !== undefined) {
            const delta = v.initialWindowSize - (this.peerSettings.initialWindowSize ?? DEFAULT_WINDOW);
            for (const [id, w] of this.streamWindows) this.streamWindows.set(id, w + delta);
          }
          if (v.maxFrameSize !== undefined) this.maxFrameSize = v.maxFrameSize;
          Object.assign(this.peerSettings, v);
          if (this.options.autoAckSettings) this.autoSend(4, ACK, 0);
        }
        return undefined;
      }
      case 'PING':
        f.ack = (f.flags & ACK) !== 0;
        f.opaque = Buffer.from(p);
        if (p.length !== 8) throw new Error(`payload of ${p.length} octets`);
        if (!f.ack && this.options.autoAckPing) this.autoSend(6, ACK, 0, f.opaque);
        return undefined;
      case 'GOAWAY':
        f.lastStreamId = p.readUInt32BE(0) & 0x7fffffff;
        f.errorCode = p.readUInt32BE(4);
        f.errorName = errorName(f.errorCode);
        f.debug = p.subarray(8).toString('latin1');
        return undefined;
      case 'WINDOW_UPDATE':
        f.increment = p.readUInt32BE(0) & 0x7fffffff;
        if (f.streamId === 0) this.connWindow += f.increment;
        else this.streamWindows.set(f.streamId, this.sendWindow(f.streamId) + f.increment);
        return undefined;
      default:
        return undefined;
    }
  }

  /** Decodes and records the pending header block (and its CONTINUATIONs). */
  flushBlock(error) {
    const { f, parts, conts } = this.pendingBlock;
    this.pendingBlock = null;
    f.block = Buffer.concat(parts);
    f.continuations = conts.length;
    if (error) {
      f.error = error;
      f.headers = [];
    } else {
      try {
        f.fields = this.decoder.decodeFields(f.block);
        f.headers = f.fields.map(({ name, value }) => [name, value]);
      } catch (e) {
        f.error = e.message;
        f.headers = [];
      }
    }
    this.record(f);
    for (const c of conts) this.record(c);
  }

  /** @internal Appends to `frames` and emits 'frame'. */
  record(f) {
    if (this.options.debug) console.error(`h2wire <- ${describe(f)}${f.error ? ` ${f.error}` : ''}`);
    this.frames.push(f);
    this.emit('frame', f);
  }

  // --- waiting -------------------------------------------------------------

  /**
   * The first frame, already received or yet to come, for which `pred` holds.
   * @param {(f: Frame) => boolean} pred
   * @param {number} [timeoutMs] default 3000
   * @param {string} [label] names what is awaited in the error
   * @returns {Promise<Frame>} rejects on timeout or when the connection ends
   *   first, listing the frames seen
   */
  waitFor(pred, timeoutMs = 3000, label) {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return this.next(pred, timeoutMs, label);
  }

  /**
   * Like `waitFor()`, but only frames that arrive from now on count.
   * @param {(f: Frame) => boolean} pred
   * @param {number} [timeoutMs] default 3000
   * @param {string} [label]
   * @returns {Promise<Frame>}
   */
  next(pred, timeoutMs = 3000, label) {
    const what = label ?? String(pred).replace(/\s+/g, ' ').slice(0, 120);
    return new Promise((resolve, reject) => {
      const fail = (why) => {
        cleanup();
        reject(new Error(`h2wire: ${why} while waiting for ${what}; frames: ${this.summary() || '(none)'}`));
      };
      const onFrame = (f) => {
        if (pred(f)) {
          cleanup();
          resolve(f);
        }
      };
      const onClose = (info) => fail(`connection ended (${info.how}${info.code ? ` ${info.code}` : ''})`);
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('frame', onFrame);
        this.off('close', onClose);
      };
      this.on('frame', onFrame);
      if (this.closeInfo) onClose(this.closeInfo);
      else this.on('close', onClose);
    });
  }

  /**
   * The frames received so far as short text, runs collapsed:
   * `SETTINGS@0 SETTINGS@0+ACK HEADERS@1(200) DATA@1×3 DATA@1+ES GOAWAY@0(last 1, NO_ERROR)`.
   * @returns {string}
   */
  summary() {
    const out = [];
    let prev = null;
    let n = 0;
    const flush = () => { if (prev !== null) out.push(n > 1 ? `${prev}×${n}` : prev); };
    for (const f of this.frames) {
      const s = describe(f);
      if (s === prev) n++;
      else {
        flush();
        prev = s;
        n = 1;
      }
    }
    flush();
    return out.join(' ');
  }

  /**
   * Collects the response on a stream once it has ended (END_STREAM or
   * RST_STREAM).
   * @param {number} streamId
   * @param {number} [timeoutMs] default 5000
   * @returns {Promise<Response>} rejects on timeout or if the connection ends first
   */
  async response(streamId, timeoutMs = 5000) {
    const last = await this.waitFor((f) => f.streamId === streamId
      && (f.typeName === 'RST_STREAM' || ((f.typeName === 'DATA' || f.typeName === 'HEADERS') && f.endStream)), timeoutMs, `the end of stream ${streamId}`);
    const mine = this.frames.slice(0, this.frames.indexOf(last) + 1).filter((f) => f.streamId === streamId);
    const informational = [];
    let headers = null;
    let trailers = [];
    for (const f of mine) {
      if (f.typeName !== 'HEADERS') continue;
      const status = f.headers.find(([n]) => n === ':status')?.[1];
      if (headers === null && status !== undefined && status.startsWith('1') && status.length === 3) informational.push(f.headers);
      else if (headers === null) headers = f.headers;
      else trailers = f.headers;
    }
    headers ??= [];
    return {
      status: Number(headers.find(([n]) => n === ':status')?.[1] ?? NaN),
      headers,
      trailers,
      informational,
      body: Buffer.concat(mine.filter((f) => f.typeName === 'DATA').map((f) => f.data)),
      endStream: last.typeName !== 'RST_STREAM',
      rst: last.typeName === 'RST_STREAM' ? last.errorCode : null,
    };
  }
}
