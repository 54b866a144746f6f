'use strict';

const { EventEmitter } = require('node:events');
const { debuglog } = require('node:util');
const net = require('node:net');
const dns = require('node:dns');
const { NativeServer } = require('./native');
const { codes, connResetException, fromNative } = require('./errors');
const { IncomingMessage, pushBody, endBody, dumpBody, decodeHeaders } = require('./incoming');
const { ServerResponse, onDrain, onFinish, closeAfterAbort } = require('./response');
const { connRecord, socketFor } = require('./socket');
const { UpgradeSocket } = require('./upgrade');
const wire = require('./wire');
const { kConn, kId, kStart, kResponse, kRequest, kFinished, kSecureContext } = require('./symbols');
const { onTlsRecord } = require('./tlsrecords');

const debug = debuglog('lastcall');

const kNative = Symbol('native');
const kState = Symbol('state');
const kExchanges = Symbol('exchanges');
const kConns = Symbol('conns');
const kWriter = Symbol('writer');
const kFlushScheduled = Symbol('flushScheduled');
const kFinishingList = Symbol('finishingList');
const kOnEvents = Symbol('onEvents');
const kOnClosed = Symbol('onClosed');
const kCloseController = Symbol('closeController');
const kCloseTimers = Symbol('closeTimers');
const kTunnels = Symbol('tunnels');
const kCloseEmitted = Symbol('closeEmitted');
const kReusePort = Symbol('reusePort');
const EMPTY = Buffer.alloc(0);

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

// A drop-in for node:http's Server, serving HTTP/1.1 and h2c from Rust.
class Server extends EventEmitter {
  constructor(options, requestListener) {
    super();
    if (typeof options === 'function') {
      requestListener = options;
      options = {};
    } else if (options == null) {
      options = {};
    } else if (typeof options !== 'object') {
      throw codes.ERR_INVALID_ARG_TYPE('options', 'of type object', options);
    }
    if (requestListener != null && typeof requestListener !== 'function') {
      throw codes.ERR_INVALID_ARG_TYPE('requestListener', 'of type function', requestListener);
    }
    this.keepAliveTimeout = option(options, 'keepAliveTimeout', 5000);
    this.headersTimeout = option(options, 'headersTimeout', 60000);
    this.requestTimeout = option(options, 'requestTimeout', 300000);
    this.maxHeaderSize = option(options, 'maxHeaderSize', 16384, 1);
    this.shutdownTimeout = options.shutdownTimeout == null
      ? undefined : validateInteger(options.shutdownTimeout, 'options.shutdownTimeout');
    const h2 = options.http2 == null ? {} : options.http2;
    if (typeof h2 !== 'object') throw codes.ERR_INVALID_ARG_TYPE('options.http2', 'of type object', h2);
    this.http2 = {
      maxConcurrentStreams: option(h2, 'maxConcurrentStreams', 200, 1, 2 ** 31 - 1),
      initialWindowSize: option(h2, 'initialWindowSize', 65535, 1, 2 ** 31 - 1),
    };
    this.timeout = 0;
    this.maxHeadersCount = null;
    this.maxRequestsPerSocket = 0;
    this[kNative] = null;
    this[kState] = IDLE;
    this[kExchanges] = new Map();
    this[kConns] = new Map();
    this[kTunnels] = new Map();
    this[kWriter] = new wire.OpWriter();
    this[kFlushScheduled] = false;
    this[kFinishingList] = [];
    this[kOnEvents] = () => this._drainEvents();
    this[kOnClosed] = () => this._closed();
    this[kCloseController] = null;
    this[kCloseTimers] = null;
    this[kCloseEmitted] = false;
    this[kReusePort] = false;
    if (requestListener) this.on('request', requestListener);
  }

  get listening() {
    return this[kState] === LISTENING;
  }

  // True from close() until 'close' (DESIGN C12).
  get closing() {
    return this[kState] === CLOSING;
  }

  // Aborted when close() starts, so long-lived work (WebSockets, streams,
  // timers) can wind down (DESIGN C12).
  get closeSignal() {
    if (this[kCloseController] === null) this[kCloseController] = new AbortController();
    return this[kCloseController].signal;
  }

