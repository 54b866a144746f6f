'use strict';

// The transport between a Server and its native half: the native handle,
// the op writer and its flush, and the decoding of event records into
// requests, bodies and connection events. Internal: req, res, the socket
// objects and the Server reach the native side only through it, as Node's
// _http_server.js keeps its internals out of Server.prototype.

const { connResetException } = require('./errors');
const { IncomingMessage, pushBody, endBody, setTrailers, dumpBody, decodeHeaders } = require('./incoming');
const { ServerResponse, onDrain, onFinish, closeAfterAbort } = require('./response');
const { connRecord, socketFor, touch } = require('./socket');
const { UpgradeSocket } = require('./upgrade');
const wire = require('./wire');
const { kConn, kId, kResponse, kRequest, kFinished } = require('./symbols');
const { onTlsRecord } = require('./tlsrecords');

const EMPTY = Buffer.alloc(0);
// Requests dispatched per slice of a batch (see Transport.drain).
const SLICE = 256;

class Transport {
  constructor(server) {
    this.server = server;
    // The native server while listening or closing; null otherwise.
    this.native = null;
    // Exchange id → res, while JS may still hear of the exchange.
    this.exchanges = new Map();
    // Connection id → its record (lib/socket.js), open connections only.
    this.conns = new Map();
    // Exchange id → UpgradeSocket, for upgraded connections.
    this.tunnels = new Map();
    this.writer = new wire.OpWriter();
    // Buffers lent to the native side by token, kept reachable until it
    // sends EV_RELEASE (they are written in place, not copied).
    this.pins = { held: new Map(), next: 0 };
    this.flushScheduled = false;
    this.finishingList = [];
    this.onEvents = () => this.drain();
    // The undispatched rest of a sliced batch (see drain()).
    this.restBuf = null;
    this.restAt = 0;
    this.restScheduled = false;
    this.onRest = () => {
      this.restScheduled = false;
      if (this.restBuf !== null) this.drain();
    };
    // Subclasses given as Node's IncomingMessage / ServerResponse options.
    this.reqClass = null;
    this.resClass = null;
  }

  // The op writer, with a flush scheduled for the end of this tick.
  ops() {
    this.scheduleFlush();
    return this.writer;
  }

  scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush() {
    this.flushScheduled = false;
    const native = this.native;
    const writer = this.writer;
    if (native !== null) {
      writer.flushTo(native, this.pins);
    } else {
      writer.pos = 0;
      writer.chunks = [];
    }
    const finishing = this.finishingList;
    if (finishing.length > 0) {
      this.finishingList = [];
      process.nextTick(finishAll, this, finishing);
    }
  }

  // `res.end()` was written: 'finish' follows once the flush is handed over.
  finishing(res) {
    this.finishingList.push(res);
    this.scheduleFlush();
  }

  demand(id) {
    this.writer.simple(wire.OP_DEMAND, id);
    this.scheduleFlush();
  }

  abort(id) {
    if (!this.exchanges.has(id)) return;
    this.exchanges.delete(id);
    this.writer.simple(wire.OP_ABORT, id);
    this.scheduleFlush();
  }

  destroyConnection(connId) {
    for (const [id, res] of this.exchanges) {
      if (res[kRequest][kConn].id === connId) {
        this.abort(id);
        abortExchange(res);
      }
    }
  }

  // Takes the events the native side has for JS and dispatches them. A
  // batch with many requests is dispatched a slice at a time: after each
  // slice the responses are flushed and the finished exchanges let go (the
  // microtasks and ticks after this callback) before the next slice, from
  // setImmediate. Dispatched whole, a batch of thousands of requests (many
  // HTTP/2 sessions, each with many streams) kept every req and res alive
  // at once, past V8's young generation, and GC promoted them all. `all`:
  // dispatch everything now (the server has closed).
  drain(all = false) {
    const native = this.native;
    if (native === null) return;
    // The rest of a sliced batch goes first; events drained after it
    // would overtake it.
    let buf = this.restBuf;
    let p = this.restAt;
    let fresh = buf === null;
    if (fresh) {
      buf = native.drain();
      p = 0;
    }
    this.restBuf = null;
    for (;;) {
      p = this.dispatch(native, buf, p, all ? Infinity : SLICE);
      if (p < buf.length) {
        this.restBuf = buf;
        this.restAt = p;
        if (!this.restScheduled) {
          this.restScheduled = true;
          setImmediate(this.onRest);
        }
        return;
      }
      // A rest is done: what came meanwhile is taken now (its ring may
      // have been spent on the rest). Closing: everything, now.
      if (fresh && !all) return;
      buf = native.drain();
      if (buf.length === 0) return;
      p = 0;
      fresh = true;
    }
  }

