'use strict';

const { Stream } = require('node:stream');
const { STATUS_CODES } = require('node:http');
const { codes } = require('./errors');
const {
  kServer, kId, kOutHeaders, kHeadState, kOutstanding, kCallbacks, kNeedDrain,
  kHasBody, kFinished, kClosed,
} = require('./symbols');

const HIGH_WATER_MARK = 16 * 1024;
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

// Head states: nothing yet, head decided (headersSent), head op written.
const HEAD_NONE = 0;
const HEAD_STORED = 1;
const HEAD_WRITTEN = 2;

function validateHeaderName(name) {
  if (typeof name !== 'string' || !name || !TOKEN.test(name)) {
    throw codes.ERR_INVALID_HTTP_TOKEN('Header name', name);
  }
}

// Header names already validated, with their lower-case keys: most
// handlers set the same few names on every response, so each is checked
// and lower-cased once. Bounded, so names made up per request cannot grow
// it without limit.
const knownNames = new Map();
const KNOWN_NAMES_MAX = 512;

// The key a header name is stored under; throws as Node does if the name
// is not a valid token.
function headerKey(name) {
  const known = knownNames.get(name);
  if (known !== undefined) return known;
  validateHeaderName(name);
  const key = name.toLowerCase();
  if (knownNames.size < KNOWN_NAMES_MAX) knownNames.set(name, key);
  return key;
}

function validateHeaderValue(name, value) {
  if (value === undefined) throw codes.ERR_HTTP_INVALID_HEADER_VALUE(value, name);
  if (Array.isArray(value)) {
    for (const v of value) validateHeaderValue(name, v);
    return;
  }
  if (INVALID_VALUE_CHAR.test(String(value))) throw codes.ERR_INVALID_CHAR('header content', name);
}

// The response, as node:http's ServerResponse. Like Node's it is a legacy
// Stream with Writable's surface (not a stream.Writable instance), and its
// EventEmitter state is created on first listener.
function ServerResponse(server, req, id) {
  this[kServer] = server;
  this[kId] = id;
  this[kOutHeaders] = null;
  this[kHeadState] = HEAD_NONE;
  this[kOutstanding] = 0;
  this[kCallbacks] = null;
  this[kNeedDrain] = false;
  this[kHasBody] = req.method !== 'HEAD';
  this[kFinished] = false;
  this[kClosed] = false;
  this.req = req;
  this.statusCode = 200;
  this.statusMessage = undefined;
  this.finished = false;
  this.destroyed = false;
  this.sendDate = true;
}

Object.setPrototypeOf(ServerResponse.prototype, Stream.prototype);
Object.setPrototypeOf(ServerResponse, Stream);

const proto = ServerResponse.prototype;

Object.defineProperties(proto, {
  headersSent: { configurable: true, get() { return this[kHeadState] !== HEAD_NONE; } },
  writable: { configurable: true, get() { return !this.finished && !this.destroyed; } },
  writableEnded: { configurable: true, get() { return this.finished; } },
  writableFinished: { configurable: true, get() { return this[kFinished]; } },
  writableLength: { configurable: true, get() { return this[kOutstanding]; } },
  writableHighWaterMark: { configurable: true, get() { return HIGH_WATER_MARK; } },
  writableNeedDrain: { configurable: true, get() { return this[kNeedDrain]; } },
  writableObjectMode: { configurable: true, get() { return false; } },
  writableCorked: { configurable: true, get() { return 0; } },
  closed: { configurable: true, get() { return this[kClosed]; } },
  socket: { configurable: true, get() { return this.req.socket; } },
  connection: { configurable: true, get() { return this.req.socket; } },
});

// Headers live in a Map from lower-case key to [name as given, value]:
// insertion-ordered like Node's, and cheap to walk once per response.
proto.setHeader = function setHeader(name, value) {
  if (this[kHeadState] !== HEAD_NONE) throw codes.ERR_HTTP_HEADERS_SENT('set');
  const key = headerKey(name);
  validateHeaderValue(name, value);
  (this[kOutHeaders] ??= new Map()).set(key, [name, value]);
  return this;
};

proto.appendHeader = function appendHeader(name, value) {
  if (this[kHeadState] !== HEAD_NONE) throw codes.ERR_HTTP_HEADERS_SENT('append');
  const key = headerKey(name);
  validateHeaderValue(name, value);
  const headers = (this[kOutHeaders] ??= new Map());
  const prev = headers.get(key);
  if (prev === undefined) {
    headers.set(key, [name, value]);
  } else {
    const list = Array.isArray(prev[1]) ? prev[1] : [prev[1]];
    headers.set(key, [prev[0], list.concat(value)]);
  }
  return this;
};

proto.getHeader = function getHeader(name) {
  if (typeof name !== 'string') throw codes.ERR_INVALID_ARG_TYPE('name', 'of type string', name);
  const entry = this[kOutHeaders]?.get(name.toLowerCase());
  return entry && entry[1];
};

