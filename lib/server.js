'use strict';

const { EventEmitter } = require('node:events');
const { debuglog } = require('node:util');
const net = require('node:net');
const dns = require('node:dns');
const { NativeServer } = require('./native');
const { codes, fromNative } = require('./errors');
const { Transport } = require('./transport');
const { kStart, kFinished, kRequest, kSecureContext } = require('./symbols');

const debug = debuglog('lastcall');

const kTransport = Symbol('transport');
const kState = Symbol('state');
const kOnClosed = Symbol('onClosed');
const kCloseController = Symbol('closeController');
const kCloseTimers = Symbol('closeTimers');
const kCloseEmitted = Symbol('closeEmitted');
const kReusePort = Symbol('reusePort');
const kRef = Symbol('ref');

const IDLE = 0;
const LISTENING = 1;
const CLOSING = 2;

function validateInteger(value, name, min = 0, max = Number.MAX_SAFE_INTEGER) {
  if (typeof value !== 'number') throw codes.ERR_INVALID_ARG_TYPE(name, 'of type number', value);
  if (!Number.isInteger(value)) throw codes.ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw codes.ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
  return value;
}

function option(options, name, fallback, min, max) {
  const value = options[name];
  if (value === undefined) return fallback;
  return validateInteger(value, `options.${name}`, min, max);
}

function validatePort(port) {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw codes.ERR_SOCKET_BAD_PORT('Port', port);
  }
  return n;
}

function validateBoolean(value, name) {
  if (value !== undefined && typeof value !== 'boolean') throw codes.ERR_INVALID_ARG_TYPE(name, 'of type boolean', value);
  return value;
}

// createServer()'s argument forms, `([options][, requestListener])`, as
// `[options, requestListener]`.
function serverArgs(options, requestListener) {
  if (typeof options === 'function') return [{}, options];
  if (options == null) return [{}, requestListener];
  if (typeof options !== 'object') throw codes.ERR_INVALID_ARG_TYPE('options', 'of type object', options);
  return [options, requestListener];
}

// A drop-in for node:http's Server, serving HTTP/1.1 and h2c from Rust.
// Like Node's, it can be called with or without `new`, and subclassed.
// Server.prototype holds Node's public surface only; the native side is
// reached through the Transport (lib/transport.js).
function Server(options, requestListener) {
  if (!new.target) return new Server(options, requestListener);
  EventEmitter.call(this);
  [options, requestListener] = serverArgs(options, requestListener);
  if (requestListener != null && typeof requestListener !== 'function') {
    throw codes.ERR_INVALID_ARG_TYPE('requestListener', 'of type function', requestListener);
  }
  this.keepAliveTimeout = option(options, 'keepAliveTimeout', 5000);
  // Node's rules: headersTimeout defaults to at most requestTimeout, and may
  // not exceed it.
  this.requestTimeout = option(options, 'requestTimeout', 300000);
  this.headersTimeout = option(options, 'headersTimeout', Math.min(60000, this.requestTimeout));
  if (this.requestTimeout > 0 && this.headersTimeout > 0 && this.headersTimeout > this.requestTimeout) {
    throw codes.ERR_OUT_OF_RANGE('headersTimeout', '<= requestTimeout', this.headersTimeout);
  }
  this.maxHeaderSize = option(options, 'maxHeaderSize', 16384, 1);
  this.shutdownTimeout = options.shutdownTimeout == null
    ? undefined : validateInteger(options.shutdownTimeout, 'options.shutdownTimeout');
  this.requireHostHeader = validateBoolean(options.requireHostHeader, 'options.requireHostHeader') ?? true;
  this.joinDuplicateHeaders = validateBoolean(options.joinDuplicateHeaders, 'options.joinDuplicateHeaders') ?? false;
  const h2 = options.http2 == null ? {} : options.http2;
  if (typeof h2 !== 'object') throw codes.ERR_INVALID_ARG_TYPE('options.http2', 'of type object', h2);
  this.http2 = {
    maxConcurrentStreams: option(h2, 'maxConcurrentStreams', 200, 1, 2 ** 31 - 1),
    initialWindowSize: option(h2, 'initialWindowSize', 65535, 1, 2 ** 31 - 1),
    // As node:http2 reads it: a number is taken, raised to at least 1 (MiB);
    // anything else leaves the default, 10.
    maxSessionMemory: typeof h2.maxSessionMemory === 'number' && !Number.isNaN(h2.maxSessionMemory)
      ? Math.max(1, h2.maxSessionMemory) : 10,
  };
  this.timeout = 0;
  this.maxHeadersCount = null;
  this.maxRequestsPerSocket = 0;
  this[kTransport] = new Transport(this);
  // Node's options for subclasses of its request and response classes:
  // req/res are made on their prototypes.
  for (const [name, base] of [['IncomingMessage', 'reqClass'], ['ServerResponse', 'resClass']]) {
    const cls = options[name];
    if (cls === undefined) continue;
    if (typeof cls !== 'function') throw codes.ERR_INVALID_ARG_TYPE(`options.${name}`, 'of type function', cls);
    this[kTransport][base] = cls;
  }
  this[kState] = IDLE;
  this[kOnClosed] = () => closed(this);
  this[kCloseController] = null;
  this[kCloseTimers] = null;
  this[kCloseEmitted] = false;
  this[kReusePort] = false;
  this[kRef] = true;
  if (requestListener) this.on('request', requestListener);
}