  // Dispatches the records of `buf` from `p` until `limit` requests have
  // been dispatched; returns where it stopped.
  dispatch(native, buf, p, limit) {
    const server = this.server;
    const len = buf.length;
    const exchanges = this.exchanges;
    const now = performance.now();
    let requests = 0;
    let thrown;
    while (p < len && requests < limit) {
      const type = buf[p];
      const id = u32(buf, p + 1);
      switch (type) {
        case wire.EV_REQUEST: {
          requests++;
          const p0 = p;
          const conn = this.conns.get(u32(buf, p + 5));
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
          const raw = decodeHeaders(buf, q + 4, p);
          if (version === 20) hostFromAuthority(raw);
          const req = this.reqClass === null
            ? new IncomingMessage(this, id, c, socket, method, url, version, hasBody, raw, now)
            : Reflect.construct(IncomingMessage, [this, id, c, socket, method, url, version, hasBody, raw, now], this.reqClass);
          if ((buf[p0 + 10] & wire.REQ_UPGRADE) !== 0) {
            // As node:http: CONNECT goes to 'connect' (and with nobody
            // listening, the connection is closed); other switches to
            // 'upgrade', or to 'request' when nobody listens for them.
            if (method === 'CONNECT') {
              if (server.listenerCount('connect') > 0) {
                this.upgrade(req, id, c, 'connect');
              } else {
                this.writer.simple(wire.OP_ABORT, id);
                this.scheduleFlush();
              }
              break;
            }
            if (server.listenerCount('upgrade') > 0) {
              this.upgrade(req, id, c, 'upgrade');
              break;
            }
          }
          const res = this.resClass === null
            ? new ServerResponse(this, req, id, socket)
            : Reflect.construct(ServerResponse, [this, req, id, socket], this.resClass);
          req[kResponse] = res;
          c.current = res;
          touch(c);
          exchanges.set(id, res);
          try {
            if (version === 11) dispatchHttp11(server, req, res, c);
            else server.emit('request', req, res);
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
          if (res !== undefined) {
            touch(res[kRequest][kConn]);
            pushBody(res[kRequest], buf.subarray(p + 9, p + 9 + n));
          }
          else this.tunnels.get(id)?._onBody(buf.subarray(p + 9, p + 9 + n));
          p += 9 + n;
          break;
        }
        case wire.EV_BODY_AT: {
          // A long chunk, in a Buffer of its own (see OUT_OF_BAND in
          // src/core/dispatch.rs). Taken even if nobody wants it any more.
          const chunk = native.chunk(u32(buf, p + 5));
          const res = exchanges.get(id);
          if (res !== undefined) pushBody(res[kRequest], chunk);
          else this.tunnels.get(id)?._onBody(chunk);
          p += 9;
          break;
        }
        case wire.EV_TRAILERS: {
          const n = u32(buf, p + 5);
          const res = exchanges.get(id);
          if (res !== undefined) setTrailers(res[kRequest], decodeHeaders(buf, p + 9, p + 9 + n));
          p += 9 + n;
          break;
        }
        case wire.EV_CLIENT_ERROR: {
          const conn = this.conns.get(id);
          if (conn !== undefined && server.listenerCount('clientError') > 0) {
            const socket = socketFor(this, conn);
            // The native side has answered (400, 431, 408) and is closing
            // the connection: the socket takes no more writes.
            socket.writable = false;
            server.emit('clientError', clientError(buf[p + 5]), socket);
          }
          p += 6;
          break;
        }
        case wire.EV_END: {
          const res = exchanges.get(id);
          if (res !== undefined) {
            endBody(res[kRequest]);
            if (res[kFinished]) exchanges.delete(id);
          } else {
            this.tunnels.get(id)?._onEnd();
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
            this.tunnels.get(id)?._onAbort();
          }
          p += 5;
          break;
        }
        case wire.EV_DRAIN: {
          const res = exchanges.get(id);
          if (res !== undefined) {
            touch(res[kRequest][kConn]);
            onDrain(res);
          }
          else this.tunnels.get(id)?._onDrain();
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
          this.conns.set(id, conn);
          if (server.timeout > 0) socketFor(this, conn).setTimeout(server.timeout);
          if (server.listenerCount('connection') > 0) {
            server.emit('connection', socketFor(this, conn));
          }
          break;
        }
        case wire.EV_CONN_CLOSE: {
          const conn = this.conns.get(id);
          if (conn !== undefined) {
            this.conns.delete(id);
            conn.closed = true;
            if (conn.socket !== null) conn.socket._closed();
            if (conn.tunnel) conn.tunnel._onConnClose();
          }
          p += 5;
          break;
        }
        case wire.EV_RELEASE:
          this.pins.held.delete(id);
          p += 5;
          break;
        case wire.EV_TLS_READY:
        case wire.EV_TLS_ERROR:
          p = onTlsRecord(this, buf, p);
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
    return p;
  }

  // An HTTP/1.1 request asked to switch protocols and someone listens for
  // 'upgrade': hand over a socket, as node:http does. The request has no
  // body to read (hyper passes none), and `head` is empty: bytes the client
  // sent early arrive as the socket's first 'data'.
  upgrade(req, id, conn, event) {
    req.upgrade = true;
    req.complete = true;
    const socket = new UpgradeSocket(this, id, conn, event === 'connect');
    this.tunnels.set(id, socket);
    conn.tunnel = socket;
    this.server.emit(event, req, socket, EMPTY);
  }

  dropTunnel(id, abort) {
    if (!this.tunnels.delete(id)) return;
    if (abort) {
      this.writer.simple(wire.OP_ABORT, id);
      this.scheduleFlush();
    }
  }

  // The native server has fully closed: take its last events, then end
  // whatever JS still holds.
  closed() {
    this.drain(true);
    this.flush();
    const native = this.native;
    this.native = null;
    if (native !== null) native.release();
    // The I/O thread has ended: nothing reads the lent Buffers any more.
    this.pins.held.clear();
    for (const res of this.exchanges.values()) abortExchange(res);
    this.exchanges.clear();
    for (const conn of this.conns.values()) {
      conn.closed = true;
      if (conn.socket !== null) conn.socket._closed();
      if (conn.tunnel) conn.tunnel._onConnClose();
    }
    this.tunnels.clear();
    this.conns.clear();
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

// The errors of 'clientError', by the kind the native side reports, with
// Node's codes and messages (llhttp's for parse errors).
const CLIENT_ERRORS = [
  null,
  ['HPE_INVALID_CONSTANT', 'Parse Error: Expected HTTP/'],
  ['HPE_HEADER_OVERFLOW', 'Parse Error: Header overflow'],
  ['ERR_HTTP_REQUEST_TIMEOUT', 'Request timeout'],
  ['HPE_UNEXPECTED_CONTENT_LENGTH', 'Parse Error: Transfer-Encoding can\'t be present with Content-Length'],
  ['HPE_LF_EXPECTED', 'Parse Error: Missing expected CR after header value'],
  ['HPE_INVALID_METHOD', 'Parse Error: Invalid method encountered'],
  ['HPE_INVALID_URL', 'Parse Error: Invalid URL'],
  ['HPE_INVALID_VERSION', 'Parse Error: Invalid HTTP version'],
  ['HPE_INVALID_HEADER_TOKEN', 'Parse Error: Invalid header value char'],
  ['HPE_INVALID_CHUNK_SIZE', 'Parse Error: Invalid character in chunk size'],
];

function clientError(kind) {
  const [code, message] = CLIENT_ERRORS[kind] ?? CLIENT_ERRORS[1];
  const err = new Error(message);
  err.code = code;
  if (code.startsWith('HPE_')) err.reason = message.slice('Parse Error: '.length);
  return err;
}

// An HTTP/2 request names its host in `:authority` (RFC 9113 §8.3.1); apps
// written for HTTP/1.1 (Express's req.hostname, virtual hosts) read `host`.
// As an HTTP/2-to-HTTP/1.1 proxy does, add `host` when the client sent none.
function hostFromAuthority(raw) {
  let authority;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name === 'host') return;
    if (name === ':authority') authority = raw[i + 1];
  }
  if (authority !== undefined) raw.push('host', authority);
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
  const req = res[kRequest];
  if (req[kConn].current === res) req[kConn].current = null;
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

function finishAll(transport, list) {
  const exchanges = transport.exchanges;
  for (const res of list) {
    if (res.destroyed) continue;
    onFinish(res);
    const req = res[kRequest];
    const conn = req[kConn];
    touch(conn);
    if (conn.current === res) conn.current = null;
    const dumped = dumpBody(req);
    if (dumped || req.complete) {
      exchanges.delete(req[kId]);
      // As node:http's resOnFinish: a body nobody reads is dumped, so `req`
      // still ends and emits 'close'.
      if (!req._consuming && !req.destroyed && !req._readableState.resumeScheduled) {
        req._dumped = true;
        if (!req._eventsCount) {
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

module.exports = { Transport };