  connectionsInfo() {
    const native = this[kNative];
    const info = native !== null
      ? native.connectionsInfo()
      : { idle: 0, active: 0, http2Sessions: 0, http2Streams: 0, upgraded: 0, handshaking: 0 };
    info.closing = this[kState] === CLOSING;
    return info;
  }

  // Closes connections with no request in flight now (HTTP/2: sessions with
  // no open stream get GOAWAY). Node's semantics.
  closeIdleConnections() {
    if (this[kNative] !== null) this[kNative].closeIdle();
  }

  // Closes every connection now: open requests are aborted (their `req`
  // sees 'aborted'/'close', `res` 'close'), HTTP/2 streams get
  // RST_STREAM(CANCEL). Node's semantics: upgraded sockets are left alone.
  closeAllConnections() {
    if (this[kNative] !== null) this[kNative].force(false);
  }

  // What a closing server is still waiting for: the connection counts and
  // every request whose response has not been handed over yet.
  _snapshot() {
    const info = this.connectionsInfo();
    const now = performance.now();
    info.requests = [];
    for (const res of this[kExchanges].values()) {
      if (res[kFinished]) continue;
      const req = res.req;
      info.requests.push({
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        ageMs: Math.round(now - req[kStart]),
      });
    }
    return info;
  }

