'use strict';

const http = require('node:http');
const { Readable } = require('node:stream');
const { kServer, kId, kConn, kEnded, kDemanded, kDumped, kStart, kResponse, kFinished } = require('./symbols');
const { kNodeHeaders, kNodeHeadersCount, kNodeTrailers, kNodeTrailersCount, kAbortController } = require('./nodeshape');

const HIGH_WATER_MARK = 16 * 1024;

// The request, as node:http's IncomingMessage: an instance of it, and one
// that keeps working when a framework moves it onto another prototype
// derived from http.IncomingMessage.prototype (Express does, per request).
// So everything lives where Node's own prototype methods look for it: own
// properties, Node's private header symbols (see nodeshape.js), and the
// Readable's `_read`/`_destroy` as own properties (the documented
// `new Readable({ read, destroy })` form), which no prototype swap removes.
// Headers are decoded by Node's own getter on first use.
function IncomingMessage(server, id, conn, socket, method, url, version, hasBody, rawHeaders, start) {
  Readable.call(this, { highWaterMark: HIGH_WATER_MARK, read: readBody, destroy: destroyRequest });
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
  this[kServer] = server;
  this[kStart] = start;
  this[kId] = id;
  this[kConn] = conn;
  this[kEnded] = !hasBody;
  this[kDemanded] = false;
  this[kDumped] = false;
  this[kResponse] = null;
  if (!hasBody) this.push(null);
}

Object.setPrototypeOf(IncomingMessage.prototype, http.IncomingMessage.prototype);
Object.setPrototypeOf(IncomingMessage, http.IncomingMessage);

// `_read`: ask the native side for more of the body (DESIGN §3: the body is
// read from the socket only as JS consumes it).
function readBody() {
  if (!this._consuming) this._consuming = true;
  if (this[kEnded] || this[kDemanded]) return;
  this[kDemanded] = true;
  this[kServer]._demand(this[kId]);
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
    this[kServer]._abort(this[kId]);
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

// The body ended; `trailers` is a flat [name, value, …] list or null.
function endBody(req, trailers) {
  req[kEnded] = true;
  if (trailers !== null && trailers.length > 0) {
    req.rawTrailers = trailers;
    req[kNodeTrailersCount] = trailers.length;
  }
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

// The header block of a request record: [u16 name length][name][u32 value
// length][value]…, latin1 (as Node decodes header bytes). Decoded with one
// native call for the whole block; names and values are then substrings.
function decodeHeaders(buf, start, end) {
  const raw = [];
  if (start >= end) return raw;
  const text = buf.latin1Slice(start, end);
  let p = start;
  while (p < end) {
    const nlen = buf[p] | (buf[p + 1] << 8);
    const n0 = p + 2 - start;
    p += 2 + nlen;
    const vlen = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16)) + (buf[p + 3] * 0x1000000);
    const v0 = p + 4 - start;
    p += 4 + vlen;
    raw.push(text.substring(n0, n0 + nlen), text.substring(v0, v0 + vlen));
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

module.exports = { IncomingMessage, pushBody, endBody, dumpBody, decodeHeaders };
