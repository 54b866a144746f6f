'use strict';

const { EventEmitter } = require('node:events');

// What `req.socket` / `res.socket` is: the connection's addresses and the
// parts of net.Socket's surface that handlers commonly touch. The bytes are
// owned by the native side; this object only describes the connection.
class Socket extends EventEmitter {
  constructor(server, conn) {
    super();
    this._server = server;
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
    // What node:http's prototype methods read off a response's socket.
    this.writableLength = 0;
    this.writableHighWaterMark = 16 * 1024;
    this.readableHighWaterMark = 16 * 1024;
    this.writableCorked = 0;
  }

  setTimeout(msecs, callback) {
    this.timeout = msecs;
    if (callback) this.once('timeout', callback);
    return this;
  }

  // Ends every exchange of this connection: HTTP/1.1 closes the connection,
  // HTTP/2 resets the streams.
  destroy(err) {
    if (!this.destroyed) this._server._destroyConnection(this._conn.id);
    if (err) process.nextTick(() => this.emit('error', err));
    return this;
  }

  end() {
    return this.destroy();
  }

  _closed() {
    if (this.destroyed && !this.readable) return;
    this.destroyed = true;
    this.readable = false;
    this.writable = false;
    this.emit('close', false);
  }
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
  return { id, localAddress, localPort, remoteAddress, remotePort, socket: null, tunnel: null, closed: false, requests: 0, tls: null };
}

function socketFor(server, conn) {
  if (conn.socket === null) {
    // Required here: lib/tlssocket.js extends this module's Socket.
    conn.socket = conn.tls === null ? new Socket(server, conn) : new (require('./tlssocket').TLSSocket)(server, conn);
  }
  return conn.socket;
}

module.exports = { Socket, connRecord, socketFor, connectionSurface };
