'use strict';

// The TLS event records (src/core/wire.rs: EV_TLS_READY, EV_TLS_ERROR) and
// the events they become: 'secureConnection' or 'unknownProtocol' when a
// handshake ends, 'tlsClientError' when one fails, as Node's tls.Server and
// http2 secure server emit them.

const wire = require('./wire');
const { socketFor } = require('./socket');

const VERSIONS = { 12: 'TLSv1.2', 13: 'TLSv1.3' };

function u32(buf, p) {
  return (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16)) + buf[p + 3] * 0x1000000;
}

// Reads one record at `p` (its type byte), acts on it, and returns where
// the next record starts.
function onTlsRecord(transport, buf, p) {
  const server = transport.server;
  const conns = transport.conns;
  const type = buf[p];
  const conn = conns.get(u32(buf, p + 1));
  if (type === wire.EV_TLS_ERROR) {
    let q = p + 5;
    const code = buf.latin1Slice(q + 1, q + 1 + buf[q]);
    q += 1 + buf[q];
    const mlen = buf[q] | (buf[q + 1] << 8);
    const message = buf.utf8Slice(q + 2, q + 2 + mlen);
    if (conn !== undefined && server.listenerCount('tlsClientError') > 0) {
      const err = new Error(message);
      err.code = code;
      err.library = 'TLS';
      server.emit('tlsClientError', err, socketFor(transport, conn));
    }
    return q + 2 + mlen;
  }
  const flags = buf[p + 5];
  const version = VERSIONS[buf[p + 6]] ?? null;
  let q = p + 7;
  const strings = [];
  for (let i = 0; i < 4; i++) {
    strings.push(buf.latin1Slice(q + 1, q + 1 + buf[q]));
    q += 1 + buf[q];
  }
  const count = buf[q] | (buf[q + 1] << 8);
  q += 2;
  const certs = [];
  for (let i = 0; i < count; i++) {
    const len = u32(buf, q);
    certs.push(Buffer.from(buf.subarray(q + 4, q + 4 + len)));
    q += 4 + len;
  }
  if (conn === undefined) return q;
  const [alpn, servername, cipher, authError] = strings;
  conn.tls = {
    version,
    cipher,
    alpnProtocol: alpn === '' ? false : alpn,
    servername: servername === '' ? false : servername,
    authorized: (flags & wire.TLS_AUTHORIZED) !== 0,
    authorizationError: authError === '' ? null : authError,
    resumed: (flags & wire.TLS_RESUMED) !== 0,
    certs,
  };
  if (conn.socket !== null) require('./tlssocket').upgradeSocket(conn.socket);
  if ((flags & wire.TLS_REFUSED) !== 0) {
    // HTTP/1.1 with allowHTTP1: false; the native side closes it.
    server.emit('unknownProtocol', socketFor(transport, conn));
  } else if (server.listenerCount('secureConnection') > 0) {
    server.emit('secureConnection', socketFor(transport, conn));
  }
  return q;
}

module.exports = { onTlsRecord };