Object.setPrototypeOf(Server.prototype, EventEmitter.prototype);
Object.setPrototypeOf(Server, EventEmitter);

Object.defineProperties(Server.prototype, {
  listening: {
    configurable: true,
    get() {
      return this[kState] === LISTENING;
    },
  },
  // True from close() until 'close' (DESIGN C12).
  closing: {
    configurable: true,
    get() {
      return this[kState] === CLOSING;
    },
  },
  // Aborted when close() starts, so long-lived work (WebSockets, streams,
  // timers) can wind down (DESIGN C12).
  closeSignal: {
    configurable: true,
    get() {
      if (this[kCloseController] === null) this[kCloseController] = new AbortController();
      return this[kCloseController].signal;
    },
  },
});

Server.prototype.connectionsInfo = function connectionsInfo() {
  const native = this[kTransport].native;
  const info = native !== null
    ? native.connectionsInfo()
    : { idle: 0, active: 0, http2Sessions: 0, http2Streams: 0, upgraded: 0, handshaking: 0 };
  info.closing = this[kState] === CLOSING;
  return info;
};

// Closes connections with no request in flight now (HTTP/2: sessions with
// no open stream get GOAWAY). Node's semantics.
Server.prototype.closeIdleConnections = function closeIdleConnections() {
  const native = this[kTransport].native;
  if (native !== null) native.closeIdle();
};

// Closes every connection now: open requests are aborted (their `req`
// sees 'aborted'/'close', `res` 'close'), HTTP/2 streams get
// RST_STREAM(CANCEL). Node's semantics: upgraded sockets are left alone.
Server.prototype.closeAllConnections = function closeAllConnections() {
  const native = this[kTransport].native;
  if (native !== null) native.force(false);
};

Server.prototype.listen = function listen(...args) {
  let cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
  let port = 0;
  let host;
  let backlog = 511;
  let reusePort = false;
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    if (first.path !== undefined) throw codes.ERR_INVALID_ARG_VALUE('options.path', first.path, 'is not supported (TCP only)');
    if (first.port !== undefined) port = validatePort(first.port);
    host = first.host;
    if (first.backlog !== undefined) backlog = first.backlog;
    if (first.reusePort !== undefined) {
      if (typeof first.reusePort !== 'boolean') {
        throw codes.ERR_INVALID_ARG_TYPE('options.reusePort', 'of type boolean', first.reusePort);
      }
      reusePort = first.reusePort;
    }
  } else {
    if (first !== undefined && first !== null) {
      if (typeof first === 'string' && Number.isNaN(Number(first))) {
        throw codes.ERR_INVALID_ARG_VALUE('path', first, 'is not supported (TCP only)');
      }
      port = validatePort(first);
    }
    if (typeof args[1] === 'string') {
      host = args[1];
      if (typeof args[2] === 'number') backlog = args[2];
    } else if (typeof args[1] === 'number') {
      backlog = args[1];
    }
  }
  if (host !== undefined && host !== null && typeof host !== 'string') {
    throw codes.ERR_INVALID_ARG_TYPE('host', 'of type string', host);
  }
  backlog = Number.isInteger(backlog) && backlog > 0 ? backlog : 511;
  if (this[kState] !== IDLE) throw codes.ERR_SERVER_ALREADY_LISTEN();
  this[kReusePort] = reusePort;
  if (cb) this.once('listening', cb);
  if (!host) {
    // Like Node: `::` (which also takes IPv4) where IPv6 exists.
    if (!bind(this, '::', port, backlog, true)) bind(this, '0.0.0.0', port, backlog, false);
  } else if (net.isIP(host)) {
    bind(this, host, port, backlog, false);
  } else {
    dns.lookup(host, (err, address) => {
      if (err) {
        this.emit('error', err);
        return;
      }
      bind(this, address, port, backlog, false);
    });
  }
  return this;
};

// Binds synchronously, as Node does for IP hosts: `listening` and
// `address()` are valid as soon as listen() returns.
function bind(server, host, port, backlog, quietFailure) {
  const opts = {
    keepAliveTimeout: server.keepAliveTimeout,
    headersTimeout: server.headersTimeout,
    requestTimeout: server.requestTimeout,
    maxHeaderSize: server.maxHeaderSize,
    maxConcurrentStreams: server.http2.maxConcurrentStreams,
    initialWindowSize: server.http2.initialWindowSize,
    maxSessionMemory: server.http2.maxSessionMemory,
    backlog,
    reusePort: server[kReusePort],
  };
  const transport = server[kTransport];
  let native;
  try {
    native = NativeServer.listen(host, port, opts, transport.onEvents, server[kOnClosed], server[kSecureContext] ?? null);
  } catch (e) {
    const err = fromNative(e, host, port);
    if (quietFailure && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL' || err.code === 'EINVAL')) {
      return false;
    }
    process.nextTick(() => server.emit('error', err));
    return true;
  }
  transport.native = native;
  transport.writer.keepAliveSent = null;
  if (!server[kRef]) native.setRef(false);
  server[kState] = LISTENING;
  server[kCloseEmitted] = false;
  if (server[kCloseController] !== null && server[kCloseController].signal.aborted) {
    server[kCloseController] = null;
  }
  process.nextTick(() => {
    if (transport.native === native) server.emit('listening');
  });
  return true;
}

