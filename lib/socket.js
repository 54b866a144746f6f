'use strict';

const { EventEmitter } = require('node:events');

// What `req.socket` / `res.socket` is: the connection's addresses and the
// parts of net.Socket's surface that handlers commonly touch. The bytes are
// owned by the native side; this object only describes the connection.
class Socket extends EventEmitter {
  constructor(transport, conn) {
    super();
    this._transport = transport;
    this._conn = conn;
    this.remoteAddress = conn.remoteAddress;
    this.remotePort = conn.remotePort;
    this.localAddress = conn.localAddress;
    this.localPort = conn.localPort;
    this.encrypted = undefined;
    this.destroyed = conn.closed;
    this.readable = !conn.closed;
    this.writable = !conn.closed;
    this.timeout = 0;
    this._timer = null;
    this.bytesWritten = 0;
    // What node:http's prototype methods read off a response's socket.
    this.writableLength = 0;
    this.writableHighWaterMark = 16 * 1024;
    this.readableHighWaterMark = 16 * 1024;
    this.writableCorked = 0;
  }

  // The inactivity timeout, as net.Socket's: 'timeout' after `msecs` with
  // no request, body or response activity on the connection (the native
  // side owns the bytes, so activity is counted per exchange event).
  setTimeout(msecs, callback) {
    this.timeout = msecs;
    if (callback) this.once('timeout', callback);
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (msecs > 0 && !this.destroyed) {
      this._timer = setTimeout(onTimeout, msecs, this);
      this._timer.unref();
    }
    return this;
  }

  // Ends every exchange of this connection: HTTP/1.1 closes the connection,
  // HTTP/2 resets the streams.
  destroy(err) {
    if (!this.destroyed) this._transport.destroyConnection(this._conn.id);
    if (err) process.nextTick(() => this.emit('error', err));
    return this;
  }

  // The native side writes every byte of the connection: a write through
  // the socket goes nowhere, and says so as a write to a closed socket does.
  write(data, encoding, cb) {
    const done = typeof encoding === 'function' ? encoding : cb;
    const err = new Error('The socket of an HTTP exchange is written by the server; use the response');
    err.code = 'ERR_STREAM_DESTROYED';
    if (typeof done === 'function') process.nextTick(done, err);
    return false;
  }

  // Ends the connection; data given here is not sent (see write()).
  end() {
    return this.destroy();
  }

  _closed() {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (this.destroyed && !this.readable) return;
    this.destroyed = true;
    this.readable = false;
    this.writable = false;
    this.emit('close', false);
  }
}

// node:http's socketOnTimeout: the request in flight, its response and the
// server hear of it; if none listens, the socket is destroyed.
function onTimeout(socket) {
  const res = socket._conn.current;
  const req = res !== null ? res.req : null;
  const reqHeard = req !== null && !req.complete && req.emit('timeout', socket);
  const resHeard = res !== null && !res.writableEnded && res.emit('timeout', socket);
  const serverHeard = socket._transport.server.emit('timeout', socket);
  socket.emit('timeout');
  if (!reqHeard && !resHeard && !serverHeard) socket.destroy();
}

// Activity on a connection restarts its inactivity timer.
function touch(conn) {
  const socket = conn.socket;
  if (socket !== null && socket._timer !== null) socket._timer.refresh();
}

// The net.Socket surface both socket kinds share: addresses and the
// options that are always in effect here (TCP_NODELAY is set on every
// connection; keep-alive probing and ref/unref have no meaning for a socket
// the native side owns).
function connectionSurface(proto) {
  Object.defineProperty(proto, 'remoteFamily', {
    configurable: true,
    get() {
      return this.remoteAddress && this.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    },
  });
  proto.address = function address() {
    const family = this.localAddress.includes(':') ? 'IPv6' : 'IPv4';
    return { address: this.localAddress, family, port: this.localPort };
  };
  for (const name of ['setNoDelay', 'setKeepAlive', 'ref', 'unref']) {
    proto[name] = function chainable() {
      return this;
    };
  }
}

connectionSurface(Socket.prototype);

// A response's cork() and uncork() reach its socket (node:http's own
// versions, after a prototype swap): the native side already writes each
// flush at once, so there is nothing to hold back.
Socket.prototype.cork = function cork() {};
Socket.prototype.uncork = function uncork() {};

// One record per connection, from EV_CONN_OPEN to EV_CONN_CLOSE; the
// Socket object is built only if someone asks for it.
function connRecord(id, localAddress, localPort, remoteAddress, remotePort) {
  return { id, localAddress, localPort, remoteAddress, remotePort, socket: null, tunnel: null, closed: false, requests: 0, current: null, tls: null };
}

function socketFor(transport, conn) {
  if (conn.socket === null) {
    // Required here: lib/tlssocket.js extends this module's Socket.
    conn.socket = conn.tls === null ? new Socket(transport, conn) : new (require('./tlssocket').TLSSocket)(transport, conn);
  }
  return conn.socket;
}

module.exports = { Socket, connRecord, socketFor, connectionSurface, touch };
