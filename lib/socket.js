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
  }

  get remoteFamily() {
    return this.remoteAddress && this.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }

  address() {
    const family = this.localAddress.includes(':') ? 'IPv6' : 'IPv4';
    return { address: this.localAddress, family, port: this.localPort };
  }

  setTimeout(msecs, callback) {
    this.timeout = msecs;
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay() {
    return this;
  }

  setKeepAlive() {
    return this;
  }

  ref() {
    return this;
  }

  unref() {
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

// One record per connection, from EV_CONN_OPEN to EV_CONN_CLOSE; the
// Socket object is built only if someone asks for it.
function connRecord(id, localAddress, localPort, remoteAddress, remotePort) {
  return { id, localAddress, localPort, remoteAddress, remotePort, socket: null, tunnel: null, closed: false };
}

function socketFor(server, conn) {
  if (conn.socket === null) conn.socket = new Socket(server, conn);
  return conn.socket;
}

module.exports = { Socket, connRecord, socketFor };