Server.prototype.address = function address() {
  const native = this[kTransport].native;
  if (native === null || this[kState] !== LISTENING) return null;
  const [address, family, port] = native.address();
  return { address, family, port };
};

Server.prototype.getConnections = function getConnections(cb) {
  const native = this[kTransport].native;
  const n = native !== null ? native.connections() : 0;
  if (typeof cb === 'function') process.nextTick(cb, null, n);
  return this;
};

Server.prototype.close = function close(cb) {
  const state = this[kState];
  if (typeof cb === 'function') {
    if (state === LISTENING) this.once('close', cb);
    else if (state === CLOSING) this.once('close', () => cb(codes.ERR_SERVER_NOT_RUNNING()));
    else process.nextTick(cb, codes.ERR_SERVER_NOT_RUNNING());
  }
  if (state === LISTENING) {
    this[kState] = CLOSING;
    // Port released and every connection told before this returns (C1).
    this[kTransport].native.close();
    startClosing(this);
  } else if (state === IDLE && !this[kCloseEmitted]) {
    // 'close' once per listen/close cycle (Node emits it per call, DESIGN C8).
    this[kCloseEmitted] = true;
    process.nextTick(() => this.emit('close'));
  }
  return this;
};

function startClosing(server) {
  if (server[kCloseController] === null) server[kCloseController] = new AbortController();
  server[kCloseController].abort();
  const timers = { deadline: null, log: null };
  server[kCloseTimers] = timers;
  if (server.shutdownTimeout !== undefined && server.shutdownTimeout > 0) {
    timers.deadline = setTimeout(() => {
      timers.deadline = null;
      if (server[kState] !== CLOSING) return;
      server.emit('closeTimeout', snapshot(server));
      // The listener may have run closeAllConnections() itself; forcing
      // twice is harmless.
      const native = server[kTransport].native;
        if (native !== null) native.force(true);
    }, server.shutdownTimeout);
  }
  if (debug.enabled) {
    timers.log = setInterval(() => logWaiting(server), 1000);
    timers.log.unref();
  }
  server.emit('closing', snapshot(server));
}

function logWaiting(server) {
  const s = snapshot(server);
  const reqs = s.requests.map((r) => `${r.method} ${r.url} (${(r.ageMs / 1000).toFixed(1)}s)`);
  debug('closing: waiting for %d request(s)%s; %d idle, %d active HTTP/1.1, %d HTTP/2 session(s) with %d stream(s), %d upgraded',
    s.requests.length, reqs.length ? ': ' + reqs.join(', ') : '',
    s.idle, s.active, s.http2Sessions, s.http2Streams, s.upgraded);
}

// What a closing server is still waiting for: the connection counts and
// every request whose response has not been handed over yet.
function snapshot(server) {
  const info = server.connectionsInfo();
  const now = performance.now();
  info.requests = [];
  for (const res of server[kTransport].exchanges.values()) {
    if (res[kFinished]) continue;
    const req = res[kRequest];
    info.requests.push({
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      ageMs: Math.round(now - req[kStart]),
    });
  }
  return info;
}

// Node's server.setTimeout(): the inactivity timeout given to every new
// connection. When it fires, 'timeout' goes to the request, the response and
// the server with the socket; if nobody listens, the socket is destroyed.
Server.prototype.setTimeout = function setTimeout(msecs, callback) {
  this.timeout = validateInteger(msecs, 'msecs');
  if (callback !== undefined) {
    if (typeof callback !== 'function') throw codes.ERR_INVALID_ARG_TYPE('callback', 'of type function', callback);
    this.on('timeout', callback);
  }
  return this;
};

// Whether a listening server keeps the process alive, as for Node's handles.
Server.prototype.ref = function ref() {
  this[kRef] = true;
  this[kTransport].native?.setRef(true);
  return this;
};

Server.prototype.unref = function unref() {
  this[kRef] = false;
  this[kTransport].native?.setRef(false);
  return this;
};

Server.prototype[Symbol.asyncDispose] = function asyncDispose() {
  return new Promise((resolve, reject) => {
    if (this[kState] === IDLE) {
      resolve();
      return;
    }
    this.close((err) => (err ? reject(err) : resolve()));
  });
};

// The native server has fully closed (DESIGN C8): 'close', then the
// callbacks registered by close().
function closed(server) {
  server[kTransport].closed();
  server[kState] = IDLE;
  const timers = server[kCloseTimers];
  server[kCloseTimers] = null;
  if (timers !== null) {
    clearTimeout(timers.deadline);
    clearInterval(timers.log);
  }
  server[kCloseEmitted] = true;
  server.emit('close');
}

module.exports = { Server, serverArgs };
