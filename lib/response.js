'use strict';

const http = require('node:http');
const { STATUS_CODES } = http;
const { codes } = require('./errors');
const {
  kTransport, kId, kRequest, kHeadState, kHeadHeaders, kHeadImplicit, kExplicitHead, kHeadKeepAlive, kCallbacks,
  kFinished,
} = require('./symbols');
const { kOutHeaders, kNeedDrain, kCorked, kWritableFinished } = require('./nodeshape');
const { HEAD_KEEP_ALIVE, HEAD_KEEP_ALIVE_TIMEOUT } = require('./wire');

const HIGH_WATER_MARK = 16 * 1024;
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

// Head states: nothing yet, head decided (`_header` set), head op written.
const HEAD_NONE = 0;
const HEAD_STORED = 1;
const HEAD_WRITTEN = 2;

function validateHeaderName(name, label) {
  if (typeof name !== 'string' || !name || !TOKEN.test(name)) {
    throw codes.ERR_INVALID_HTTP_TOKEN(label || 'Header name', name);
  }
}

function validateHeaderValue(name, value) {
  if (value === undefined) throw codes.ERR_HTTP_INVALID_HEADER_VALUE(value, name);
  if (Array.isArray(value)) {
    for (const v of value) validateHeaderValue(name, v);
    return;
  }
  if (INVALID_VALUE_CHAR.test(String(value))) throw codes.ERR_INVALID_CHAR('header content', name);
}

// The response, as node:http's ServerResponse: an instance of it, and one
// that keeps working when a framework moves it onto another prototype
// derived from http.ServerResponse.prototype (Express does, per request).
//
// Two kinds of state make that work:
// - What Node's own prototype methods read is kept as Node keeps it: the
//   header map under Node's private symbol (so Node's setHeader, getHeader,
//   removeHeader, … are used as they are), `_header`, `finished`,
//   `outputSize`, `socket`, … as own properties.
// - The methods that put bytes on the wire are own properties, which no
//   prototype swap removes; Node's versions would write raw HTTP/1.1 text
//   to a socket, and the native side owns the framing here. Middleware that
//   wraps them (compression, on-headers) wraps these, as it would Node's.
// The EventEmitter state is made on first listener.
function ServerResponse(transport, req, id, socket) {
  this.outputSize = 0;
  this.writable = true;
  this.destroyed = false;
  this._last = false;
  this.chunkedEncoding = false;
  this.shouldKeepAlive = true;
  this.useChunkedEncodingByDefault = true;
  this.sendDate = true;
  this._removedConnection = false;
  this._removedContLen = false;
  this._removedTE = false;
  this.strictContentLength = false;
  this._contentLength = null;
  this._hasBody = req.method !== 'HEAD';
  this._trailer = '';
  this.finished = false;
  this._headerSent = false;
  this._closed = false;
  this.socket = socket;
  this._header = null;
  this.req = req;
  this.statusCode = 200;
  this.statusMessage = undefined;
  this[kOutHeaders] = null;
  this[kNeedDrain] = false;
  this[kCorked] = 0;
  if (kWritableFinished !== undefined) this[kWritableFinished] = false;
  this.writeHead = writeHead;
  this.write = write;
  this.end = end;
  this.flushHeaders = flushHeaders;
  this.writeContinue = writeContinue;
  this.writeProcessing = writeProcessing;
  this.writeEarlyHints = writeEarlyHints;
  this.destroy = destroy;
  this[kTransport] = transport;
  this[kId] = id;
  this[kRequest] = req;
  this[kHeadState] = HEAD_NONE;
  this[kHeadHeaders] = null;
  this[kHeadImplicit] = false;
  this[kExplicitHead] = false;
  this[kHeadKeepAlive] = 0;
  this[kCallbacks] = null;
  this[kFinished] = false;
}

Object.setPrototypeOf(ServerResponse.prototype, http.ServerResponse.prototype);
Object.setPrototypeOf(ServerResponse, http.ServerResponse);

const proto = ServerResponse.prototype;

// Node's versions would do as well after a prototype swap (the socket's
// cork(), setTimeout() do what these do), so these stay on the prototype.
proto.addTrailers = addTrailers;
proto.cork = cork;
proto.uncork = uncork;
proto.setTimeout = setTimeout;