  listen(...args) {
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
      if (!this._bind('::', port, backlog, true)) this._bind('0.0.0.0', port, backlog, false);
    } else if (net.isIP(host)) {
      this._bind(host, port, backlog, false);
    } else {
      dns.lookup(host, (err, address) => {
        if (err) {
          this.emit('error', err);
          return;
        }
        this._bind(address, port, backlog, false);
      });
    }
    return this;
  }

  // Binds synchronously, as Node does for IP hosts: `listening` and
  // `address()` are valid as soon as listen() returns.
  _bind(host, port, backlog, quietFailure) {
    const opts = {
      keepAliveTimeout: this.keepAliveTimeout,
      headersTimeout: this.headersTimeout,
      requestTimeout: this.requestTimeout,
      maxHeaderSize: this.maxHeaderSize,
      maxConcurrentStreams: this.http2.maxConcurrentStreams,
      initialWindowSize: this.http2.initialWindowSize,
      backlog,
      reusePort: this[kReusePort],
    };
    let native;
    try {
      native = NativeServer.listen(host, port, opts, this[kOnEvents], this[kOnClosed], this[kSecureContext] ?? null);
    } catch (e) {
      const err = fromNative(e, host, port);
      if (quietFailure && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL' || err.code === 'EINVAL')) {
        return false;
      }
      process.nextTick(() => this.emit('error', err));
      return true;
    }
    this[kNative] = native;
    this[kState] = LISTENING;
    this[kCloseEmitted] = false;
    if (this[kCloseController] !== null && this[kCloseController].signal.aborted) {
      this[kCloseController] = null;
    }
    process.nextTick(() => {
      if (this[kNative] === native) this.emit('listening');
    });
    return true;
  }

  address() {
    const native = this[kNative];
    if (native === null || this[kState] !== LISTENING) return null;
    const [address, family, port] = native.address();
    return { address, family, port };
  }

  getConnections(cb) {
    const n = this[kNative] ? this[kNative].connections() : 0;
    if (typeof cb === 'function') process.nextTick(cb, null, n);
    return this;
  }

  close(cb) {
    const state = this[kState];
    if (typeof cb === 'function') {
      if (state === LISTENING) this.once('close', cb);
      else if (state === CLOSING) this.once('close', () => cb(codes.ERR_SERVER_NOT_RUNNING()));
      else process.nextTick(cb, codes.ERR_SERVER_NOT_RUNNING());
    }
    if (state === LISTENING) {
      this[kState] = CLOSING;
      // Port released and every connection told before this returns (C1).
      this[kNative].close();
      this._startClosing();
    } else if (state === IDLE && !this[kCloseEmitted]) {
      // 'close' once per listen/close cycle (Node emits it per call, DESIGN C8).
      this[kCloseEmitted] = true;
      process.nextTick(() => this.emit('close'));
    }
    return this;
  }

  _startClosing() {
    if (this[kCloseController] === null) this[kCloseController] = new AbortController();
    this[kCloseController].abort();
    const timers = { deadline: null, log: null };
    this[kCloseTimers] = timers;
    if (this.shutdownTimeout !== undefined && this.shutdownTimeout > 0) {
      timers.deadline = setTimeout(() => {
        timers.deadline = null;
        if (this[kState] !== CLOSING) return;
        this.emit('closeTimeout', this._snapshot());
        // The listener may have run closeAllConnections() itself; forcing
        // twice is harmless.
        if (this[kNative] !== null) this[kNative].force(true);
      }, this.shutdownTimeout);
    }
    if (debug.enabled) {
      timers.log = setInterval(() => this._logWaiting(), 1000);
      timers.log.unref();
    }
    this.emit('closing', this._snapshot());
  }

  _logWaiting() {
    const s = this._snapshot();
    const reqs = s.requests.map((r) => `${r.method} ${r.url} (${(r.ageMs / 1000).toFixed(1)}s)`);
    debug('closing: waiting for %d request(s)%s; %d idle, %d active HTTP/1.1, %d HTTP/2 session(s) with %d stream(s), %d upgraded',
      s.requests.length, reqs.length ? ': ' + reqs.join(', ') : '',
      s.idle, s.active, s.http2Sessions, s.http2Streams, s.upgraded);
  }

  setTimeout(msecs, callback) {
    this.timeout = msecs;
    if (callback) this.on('timeout', callback);
    return this;
  }

  ref() {
    return this;
  }

  unref() {
    return this;
  }

  [Symbol.asyncDispose]() {
    return new Promise((resolve, reject) => {
      if (this[kState] === IDLE) {
        resolve();
        return;
      }
      this.close((err) => (err ? reject(err) : resolve()));
    });
  }

  // ---- internals used by lib/ ----

  _writer() {
    this._scheduleFlush();
    return this[kWriter];
  }

  _scheduleFlush() {
    if (this[kFlushScheduled]) return;
    this[kFlushScheduled] = true;
    queueMicrotask(() => this._flush());
  }

  _flush() {
    this[kFlushScheduled] = false;
    const native = this[kNative];
    const writer = this[kWriter];
    if (native !== null) {
      writer.flushTo(native);
    } else {
      writer.pos = 0;
      writer.chunks = [];
    }
    const finishing = this[kFinishingList];
    if (finishing.length > 0) {
      this[kFinishingList] = [];
      process.nextTick(finishAll, this, finishing);
    }
  }

  _finishing(res) {
    this[kFinishingList].push(res);
    this._scheduleFlush();
  }

  _demand(id) {
    this[kWriter].simple(wire.OP_DEMAND, id);
    this._scheduleFlush();
  }

  _abort(id) {
    if (!this[kExchanges].has(id)) return;
    this[kExchanges].delete(id);
    this[kWriter].simple(wire.OP_ABORT, id);
    this._scheduleFlush();
  }

  _destroyConnection(connId) {
    for (const [id, res] of this[kExchanges]) {
      if (res.req[kConn].id === connId) {
        this._abort(id);
        abortExchange(res);
      }
    }
  }

  _drainEvents() {
    const native = this[kNative];
    if (native === null) return;
    const buf = native.drain();
    const len = buf.length;
    const exchanges = this[kExchanges];
    const now = performance.now();
    let p = 0;
    let thrown;
    while (p < len) {
      const type = buf[p];
      const id = u32(buf, p + 1);
      switch (type) {
        case wire.EV_REQUEST: {
          const p0 = p;
          const conn = this[kConns].get(u32(buf, p + 5));
          const version = buf[p + 9];
          const hasBody = (buf[p + 10] & wire.REQ_HAS_BODY) !== 0;
          const mlen = buf[p + 11];
          const method = methodAt(buf, p + 12, mlen);
          let q = p + 12 + mlen;
          const ulen = u32(buf, q);
          const url = buf.latin1Slice(q + 4, q + 4 + ulen);
          q += 4 + ulen;
          const hlen = u32(buf, q);
          p = q + 4 + hlen;
          const c = conn || orphanConn;
          const socket = socketFor(this, c);
          const req = new IncomingMessage(this, id, c, socket, method, url, version, hasBody,
            decodeHeaders(buf, q + 4, p), now);
          if ((buf[p0 + 10] & wire.REQ_UPGRADE) !== 0 && this.listenerCount('upgrade') > 0) {
            this._upgrade(req, id, c);
            break;
          }
          const res = new ServerResponse(this, req, id, socket);
          req[kResponse] = res;
          exchanges.set(id, res);
          try {
            if (version === 11) dispatchHttp11(this, req, res, c);
            else this.emit('request', req, res);
            if (!hasBody) req.complete = true;
          } catch (err) {
            if (!hasBody) req.complete = true;
            // As in node:http a throwing handler is an uncaught exception;
            // the rest of this batch is still dispatched first.
            thrown ??= [];
            thrown.push(err);
          }
          break;
        }
        case wire.EV_BODY: {
          const n = u32(buf, p + 5);
          const res = exchanges.get(id);
          if (res !== undefined) pushBody(res.req, buf.subarray(p + 9, p + 9 + n));
          else this[kTunnels].get(id)?._onBody(buf.subarray(p + 9, p + 9 + n));
          p += 9 + n;
          break;
        }
        case wire.EV_BODY_AT: {
          // A long chunk, in a Buffer of its own (see OUT_OF_BAND in
          // src/core/dispatch.rs). Taken even if nobody wants it any more.
          const chunk = native.chunk(u32(buf, p + 5));
          const res = exchanges.get(id);
          if (res !== undefined) pushBody(res.req, chunk);
          else this[kTunnels].get(id)?._onBody(chunk);
          p += 9;
          break;
        }
        case wire.EV_END: {
          const res = exchanges.get(id);
          if (res !== undefined) {
            endBody(res.req, null);
            if (res[kFinished]) exchanges.delete(id);
          } else {
            this[kTunnels].get(id)?._onEnd();
          }
          p += 5;
          break;
        }
        case wire.EV_ABORT: {
          const res = exchanges.get(id);
          if (res !== undefined) {
            exchanges.delete(id);
            abortExchange(res);
          } else {
            this[kTunnels].get(id)?._onAbort();
          }
          p += 5;
          break;
        }
        case wire.EV_DRAIN: {
          const res = exchanges.get(id);
          if (res !== undefined) onDrain(res);
          else this[kTunnels].get(id)?._onDrain();
          p += 5;
          break;
        }
        case wire.EV_CONN_OPEN: {
          let q = p + 5;
          const llen = buf[q];
          const localAddress = buf.latin1Slice(q + 1, q + 1 + llen);
          q += 1 + llen;
          const localPort = buf[q] | (buf[q + 1] << 8);
          q += 2;
          const rlen = buf[q];
          const remoteAddress = buf.latin1Slice(q + 1, q + 1 + rlen);
          q += 1 + rlen;
          const remotePort = buf[q] | (buf[q + 1] << 8);
          p = q + 2;
          const conn = connRecord(id, localAddress, localPort, remoteAddress, remotePort);
          this[kConns].set(id, conn);
          if (this.listenerCount('connection') > 0) {
            this.emit('connection', socketFor(this, conn));
          }
          break;
        }
        case wire.EV_CONN_CLOSE: {
          const conn = this[kConns].get(id);
          if (conn !== undefined) {
            this[kConns].delete(id);
            conn.closed = true;
            if (conn.socket !== null) conn.socket._closed();
            if (conn.tunnel) conn.tunnel._onConnClose();
          }
          p += 5;
          break;
        }
        case wire.EV_TLS_READY:
        case wire.EV_TLS_ERROR:
          p = onTlsRecord(this, this[kConns], buf, p);
          break;
        default:
          // A record we do not know means the two sides disagree: stop
          // rather than misread the rest.
          throw new Error(`lastcall: unknown event record ${type}`);
      }
    }
    if (thrown) {
      for (const err of thrown) process.nextTick(() => { throw err; });
    }
  }

  // An HTTP/1.1 request asked to switch protocols and someone listens for
  // 'upgrade': hand over a socket, as node:http does. The request has no
  // body to read (hyper passes none), and `head` is empty: bytes the client
  // sent early arrive as the socket's first 'data'.
  _upgrade(req, id, conn) {
    req.upgrade = true;
    req.complete = true;
    const socket = new UpgradeSocket(this, id, conn);
    this[kTunnels].set(id, socket);
    conn.tunnel = socket;
    this.emit('upgrade', req, socket, EMPTY);
  }

  _dropTunnel(id, abort) {
    if (!this[kTunnels].delete(id)) return;
    if (abort) {
      this[kWriter].simple(wire.OP_ABORT, id);
      this._scheduleFlush();
    }
  }

  _closed() {
    // Take the last events first: they may finish exchanges.
    this._drainEvents();
    this._flush();
    const native = this[kNative];
    this[kNative] = null;
    this[kState] = IDLE;
    const timers = this[kCloseTimers];
    this[kCloseTimers] = null;
    if (timers !== null) {
      clearTimeout(timers.deadline);
      clearInterval(timers.log);
    }
    if (native !== null) native.release();
    for (const res of this[kExchanges].values()) abortExchange(res);
    this[kExchanges].clear();
    for (const conn of this[kConns].values()) {
      conn.closed = true;
      if (conn.socket !== null) conn.socket._closed();
      if (conn.tunnel) conn.tunnel._onConnClose();
    }
    this[kTunnels].clear();
    this[kConns].clear();
    this[kCloseEmitted] = true;
    this.emit('close');
  }
}

