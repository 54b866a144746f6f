'use strict';

const { Readable } = require('node:stream');
const {
  kServer, kId, kConn, kHasBody, kEnded, kDemanded, kDumped, kStream,
  kHeaderBuf, kHeaderStart, kHeaderEnd, kHeaders, kRawHeaders, kStart,
} = require('./symbols');
const { socketFor } = require('./socket');

// Headers of which Node keeps only the first value (lib/_http_incoming.js).
const SINGLE = new Set([
  'content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization',
  'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location',
  'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires',
  ':method', ':path', ':scheme', ':authority', ':status', ':protocol',
]);

const READABLE_OPTIONS = { highWaterMark: 16 * 1024 };

// The request, as node:http's IncomingMessage. It is a Readable, but the
// stream machinery is built on first use (DESIGN §3 "Objects"): a handler
// that never reads the body or listens for stream events never pays for it.
function IncomingMessage(server, id, conn, method, url, version, hasBody, buf, hStart, hEnd, start) {
  this[kServer] = server;
  this[kStart] = start;
  this[kId] = id;
  this[kConn] = conn;
  this[kHasBody] = hasBody;
  this[kEnded] = !hasBody;
  this[kDemanded] = false;
  this[kDumped] = false;
  this[kStream] = false;
  this[kHeaderBuf] = buf;
  this[kHeaderStart] = hStart;
  this[kHeaderEnd] = hEnd;
  this[kHeaders] = null;
  this[kRawHeaders] = null;
  this.method = method;
  this.url = url;
  this.httpVersionMajor = version === 20 ? 2 : 1;
  this.httpVersionMinor = version === 20 ? 0 : version === 10 ? 0 : 1;
  this.httpVersion = version === 20 ? '2.0' : version === 10 ? '1.0' : '1.1';
  // As in node:http, `complete` turns true once the handler has returned
  // (bodyless requests) or the body has ended.
  this.complete = false;
  this.aborted = false;
  this.upgrade = false;
  this.statusCode = null;
  this.statusMessage = null;
}

Object.setPrototypeOf(IncomingMessage.prototype, Readable.prototype);
Object.setPrototypeOf(IncomingMessage, Readable);

function ensureStream(req) {
  if (req[kStream]) return;
  req[kStream] = true;
  Readable.call(req, READABLE_OPTIONS);
  if (req[kEnded]) req.push(null);
}

// Readable's constructor assigns `_readableState`; until then, reading it
// builds the stream. The setter turns it into a plain own property.
Object.defineProperty(IncomingMessage.prototype, '_readableState', {
  configurable: true,
  enumerable: false,
  get() {
    ensureStream(this);
    return this._readableState;
  },
  set(value) {
    Object.defineProperty(this, '_readableState', { value, writable: true, configurable: true, enumerable: false });
  },
});

IncomingMessage.prototype._read = function _read() {
  if (this[kEnded] || this[kDemanded]) return;
  this[kDemanded] = true;
  this[kServer]._demand(this[kId]);
};

IncomingMessage.prototype._destroy = function _destroy(err, cb) {
  if (!this.readableEnded || !this.complete) {
    this.aborted = true;
    this.emit('aborted');
  }
  if (!this[kEnded]) {
    // The app gave up on the body (or the client went away): end the
    // exchange so the connection does not wait for it.
    this[kEnded] = true;
    this[kServer]._abort(this[kId]);
  }
  // As Node: an error is passed on only if someone listens for it.
  process.nextTick(cb, this.listenerCount('error') > 0 ? err : null);
};

// Called by the server for each body event.
IncomingMessage.prototype._onBody = function _onBody(chunk) {
  this[kDemanded] = false;
  if (this[kDumped]) return;
  ensureStream(this);
  this.push(chunk);
};

IncomingMessage.prototype._onEnd = function _onEnd() {
  this[kEnded] = true;
  this.complete = true;
  if (this[kDumped]) return;
  ensureStream(this);
  this.push(null);
};

// The response finished: a body nobody asked for is discarded, as Node's
// `req._dump()` does, so `req` still ends and closes.
IncomingMessage.prototype._dump = function _dump() {
  if (this[kEnded] || this[kDemanded] || (this[kStream] && this.readableFlowing)) return false;
  this[kDumped] = true;
  this[kEnded] = true;
  if (this[kStream]) this.push(null);
  return true;
};

function parseHeaders(req) {
  const buf = req[kHeaderBuf];
  const end = req[kHeaderEnd];
  let p = req[kHeaderStart];
  const headers = { __proto__: null };
  const raw = [];
  while (p < end) {
    const nlen = buf[p] | (buf[p + 1] << 8);
    const name = buf.latin1Slice(p + 2, p + 2 + nlen);
    p += 2 + nlen;
    const vlen = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16)) + (buf[p + 3] * 0x1000000);
    const value = buf.latin1Slice(p + 4, p + 4 + vlen);
    p += 4 + vlen;
    raw.push(name, value);
    const prev = headers[name];
    if (prev === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
    } else if (name === 'set-cookie') {
      prev.push(value);
    } else if (SINGLE.has(name)) {
      // keep the first
    } else if (name === 'cookie') {
      headers[name] = `${prev}; ${value}`;
    } else {
      headers[name] = `${prev}, ${value}`;
    }
  }
  // Node's headers object has Object.prototype; build the final one once.
  req[kHeaders] = Object.assign({}, headers);
  req[kRawHeaders] = raw;
  req[kHeaderBuf] = null;
}

Object.defineProperties(IncomingMessage.prototype, {
  headers: {
    configurable: true,
    enumerable: true,
    get() {
      if (this[kHeaders] === null) parseHeaders(this);
      return this[kHeaders];
    },
    set(v) {
      if (this[kHeaders] === null) parseHeaders(this);
      this[kHeaders] = v;
    },
  },
  rawHeaders: {
    configurable: true,
    enumerable: true,
    get() {
      if (this[kHeaders] === null) parseHeaders(this);
      return this[kRawHeaders];
    },
    set(v) {
      if (this[kHeaders] === null) parseHeaders(this);
      this[kRawHeaders] = v;
    },
  },
  headersDistinct: {
    configurable: true,
    get() {
      const raw = this.rawHeaders;
      const out = {};
      for (let i = 0; i < raw.length; i += 2) (out[raw[i]] ||= []).push(raw[i + 1]);
      return out;
    },
  },
  trailers: { configurable: true, get() { return {}; } },
  rawTrailers: { configurable: true, get() { return []; } },
  socket: {
    configurable: true,
    enumerable: true,
    get() {
      return socketFor(this[kServer], this[kConn]);
    },
  },
  connection: {
    configurable: true,
    get() {
      return this.socket;
    },
  },
  // HTTP/2 compatibility fields (Node's Http2ServerRequest).
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

IncomingMessage.prototype.setTimeout = function setTimeout(msecs, callback) {
  if (callback) this.on('timeout', callback);
  return this;
};

module.exports = { IncomingMessage };