// Node derives these from the socket's write queue; here the native side
// owns the bytes, and they follow what was handed over and taken.
Object.defineProperties(proto, {
  writableFinished: { configurable: true, get() { return this[kFinished]; } },
  writableHighWaterMark: { configurable: true, get() { return HIGH_WATER_MARK; } },
  writableLength: { configurable: true, get() { return this.outputSize; } },
});

// Header names already validated, with their lower-case keys: most
// handlers set the same few names on every response, so each is checked
// and lower-cased once. Bounded, so names made up per request cannot grow
// it without limit.
const knownNames = new Map();
const KNOWN_NAMES_MAX = 512;

function headerKey(name) {
  const known = knownNames.get(name);
  if (known !== undefined) return known;
  validateHeaderName(name);
  const key = name.toLowerCase();
  if (knownNames.size < KNOWN_NAMES_MAX) knownNames.set(name, key);
  return key;
}

// The header map, in Node's layout ({ key: [name, value] } under Node's
// symbol). Node makes it with a null prototype, which V8 keeps as a slow
// dictionary; one whose prototype is an empty frozen object has no
// inherited keys either and stays a fast object to fill and walk.
const HEADERS_PROTO = Object.freeze(Object.create(null));

function headerMap(res) {
  return (res[kOutHeaders] ??= Object.create(HEADERS_PROTO));
}

// Node's setHeader with the name check cached; same errors, same map.
proto.setHeader = function setHeader(name, value) {
  if (this._header) throw codes.ERR_HTTP_HEADERS_SENT('set');
  const key = headerKey(name);
  validateHeaderValue(name, value);
  headerMap(this)[key] = [name, value];
  return this;
};

proto.appendHeader = function appendHeader(name, value) {
  if (this._header) throw codes.ERR_HTTP_HEADERS_SENT('append');
  const key = headerKey(name);
  validateHeaderValue(name, value);
  const headers = headerMap(this);
  const prev = headers[key];
  if (prev === undefined) {
    headers[key] = [name, value];
  } else {
    const list = Array.isArray(prev[1]) ? prev[1] : [prev[1]];
    headers[key] = [prev[0], list.concat(value)];
  }
  return this;
};

// The deprecated alias, bound to whichever writeHead the object has.
proto.writeHeader = function writeHeader(...args) {
  return this.writeHead(...args);
};

function noBodyStatus(code) {
  return code === 204 || code === 304 || (code >= 100 && code < 200);
}

// Node's writeHead, except that the head is kept for the native side
// instead of being rendered as HTTP/1.1 text. `_header` is still set (to the
// head as Node would render it, framing headers aside), since middleware
// reads it to learn whether the head was sent.
function writeHead(statusCode, reason, obj) {
  if (this._header) throw codes.ERR_HTTP_HEADERS_SENT('write');
  const original = statusCode;
  statusCode |= 0;
  if (statusCode < 100 || statusCode > 999) throw codes.ERR_HTTP_INVALID_STATUS_CODE(original);
  if (typeof reason === 'string') {
    this.statusMessage = reason;
  } else {
    if (!this.statusMessage) this.statusMessage = STATUS_CODES[statusCode] || 'unknown';
    obj ??= reason;
  }
  this.statusCode = statusCode;
  let flat;
  if (this[kOutHeaders]) {
    // Headers set before, plus these: merged as setHeader would.
    if (Array.isArray(obj)) {
      if (obj.length % 2 !== 0) throw codes.ERR_INVALID_ARG_VALUE('headers', obj);
      for (let n = 0; n < obj.length; n += 2) {
        if (obj[n]) this.setHeader(obj[n], obj[n + 1]);
      }
    } else if (obj) {
      for (const k of Object.keys(obj)) {
        if (k) this.setHeader(k, obj[k]);
      }
    }
    flat = flattenOutHeaders(this[kOutHeaders]);
  } else {
    // Only writeHead's headers: sent as given, not kept for getHeader().
    flat = flattenGiven(obj);
  }
  if (INVALID_VALUE_CHAR.test(this.statusMessage)) throw codes.ERR_INVALID_CHAR('statusMessage');
  if (noBodyStatus(statusCode)) this._hasBody = false;
  noteFraming(this, flat);
  this[kExplicitHead] = !this[kHeadImplicit];
  const h1 = this[kRequest].httpVersionMajor === 1;
  const keepAlive = h1 ? connectionHeaders(this, flat) : 0;
  let header = this.statusMessage === STATUS_CODES[statusCode]
    ? statusLine(statusCode) : `HTTP/1.1 ${statusCode} ${this.statusMessage}\r\n`;
  if (h1) {
    for (let i = 0; i < flat.length; i += 2) header += flat[i] + ': ' + flat[i + 1] + '\r\n';
    if (keepAlive !== 0) header += lastKeepAlive.lines[keepAlive];
    header += '\r\n';
  }
  // On HTTP/2 there is no head text (Node's HTTP/2 responses have no
  // `_header` at all); the status line keeps it truthy for the middleware
  // that reads it to learn whether the head was sent.
  this._header = header;
  this[kHeadHeaders] = flat;
  this[kHeadKeepAlive] = keepAlive;
  this[kHeadState] = HEAD_STORED;
  return this;
}