proto.getHeaders = function getHeaders() {
  const out = { __proto__: null };
  const headers = this[kOutHeaders];
  if (headers) for (const [key, entry] of headers) out[key] = entry[1];
  return out;
};

proto.getHeaderNames = function getHeaderNames() {
  return this[kOutHeaders] ? [...this[kOutHeaders].keys()] : [];
};

proto.getRawHeaderNames = function getRawHeaderNames() {
  const headers = this[kOutHeaders];
  return headers ? [...headers.values()].map((e) => e[0]) : [];
};

proto.hasHeader = function hasHeader(name) {
  if (typeof name !== 'string') throw codes.ERR_INVALID_ARG_TYPE('name', 'of type string', name);
  return this[kOutHeaders]?.has(name.toLowerCase()) === true;
};

proto.removeHeader = function removeHeader(name) {
  if (typeof name !== 'string') throw codes.ERR_INVALID_ARG_TYPE('name', 'of type string', name);
  if (this[kHeadState] !== HEAD_NONE) throw codes.ERR_HTTP_HEADERS_SENT('remove');
  this[kOutHeaders]?.delete(name.toLowerCase());
};

function noBodyStatus(code) {
  return code === 204 || code === 304 || (code >= 100 && code < 200);
}

proto.writeHead = function writeHead(statusCode, reason, obj) {
  if (this[kHeadState] !== HEAD_NONE) throw codes.ERR_HTTP_HEADERS_SENT('write');
  const original = statusCode;
  statusCode |= 0;
  if (statusCode < 100 || statusCode > 999) throw codes.ERR_HTTP_INVALID_STATUS_CODE(original);
  if (typeof reason === 'string') {
    this.statusMessage = reason;
  } else {
    this.statusMessage ||= STATUS_CODES[statusCode] || 'unknown';
    obj ??= reason;
  }
  if (INVALID_VALUE_CHAR.test(this.statusMessage)) throw codes.ERR_INVALID_CHAR('statusMessage');
  if (obj) {
    if (Array.isArray(obj)) {
      if (obj.length && Array.isArray(obj[0])) {
        for (const [k, v] of obj) this.appendHeader(k, v);
      } else {
        if (obj.length % 2 !== 0) throw codes.ERR_INVALID_ARG_VALUE('headers', obj);
        for (let i = 0; i < obj.length; i += 2) this.appendHeader(obj[i], obj[i + 1]);
      }
    } else {
      for (const key of Object.keys(obj)) {
        if (obj[key] !== undefined) this.setHeader(key, obj[key]);
      }
    }
  }
  this.statusCode = statusCode;
  this[kHeadState] = HEAD_STORED;
  return this;
};

// Decides the head implicitly, as the first write() or end() does in Node.
function implicitHead(res) {
  const code = res.statusCode;
  if (!(code >= 100 && code <= 999) || (code | 0) !== code) throw codes.ERR_HTTP_INVALID_STATUS_CODE(code);
  res.statusMessage ||= STATUS_CODES[code] || 'unknown';
  if (INVALID_VALUE_CHAR.test(res.statusMessage)) throw codes.ERR_INVALID_CHAR('statusMessage');
  res[kHeadState] = HEAD_STORED;
}

function writeHeadOp(res, end) {
  res[kHeadState] = HEAD_WRITTEN;
  const code = res.statusCode;
  if (noBodyStatus(code)) res[kHasBody] = false;
  const flat = [];
  const headers = res[kOutHeaders];
  if (headers) {
    for (const entry of headers.values()) {
      const name = entry[0];
      const value = entry[1];
      if (Array.isArray(value)) {
        for (const v of value) flat.push(name, String(v));
      } else {
        flat.push(name, typeof value === 'string' ? value : String(value));
      }
    }
  }
  const reason = res.statusMessage !== STATUS_CODES[code] ? res.statusMessage : undefined;
  res[kServer]._writer().head(res[kId], code, end || !res[kHasBody], reason, flat);
}

function validateChunk(chunk) {
  if (chunk === null) throw codes.ERR_STREAM_NULL_VALUES();
  if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
    throw codes.ERR_INVALID_ARG_TYPE('chunk', 'of type string or an instance of Buffer or Uint8Array', chunk);
  }
}

function emitErrorNt(res, err, cb) {
  if (typeof cb === 'function') cb(err);
  if (!res.destroyed) res.emit('error', err);
}

