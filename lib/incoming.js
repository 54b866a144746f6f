'use strict';

const http = require('node:http');
const { Readable } = require('node:stream');
const { kTransport, kId, kConn, kEnded, kDemanded, kDumped, kStart, kResponse, kFinished } = require('./symbols');
const { kNodeHeaders, kNodeHeadersCount, kNodeTrailers, kNodeTrailersCount, kAbortController } = require('./nodeshape');

const HIGH_WATER_MARK = 16 * 1024;
const READABLE_OPTIONS = { highWaterMark: HIGH_WATER_MARK };
const { ReadableState } = Readable;

// The request, as node:http's IncomingMessage: an instance of it, and one
// that keeps working when a framework moves it onto another prototype
// derived from http.IncomingMessage.prototype (Express does, per request).
// So everything lives where Node's own prototype methods look for it: own
// properties, Node's private header symbols (see nodeshape.js), and the
// Readable's `_read`/`_destroy` as own properties (the documented
// `new Readable({ read, destroy })` form), which no prototype swap removes.
// Headers are decoded by Node's own getter on first use.
function IncomingMessage(transport, id, conn, socket, method, url, version, hasBody, rawHeaders, start) {
  // What Readable's constructor does, less the EventEmitter state (made on
  // first listener, as EventEmitter allows) and the options parsing.
  this._readableState = new ReadableState(READABLE_OPTIONS, this, false);
  this._read = readBody;
  this._destroy = destroyRequest;
  this.socket = socket;
  this.httpVersionMajor = version === 20 ? 2 : 1;
  this.httpVersionMinor = version === 11 ? 1 : 0;
  this.httpVersion = version === 20 ? '2.0' : version === 10 ? '1.0' : '1.1';
  // As in node:http, `complete` turns true once the handler has returned
  // (bodyless requests) or the body has ended.
  this.complete = false;
  this[kNodeHeaders] = null;
  this[kNodeHeadersCount] = rawHeaders.length;
  this.rawHeaders = rawHeaders;
  this[kNodeTrailers] = null;
  this[kNodeTrailersCount] = 0;
  this.rawTrailers = [];
  this.joinDuplicateHeaders = false;
  this.aborted = false;
  this.upgrade = false;
  this.url = url;
  this.method = method;
  this.statusCode = null;
  this.statusMessage = null;
  this.client = socket;
  this._consuming = false;
  this._dumped = false;
  if (kAbortController !== undefined) this[kAbortController] = null;
  this[kTransport] = transport;
  this[kStart] = start;
  this[kId] = id;
  this[kConn] = conn;
  this[kEnded] = !hasBody;
  this[kDemanded] = false;
  this[kDumped] = false;
  this[kResponse] = null;
}

Object.setPrototypeOf(IncomingMessage.prototype, http.IncomingMessage.prototype);
Object.setPrototypeOf(IncomingMessage, http.IncomingMessage);

// `_read`: ask the native side for more of the body (DESIGN §3: the body is
// read from the socket only as JS consumes it).
function readBody() {
  if (!this._consuming) this._consuming = true;
  if (this[kEnded]) {
    // A request without a body ends when first read: pushing the end at
    // once would schedule a 'readable' tick for every request.
    if (!this._readableState.ended) this.push(null);
    return;
  }
  if (this[kDemanded]) return;
  this[kDemanded] = true;
  this[kTransport].demand(this[kId]);
}

// `_destroy`, as node:http's: a request destroyed before it is complete is
// 'aborted'. A destroyed request whose response is not finished ends its
// exchange, as Node destroys the socket: HTTP/1.1 closes the connection
// without a response, HTTP/2 resets the stream.
function destroyRequest(err, cb) {
  const aborted = !this.readableEnded || !this.complete;
  if (aborted) {
    this.aborted = true;
    this.emit('aborted');
    if (kAbortController !== undefined) this[kAbortController]?.abort();
  }
  const res = this[kResponse];
  if (aborted && res !== null && !res[kFinished] && !res.destroyed) {
    this[kEnded] = true;
    res.destroy();
  } else if (!this[kEnded]) {
    // The app gave up on the body (or the client went away): end the
    // exchange so the connection does not wait for it.
    this[kEnded] = true;
    this[kTransport].abort(this[kId]);
  }
  // As Node: an error is passed on only if someone listens for it.
  process.nextTick(cb, this.listenerCount('error') > 0 ? err : null);
}

// A chunk of the body arrived from the native side.
function pushBody(req, chunk) {
  req[kDemanded] = false;
  if (req[kDumped]) return;
  req.push(chunk);
}

// The body's trailers arrived (just before its end): `req.trailers` and
// `rawTrailers`, decoded by Node's own getter as headers are.
function setTrailers(req, raw) {
  req.rawTrailers = raw;
  req[kNodeTrailersCount] = raw.length;
  req[kNodeTrailers] = null;
}

// The body ended.
function endBody(req) {
  req[kEnded] = true;
  req.complete = true;
  if (req[kDumped]) return;
  req.push(null);
}

// The response finished: a body nobody asked for is discarded, as Node's
// `req._dump()` does, so `req` still ends and closes. Returns whether it
// discarded anything.
function dumpBody(req) {
  if (req[kEnded] || req[kDemanded] || req.readableFlowing) return false;
  req[kDumped] = true;
  req._dumped = true;
  req[kEnded] = true;
  req.push(null);
  return true;
}

// Header names and values repeat from request to request (the same Host,
// User-Agent, Accept on every request of a client), so decoded strings are
// kept in a small direct-mapped cache and reused when the bytes match:
// comparing a few bytes costs less than a call into C++ to make a string.
const CACHE_SIZE = 512;
const CACHE_MAX_LEN = 64;
const cache = new Array(CACHE_SIZE).fill('');

function latin1At(buf, start, len) {
  if (len === 0) return '';
  if (len > CACHE_MAX_LEN) return buf.latin1Slice(start, start + len);
  const slot = (len * 31 + buf[start] * 7 + buf[start + (len >> 1)] * 3 + buf[start + len - 1]) & (CACHE_SIZE - 1);
  const hit = cache[slot];
  if (hit.length === len) {
    let i = 0;
    while (i < len && hit.charCodeAt(i) === buf[start + i]) i++;
    if (i === len) return hit;
  }
  const str = buf.latin1Slice(start, start + len);
  cache[slot] = str;
  return str;
}

// The header block of a request record: [u16 name length][name][u32 value
// length][value]…, latin1 (as Node decodes header bytes).
function decodeHeaders(buf, start, end) {
  const raw = [];
  let p = start;
  while (p < end) {
    const nlen = buf[p] | (buf[p + 1] << 8);
    const name = latin1At(buf, p + 2, nlen);
    p += 2 + nlen;
    const vlen = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16)) + (buf[p + 3] * 0x1000000);
    raw.push(name, latin1At(buf, p + 4, vlen));
    p += 4 + vlen;
  }
  return raw;
}

// HTTP/2 compatibility fields (Node's Http2ServerRequest).
Object.defineProperties(IncomingMessage.prototype, {
  authority: {
    configurable: true,
    get() {
      return this.httpVersionMajor === 2 ? this.headers[':authority'] : undefined;
    },
  },
  scheme: {
    configurable: true,
    get() {
      return this.httpVersionMajor === 2 ? this.headers[':scheme'] : undefined;
    },
  },
});

module.exports = { IncomingMessage, pushBody, endBody, setTrailers, dumpBody, decodeHeaders };