const statusLines = [];

// 'HTTP/1.1 200 OK\r\n' and the like, made once per status code.
function statusLine(code) {
  return (statusLines[code] ??= `HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\n`);
}

function pushValue(flat, name, value) {
  if (Array.isArray(value)) {
    for (const v of value) flat.push(name, typeof v === 'string' ? v : String(v));
  } else {
    flat.push(name, typeof value === 'string' ? value : String(value));
  }
}

function flattenOutHeaders(headers) {
  const flat = [];
  for (const key in headers) {
    const entry = headers[key];
    pushValue(flat, entry[0], entry[1]);
  }
  return flat;
}

// writeHead(status, headers) without setHeader() before: an object, a flat
// [name, value, …] list or a list of [name, value] pairs, each validated.
function flattenGiven(obj) {
  const flat = [];
  if (!obj) return flat;
  const add = (name, value) => {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    pushValue(flat, name, value);
  };
  if (Array.isArray(obj)) {
    if (obj.length && Array.isArray(obj[0])) {
      for (const entry of obj) add(entry[0], entry[1]);
    } else {
      if (obj.length % 2 !== 0) throw codes.ERR_INVALID_ARG_VALUE('headers', obj);
      for (let n = 0; n < obj.length; n += 2) add(obj[n], obj[n + 1]);
    }
  } else {
    for (const key in obj) {
      if (Object.hasOwn(obj, key)) add(key, obj[key]);
    }
  }
  return flat;
}

// What the headers say about framing, as Node's _storeHeader notes it.
function noteFraming(res, flat) {
  let trailer = false;
  let chunked = false;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    const n = name.length;
    if (n !== 7 && n !== 14 && n !== 17) continue;
    const key = name.toLowerCase();
    if (key === 'content-length') {
      res._contentLength = +flat[i + 1];
      res._removedContLen = false;
    } else if (key === 'trailer') {
      trailer = true;
    } else if (key === 'transfer-encoding') {
      chunked = true;
    }
  }
  // As Node's _storeHeader: trailers need a chunked body, and a length
  // rules that out.
  if (trailer && res._contentLength != null && !chunked) throw codes.ERR_HTTP_TRAILER_INVALID();
}