const orphanConn = connRecord(0, '', 0, '', 0);
orphanConn.closed = true;

function u32(buf, p) {
  return (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16)) + buf[p + 3] * 0x1000000;
}

function methodAt(buf, p, n) {
  // The common methods are shared strings rather than fresh allocations.
  if (n === 3 && buf[p] === 71 && buf[p + 1] === 69 && buf[p + 2] === 84) return 'GET';
  if (n === 4 && buf[p] === 80 && buf[p + 1] === 79 && buf[p + 2] === 83) return 'POST';
  return buf.latin1Slice(p, p + n);
}

// The header `name` (lower case) of a request's raw headers, or undefined.
function rawHeader(raw, name) {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i] === name) return raw[i + 1];
  }
  return undefined;
}

const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

// What node:http does before 'request' for an HTTP/1.1 request (its
// parserOnIncoming): Host is required, maxRequestsPerSocket is counted, and
// expectations are answered.
function dispatchHttp11(server, req, res, conn) {
  const raw = req.rawHeaders;
  if (server.requireHostHeader !== false && rawHeader(raw, 'host') === undefined) {
    res.writeHead(400, ['Connection', 'close']);
    res.end();
    return;
  }
  const max = server.maxRequestsPerSocket;
  if (typeof max === 'number' && max > 0) {
    conn.requests++;
    res.maxRequestsOnConnectionReached = max <= conn.requests;
    if (max < conn.requests) {
      server.emit('dropRequest', req, req.socket);
      res.writeHead(503);
      res.end();
      return;
    }
  }
  const expect = rawHeader(raw, 'expect');
  if (expect === undefined) {
    server.emit('request', req, res);
  } else if (CONTINUE.test(expect)) {
    res._expect_continue = true;
    if (server.listenerCount('checkContinue') > 0) {
      server.emit('checkContinue', req, res);
    } else {
      res.writeContinue();
      server.emit('request', req, res);
    }
  } else if (server.listenerCount('checkExpectation') > 0) {
    server.emit('checkExpectation', req, res);
  } else {
    res.writeHead(417);
    res.end();
  }
}

function abortExchange(res) {
  const req = res.req;
  if (!req.complete || !req.readableEnded) {
    if (!req.destroyed) req.destroy(connResetException('aborted'));
  }
  if (!res[kFinished]) closeAfterAbort(res);
}

function closeQuietly(req) {
  const state = req._readableState;
  state.ended = true;
  state.endEmitted = true;
  state.destroyed = true;
  state.closed = true;
  state.closeEmitted = true;
}

function finishAll(server, list) {
  const exchanges = server[kExchanges];
  for (const res of list) {
    if (res.destroyed) continue;
    onFinish(res);
    const req = res[kRequest];
    const dumped = dumpBody(req);
    if (dumped || req.complete) {
      exchanges.delete(req[kId]);
      // As node:http's resOnFinish: a body nobody reads is dumped, so `req`
      // still ends and emits 'close'.
      if (!req._consuming && !req.destroyed && !req._readableState.resumeScheduled) {
        req._dumped = true;
        if (req._eventsCount === 0) {
          // Nobody listens: close the stream without running its events
          // (Node 24's _dumpAndCloseReadable does the same).
          closeQuietly(req);
        } else {
          req.removeAllListeners('data');
          req.resume();
        }
      }
    }
  }
}

module.exports = { Server };
