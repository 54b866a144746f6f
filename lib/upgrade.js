'use strict';

const { Duplex } = require('node:stream');
const { connResetException } = require('./errors');
const { connectionSurface } = require('./socket');
const { OP_CLOSE } = require('./wire');

// The `socket` of the 'upgrade' event: a Duplex with the parts of
// net.Socket that ws and socket.io use.
//
// As in Node, the application answers the upgrade by writing a raw HTTP
// response head on the socket ("HTTP/1.1 101 Switching Protocols\r\n…").
// hyper owns the HTTP/1.1 framing, so the head is parsed here and handed over
// as a response: a 101 switches the connection to a raw tunnel, anything else
// (a refusal such as 400) goes out as an ordinary response whose body is what
// the application writes next.
class UpgradeSocket extends Duplex {
  // `connect`: the socket of a CONNECT request, which a 2xx answer (not a
  // 101) turns into a tunnel.
  constructor(transport, id, conn, connect = false) {
    super({ allowHalfOpen: true, highWaterMark: 64 * 1024 });
    this._transport = transport;
    this._id = id;
    this._conn = conn;
    this._head = '';
    this._headSent = false;
    this._pendingWrites = [];
    this._outstanding = 0;
    this._ended = false;
    this._switched = false;
    this._connect = connect;
    this._remoteGone = false;
    this._timeoutMs = 0;
    this._timer = null;
    this.remoteAddress = conn.remoteAddress;
    this.remotePort = conn.remotePort;
    this.localAddress = conn.localAddress;
    this.localPort = conn.localPort;
    this.bytesWritten = 0;
    this.connecting = false;
  }

  get readyState() {
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  // Emits 'timeout' after `msecs` without bytes in either direction, as
  // net.Socket does; 0 turns it off.
  setTimeout(msecs, callback) {
    this._timeoutMs = msecs;
    if (callback) this.once('timeout', callback);
    this._touch();
    return this;
  }

  _touch() {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (this._timeoutMs > 0 && !this.destroyed) {
      this._timer = setTimeout(() => {
        this._timer = null;
        this.emit('timeout');
      }, this._timeoutMs);
      this._timer.unref();
    }
  }

  _write(chunk, encoding, callback) {
    this._touch();
    if (!this._headSent) {
      this._head += chunk.toString('latin1');
      const end = this._head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this._head.length > 64 * 1024) {
          callback(new Error('lastcall: the upgrade response head is too large'));
          return;
        }
        callback();
        return;
      }
      const head = this._head.slice(0, end);
      const rest = Buffer.from(this._head.slice(end + 4), 'latin1');
      this._head = '';
      const parsed = parseHead(head);
      if (parsed === null) {
        callback(new Error('lastcall: write on an upgrade socket must start with an HTTP/1.1 response head'));
        return;
      }
      this._headSent = true;
      this._switched = this._connect ? parsed.status >= 200 && parsed.status < 300 : parsed.status === 101;
      if (!this._switched) {
        // Node never serves another request on a connection it handed to
        // an 'upgrade' listener: the connection ends with this response.
        parsed.headers = closing(parsed.headers);
      }
      const writer = this._transport.ops();
      writer.head(this._id, parsed.status, false, parsed.reason, parsed.headers);
      if (rest.length === 0) {
        callback();
        return;
      }
      chunk = rest;
    }
    const writer = this._transport.ops();
    const len = chunk.length;
    this.bytesWritten += len;
    this._outstanding += len;
    const wantDrain = this._outstanding > this.writableHighWaterMark;
    writer.data(this._id, chunk, undefined, false, wantDrain);
    if (wantDrain) this._pendingWrites.push(callback);
    else callback();
  }

  // Corked writes (ws corks a frame header and its payload) arrive
  // together and travel as one chunk.
  _writev(chunks, callback) {
    if (!this._headSent || chunks.length === 1) {
      let i = 0;
      const next = (err) => {
        if (err || i === chunks.length) {
          callback(err);
          return;
        }
        const { chunk, encoding } = chunks[i++];
        this._write(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk, 'buffer', next);
      };
      next();
      return;
    }
    const bufs = chunks.map(({ chunk, encoding }) => (typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk));
    this._write(Buffer.concat(bufs), 'buffer', callback);
  }

  _final(callback) {
    this._ended = true;
    if (!this._headSent) {
      // Ended before any response: nothing was promised, close the connection.
      this._transport.abort(this._id);
      callback();
      return;
    }
    this._transport.ops().data(this._id, Buffer.alloc(0), undefined, true, false);
    callback();
  }

  _read() {
    this._transport.demand(this._id);
  }

  _destroy(err, callback) {
    if (this._timer !== null) clearTimeout(this._timer);
    // Destroyed after both directions closed in order, or after a refusal
    // response was ended: let the native side finish cleanly. Otherwise
    // the connection is cut.
    const clean = (this.readableEnded && this.writableFinished) || (this._ended && !this._switched);
    if (!clean && !this._remoteGone && this._headSent) {
      // Node hands a write to the kernel at once, so destroy() after
      // write() still delivers it (ws refuses a login with write(401) then
      // destroy(), and ws.terminate() follows ws.send()): what was written
      // goes out, then the connection closes.
      this._transport.ops().simple(OP_CLOSE, this._id);
      this._transport.dropTunnel(this._id, false);
    } else {
      this._transport.dropTunnel(this._id, !clean && !this._remoteGone);
    }
    callback(err);
  }

  // ---- from the server's event loop ----

  _onBody(buf) {
    this._touch();
    this.push(buf);
  }

  _onEnd() {
    this.push(null);
  }

  _onDrain() {
    this._outstanding = 0;
    const cbs = this._pendingWrites;
    this._pendingWrites = [];
    for (const cb of cbs) cb();
  }

  _onAbort() {
    this._remoteGone = true;
    if (!this.destroyed) this.destroy(connResetException('socket hang up'));
  }

  _onConnClose() {
    this._remoteGone = true;
    if (!this.destroyed) {
      if (!this.readableEnded) this.push(null);
      this.destroy();
    }
  }
}

connectionSurface(UpgradeSocket.prototype);

function parseHead(text) {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) return null;
  const headers = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    headers.push(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), reason: m[2] || '', headers };
}

// `headers` (flat [name, value, …]) with any Connection header replaced by
// `Connection: close`.
function closing(headers) {
  const out = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].toLowerCase() !== 'connection') out.push(headers[i], headers[i + 1]);
  }
  out.push('Connection', 'close');
  return out;
}

module.exports = { UpgradeSocket };