// Node's Connection and Keep-Alive response headers on HTTP/1.1 (its
// _storeHeader): `Connection: keep-alive` with the keep-alive timeout while
// the connection stays open, `Connection: close` on the last response
// maxRequestsPerSocket allows. Left out when the app set Connection, and
// when the connection is closing anyway: hyper then says `close` itself
// (DESIGN C4), and two answers would contradict each other.
// `close` is pushed to `flat`; keep-alive is returned as head flags
// (HEAD_KEEP_ALIVE, HEAD_KEEP_ALIVE_TIMEOUT) and the core adds both headers
// from values it holds: sent on every response, they are not worth
// encoding and parsing each time (bench/micro-head.js: ~150 ns).
function connectionHeaders(res, flat) {
  if (res._removedConnection) return 0;
  let keepAliveSet = false;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    if (name.length === 10 && name.toLowerCase() === 'connection') return 0;
    if (name.length === 10 && name.toLowerCase() === 'keep-alive') keepAliveSet = true;
  }
  const req = res[kRequest];
  const server = res[kTransport].server;
  if (req.httpVersionMinor !== 1 || !res.shouldKeepAlive || server.closing) return 0;
  if (res.maxRequestsOnConnectionReached) {
    flat.push('Connection', 'close');
    return 0;
  }
  if (!staysOpen(req.rawHeaders)) return 0;
  const timeout = server.keepAliveTimeout;
  // Made again only when the server's settings change.
  keepAliveValue(timeout, server.maxRequestsPerSocket);
  return timeout > 0 && !keepAliveSet ? HEAD_KEEP_ALIVE | HEAD_KEEP_ALIVE_TIMEOUT : HEAD_KEEP_ALIVE;
}

// The Keep-Alive value, and the lines `_header` shows for each flag set,
// made again only when the server's settings change.
let lastKeepAlive = { timeout: -1, max: -1, value: '', lines: [] };
function keepAliveValue(timeout, max) {
  const last = lastKeepAlive;
  if (last.timeout === timeout && last.max === max) return last.value;
  const value = `timeout=${Math.floor(timeout / 1000)}${max > 0 ? `, max=${max}` : ''}`;
  const lines = [];
  lines[HEAD_KEEP_ALIVE] = 'Connection: keep-alive\r\n';
  lines[HEAD_KEEP_ALIVE | HEAD_KEEP_ALIVE_TIMEOUT] = `Connection: keep-alive\r\nKeep-Alive: ${value}\r\n`;
  lastKeepAlive = { timeout, max, value, lines };
  return value;
}

// Whether the connection stays open after this request, as far as its head
// tells: not when the client asked to close. (A request hyper would close
// after for its framing, Content-Length beside Transfer-Encoding, is refused
// with 400 before it reaches JS.)
function staysOpen(raw) {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] === 'connection' && /(?:^|\W)close(?:$|\W)/i.test(raw[i + 1])) return false;
  }
  return true;
}

// Hands the stored head to the native side. `end`: the response has no
// body after it.
function writeHeadOp(res, end) {
  res[kHeadState] = HEAD_WRITTEN;
  res._headerSent = true;
  countWritten(res, res._header.length);
  const code = res.statusCode;
  const reason = res.statusMessage !== STATUS_CODES[code] ? res.statusMessage : undefined;
  const keepAlive = res[kHeadKeepAlive];
  res[kTransport].ops().head(res[kId], code, end || !res._hasBody, reason, res[kHeadHeaders], keepAlive, keepAlive === 0 ? null : lastKeepAlive.value);
}

// Decides the head implicitly, as the first write() or end() does in Node:
// through `_implicitHeader()`, so that middleware wrapping writeHead (on-
// headers: morgan, response-time, cookie-session) sees it.
function implicitHead(res) {
  res[kHeadImplicit] = true;
  try {
    res._implicitHeader();
  } finally {
    res[kHeadImplicit] = false;
  }
  if (res[kHeadState] === HEAD_NONE) {
    // A wrapper that swallowed the call: decide the head as Node would.
    writeHead.call(res, res.statusCode);
  }
}

// `socket.bytesWritten`, as net.Socket counts it: head and body bytes handed
// over on this connection.
function countWritten(res, n) {
  const socket = res.socket;
  if (socket) socket.bytesWritten += n;
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

function byteLength(chunk, encoding) {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding || 'utf8') : chunk.byteLength;
}

// Node's strictContentLength rules (off unless the app turns them on): the
// bytes written are counted from the first write; once the head has fixed
// a Content-Length, a write past it throws, and so does an end() short of
// or past it.
function strictLength(res) {
  return res.strictContentLength && res._contentLength != null && res._hasBody && !res._removedContLen &&
    !res.chunkedEncoding && !res.hasHeader('transfer-encoding');
}

function countLength(res, len, fromEnd) {
  const written = (res[kBytesWritten] ?? 0) + len;
  if (strictLength(res) && (fromEnd ? written !== res._contentLength : written > res._contentLength)) {
    throw codes.ERR_HTTP_CONTENT_LENGTH_MISMATCH(written, res._contentLength);
  }
  res[kBytesWritten] = written;
}

