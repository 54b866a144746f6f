'use strict';

const { X509Certificate } = require('node:crypto');
const { Socket } = require('./socket');

// `req.socket` on a secure server: the parts of tls.TLSSocket that
// handlers and frameworks read (Express: `req.connection.encrypted`).
// The handshake happened in the native core; its outcome arrives in an
// EV_TLS_READY record (lib/tlsrecords.js) and is kept on the connection.
class TLSSocket extends Socket {
  constructor(server, conn) {
    super(server, conn);
    secure(this, conn.tls);
  }

  // As tls.TLSSocket: `{}` without a client certificate; Node's legacy
  // certificate object otherwise, built by node:crypto from the DER, so the
  // formatting (valid_from, fingerprint256, subject) is exactly Node's.
  getPeerCertificate(detailed) {
    const tls = this._conn.tls;
    if (tls === null || tls.certs.length === 0) return {};
    const certs = detailed ? tls.certs : tls.certs.slice(0, 1);
    const objects = certs.map(legacyObject);
    if (detailed) {
      for (let i = 0; i < objects.length - 1; i++) objects[i].issuerCertificate = objects[i + 1];
      const last = objects.length - 1;
      const root = new X509Certificate(certs[last]);
      // Node links a self-signed root to itself.
      if (root.checkIssued(root)) objects[last].issuerCertificate = objects[last];
    }
    return objects[0];
  }

  getPeerX509Certificate() {
    const tls = this._conn.tls;
    return tls === null || tls.certs.length === 0 ? undefined : new X509Certificate(tls.certs[0]);
  }

  getProtocol() {
    const tls = this._conn.tls;
    return tls === null ? null : tls.version;
  }

  getCipher() {
    const tls = this._conn.tls;
    if (tls === null || tls.cipher === '') return {};
    const standardName = tls.cipher.replace(/^TLS13_/, 'TLS_');
    return { name: standardName, standardName, version: tls.version };
  }

  isSessionReused() {
    const tls = this._conn.tls;
    return tls !== null && tls.resumed;
  }
}

function legacyObject(der) {
  const x509 = new X509Certificate(der);
  const object = x509.toLegacyObject();
  object.raw = Buffer.from(der);
  return object;
}

// The TLS fields of a socket, as own data properties, as tls.TLSSocket has
// them.
function secure(socket, tls) {
  socket.encrypted = true;
  socket.alpnProtocol = tls.alpnProtocol;
  socket.servername = tls.servername;
  socket.authorized = tls.authorized;
  socket.authorizationError = tls.authorizationError;
}

// A socket made before the handshake ended (for a 'connection' listener)
// becomes a TLSSocket once it has.
function upgradeSocket(socket) {
  Object.setPrototypeOf(socket, TLSSocket.prototype);
  secure(socket, socket._conn.tls);
}

module.exports = { TLSSocket, upgradeSocket };