proto.write = function write(chunk, encoding, cb) {
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = null;
  }
  if (this.finished || this.destroyed) {
    const err = this.finished ? codes.ERR_STREAM_WRITE_AFTER_END() : codes.ERR_STREAM_DESTROYED('write');
    if (this.destroyed) {
      if (typeof cb === 'function') process.nextTick(cb, err);
    } else {
      process.nextTick(emitErrorNt, this, err, cb);
    }
    return false;
  }
  validateChunk(chunk);
  if (this[kHeadState] === HEAD_NONE) implicitHead(this);
  if (this[kHeadState] === HEAD_STORED) writeHeadOp(this, false);
  if (!this[kHasBody]) {
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  }
  const len = typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding || 'utf8') : chunk.byteLength;
  if (len === 0) {
    if (typeof cb === 'function') process.nextTick(cb);
    return !this[kNeedDrain];
  }
  const outstanding = this[kOutstanding] + len;
  const over = outstanding >= HIGH_WATER_MARK;
  const hasCb = typeof cb === 'function';
  this[kServer]._writer().data(this[kId], chunk, encoding || 'utf8', false, over || hasCb);
  this[kOutstanding] = outstanding;
  if (hasCb) (this[kCallbacks] ??= []).push(cb);
  if (over) this[kNeedDrain] = true;
  this[kServer]._scheduleFlush();
  return !over;
};

proto.end = function end(chunk, encoding, cb) {
  if (typeof chunk === 'function') {
    cb = chunk;
    chunk = null;
  } else if (typeof encoding === 'function') {
    cb = encoding;
    encoding = null;
  }
  if (chunk != null && (this.finished || this.destroyed)) {
    return this.write(chunk, encoding, cb) && this;
  }
  if (this.finished || this.destroyed) {
    if (typeof cb === 'function') {
      if (this[kFinished] || this.destroyed) process.nextTick(cb, codes.ERR_STREAM_ALREADY_FINISHED('end'));
      else this.once('finish', cb);
    }
    return this;
  }
  if (chunk != null) validateChunk(chunk);
  if (typeof cb === 'function') this.once('finish', cb);
  const server = this[kServer];
  const hasData = chunk != null && this[kHasBody] &&
    (typeof chunk === 'string' ? chunk.length > 0 : chunk.byteLength > 0);
  if (this[kHeadState] === HEAD_NONE) implicitHead(this);
  if (this[kHeadState] === HEAD_STORED) {
    // Head and whole body in one flush: sent with a Content-Length.
    writeHeadOp(this, !(hasData && this[kHasBody]));
    if (hasData && this[kHasBody]) server._writer().data(this[kId], chunk, encoding || 'utf8', true, false);
  } else {
    server._writer().data(this[kId], this[kHasBody] && hasData ? chunk : null, encoding || 'utf8', true, false);
  }
  this.finished = true;
  server._finishing(this);
  return this;
};

proto.flushHeaders = function flushHeaders() {
  if (this.finished || this.destroyed) return;
  if (this[kHeadState] === HEAD_NONE) implicitHead(this);
  if (this[kHeadState] === HEAD_STORED) {
    writeHeadOp(this, false);
    this[kServer]._scheduleFlush();
  }
};

proto.writeContinue = function writeContinue(cb) {
  // hyper answers `Expect: 100-continue` when the body is first read.
  if (typeof cb === 'function') process.nextTick(cb);
};

proto.writeProcessing = function writeProcessing(cb) {
  if (typeof cb === 'function') process.nextTick(cb);
};

proto.addTrailers = function addTrailers() {
  // Trailers are not supported yet (README: differences from node:http).
};

proto.setTimeout = function setTimeout(msecs, callback) {
  if (callback) this.on('timeout', callback);
  return this;
};

proto.cork = function cork() {};
proto.uncork = function uncork() {};

proto.destroy = function destroy(err) {
  if (this.destroyed) return this;
  this.destroyed = true;
  if (!this[kFinished]) this[kServer]._abort(this[kId]);
  this._closeAfterAbort(err);
  return this;
};

// Called by the server when the body was taken by hyper after a flagged write.
proto._onDrain = function _onDrain() {
  this[kOutstanding] = 0;
  const cbs = this[kCallbacks];
  this[kCallbacks] = null;
  if (cbs) for (const cb of cbs) cb();
  if (this[kNeedDrain]) {
    this[kNeedDrain] = false;
    this.emit('drain');
  }
};

// The end was handed to the native side: 'finish', then 'close'.
proto._onFinish = function _onFinish() {
  if (this[kFinished] || this.destroyed) return;
  this[kFinished] = true;
  this[kOutstanding] = 0;
  const cbs = this[kCallbacks];
  this[kCallbacks] = null;
  if (cbs) for (const cb of cbs) cb();
  this.emit('finish');
  this[kClosed] = true;
  this.emit('close');
};

// The exchange ended without finishing: 'close' without 'finish'.
proto._closeAfterAbort = function _closeAfterAbort(err) {
  this.destroyed = true;
  if (this[kClosed]) return;
  this[kClosed] = true;
  const cbs = this[kCallbacks];
  this[kCallbacks] = null;
  const error = err || codes.ERR_STREAM_DESTROYED('write');
  process.nextTick(() => {
    if (cbs) for (const cb of cbs) cb(error);
    if (err && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close');
  });
};

module.exports = { ServerResponse, validateHeaderName, validateHeaderValue };