const kBytesWritten = Symbol('bytesWritten');

function write(chunk, encoding, cb) {
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = null;
  }
  validateChunk(chunk);
  if (this.finished || this.destroyed) {
    const err = this.finished ? codes.ERR_STREAM_WRITE_AFTER_END() : codes.ERR_STREAM_DESTROYED('write');
    if (this.destroyed) {
      if (typeof cb === 'function') process.nextTick(cb, err);
    } else {
      process.nextTick(emitErrorNt, this, err, cb);
    }
    return false;
  }
  if (this.strictContentLength) countLength(this, byteLength(chunk, encoding), false);
  if (this[kHeadState] === HEAD_NONE) implicitHead(this);
  if (this[kHeadState] === HEAD_STORED) writeHeadOp(this, false);
  if (!this._hasBody) {
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  }
  const len = byteLength(chunk, encoding);
  if (len === 0) {
    if (typeof cb === 'function') process.nextTick(cb);
    return !this[kNeedDrain];
  }
  countWritten(this, len);
  const outstanding = this.outputSize + len;
  const over = outstanding >= HIGH_WATER_MARK;
  const hasCb = typeof cb === 'function';
  const transport = this[kTransport];
  transport.ops().data(this[kId], chunk, encoding || 'utf8', false, over || hasCb);
  this.outputSize = outstanding;
  if (hasCb) (this[kCallbacks] ??= []).push(cb);
  if (over) this[kNeedDrain] = true;
  transport.scheduleFlush();
  return !over;
}

function end(chunk, encoding, cb) {
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
  const hasData = chunk != null && (typeof chunk === 'string' ? chunk.length > 0 : chunk.byteLength > 0);
  if (this.strictContentLength && hasData) countLength(this, byteLength(chunk, encoding), true);
  const transport = this[kTransport];
  if (this[kHeadState] === HEAD_NONE) implicitHead(this);
  if (strictLength(this) && (this[kBytesWritten] ?? 0) !== this._contentLength) {
    throw codes.ERR_HTTP_CONTENT_LENGTH_MISMATCH(this[kBytesWritten] ?? 0, this._contentLength);
  }
  if (typeof cb === 'function') this.once('finish', cb);
  const body = hasData && this._hasBody;
  if (body) countWritten(this, byteLength(chunk, encoding));
  const trailers = this._trailer && this._hasBody ? parseTrailers(this._trailer) : null;
  if (trailers !== null) {
    // Trailers follow a streamed body (chunked on HTTP/1.1), as on Node:
    // the trailers op keeps head and end apart, so nothing is sent whole.
    if (this[kHeadState] === HEAD_STORED) writeHeadOp(this, false);
    transport.ops().trailers(this[kId], trailers);
    transport.ops().data(this[kId], body ? chunk : null, encoding || 'utf8', true, false);
  } else if (this[kHeadState] === HEAD_STORED) {
    if (this[kExplicitHead] && this._contentLength == null && this._hasBody) {
      // writeHead() settled the head with no Content-Length: as Node, the
      // body goes out streamed (chunked on HTTP/1.1), even when it is empty.
      writeHeadOp(this, false);
      transport.ops().data(this[kId], '', 'latin1', false, false);
      transport.ops().data(this[kId], body ? chunk : null, encoding || 'utf8', true, false);
    } else if (body && this._removedContLen) {
      // The app removed Content-Length: stream the body (chunked on
      // HTTP/1.1), as Node does. An empty data op keeps head and end apart,
      // so the native side does not send them as one sized body.
      writeHeadOp(this, false);
      transport.ops().data(this[kId], '', 'latin1', false, false);
      transport.ops().data(this[kId], chunk, encoding || 'utf8', true, false);
    } else {
      // Head and whole body in one flush: sent with a Content-Length.
      writeHeadOp(this, !body);
      if (body) transport.ops().data(this[kId], chunk, encoding || 'utf8', true, false);
    }
  } else {
    transport.ops().data(this[kId], body ? chunk : null, encoding || 'utf8', true, false);
  }
  this.finished = true;
  this.writable = false;
  transport.finishing(this);
  return this;
}

function flushHeaders() {
  if (this.finished || this.destroyed) return;
  if (this[kHeadState] === HEAD_NONE) implicitHead(this);
  if (this[kHeadState] === HEAD_STORED) {
    writeHeadOp(this, false);
    this[kTransport].scheduleFlush();
  }
}

function writeContinue(cb) {
  // hyper answers `Expect: 100-continue` when the body is first read:
  // start reading it now (what arrives waits in the request's buffer).
  this._sent100 = true;
  this[kRequest].read(0);
  if (typeof cb === 'function') process.nextTick(cb);
}

function writeProcessing(cb) {
  if (typeof cb === 'function') process.nextTick(cb);
}

function writeEarlyHints(hints, cb) {
  if (hints === null || typeof hints !== 'object') {
    throw codes.ERR_INVALID_ARG_TYPE('hints', 'of type object', hints);
  }
  if (typeof cb === 'function') process.nextTick(cb);
}

function addTrailers(headers) {
  this._trailer = '';
  const isArray = Array.isArray(headers);
  for (const key of Object.keys(headers)) {
    const field = isArray ? headers[key][0] : key;
    let value = isArray ? headers[key][1] : headers[key];
    validateHeaderName(field, 'Trailer name');
    if (Array.isArray(value)) value = value.join('; ');
    if (INVALID_VALUE_CHAR.test(String(value))) throw codes.ERR_INVALID_CHAR('trailer content', field);
    this._trailer += `${field}: ${value}\r\n`;
  }
}

// `_trailer` as addTrailers() renders it ('Name: value\r\n' lines; Node's
// own addTrailers renders it the same way) back into a flat list.
function parseTrailers(text) {
  const flat = [];
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) flat.push(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return flat.length > 0 ? flat : null;
}

function setTimeout(msecs, callback) {
  if (callback) this.on('timeout', callback);
  if (this.socket) this.socket.setTimeout(msecs);
  return this;
}

function cork() {
  this[kCorked]++;
}

function uncork() {
  if (this[kCorked] > 0) this[kCorked]--;
}

// Ends the exchange now: HTTP/1.1 closes the connection (a body cut short
// is never taken for a whole one), HTTP/2 resets the stream.
function destroy(err) {
  if (this.destroyed) return this;
  this.destroyed = true;
  if (!this[kFinished]) this[kTransport].abort(this[kId]);
  closeAfterAbort(this, err);
  return this;
}

// The native side took the body after a flagged write.
function onDrain(res) {
  res.outputSize = 0;
  const cbs = res[kCallbacks];
  res[kCallbacks] = null;
  if (cbs) for (const cb of cbs) cb();
  if (res[kNeedDrain]) {
    res[kNeedDrain] = false;
    res.emit('drain');
  }
}

// The end was handed to the native side: 'finish', then 'close'.
function onFinish(res) {
  if (res[kFinished] || res.destroyed) return;
  res[kFinished] = true;
  if (kWritableFinished !== undefined) res[kWritableFinished] = true;
  res.outputSize = 0;
  const cbs = res[kCallbacks];
  res[kCallbacks] = null;
  if (cbs) for (const cb of cbs) cb();
  res.emit('finish');
  // As Node's emitCloseNT: a finished response is also destroyed, so a
  // later write() reports to its callback only, not as 'error'.
  res.destroyed = true;
  res._closed = true;
  res.emit('close');
}

// The exchange ended without finishing: 'close' without 'finish'.
function closeAfterAbort(res, err) {
  res.destroyed = true;
  res.writable = false;
  if (res._closed) return;
  res._closed = true;
  const cbs = res[kCallbacks];
  res[kCallbacks] = null;
  const error = err || codes.ERR_STREAM_DESTROYED('write');
  process.nextTick(() => {
    if (cbs) for (const cb of cbs) cb(error);
    if (err && res.listenerCount('error') > 0) res.emit('error', err);
    res.emit('close');
  });
}

module.exports = {
  ServerResponse, validateHeaderName, validateHeaderValue, onDrain, onFinish, closeAfterAbort,
};
