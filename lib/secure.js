'use strict';

// createSecureServer(): HTTPS and HTTP/2 over TLS on one port. The TLS
// handshake happens in the native core (rustls); ALPN picks HTTP/2 or
// HTTP/1.1 per connection. A SecureServer is a Server whose native side
// was handed a NativeSecureContext: everything else, close() first, is the
// same code.

const { Server, serverArgs } = require('./server');
const { NativeSecureContext } = require('./native');
const { codes, fromNative } = require('./errors');
const { kSecureContext } = require('./symbols');

// Options Node's TLS servers accept that rustls cannot honour. Naming them
// is better than ignoring them: a server that silently skipped `ciphers` or
// `pfx` would not be the server its author configured.
const UNSUPPORTED = {
  pfx: 'PKCS#12 bundles are not read; pass options.key and options.cert (PEM)',
  ciphers: 'OpenSSL cipher strings do not apply; rustls offers its own safe suites',
  dhparam: 'finite-field Diffie-Hellman is not offered; key exchange is ECDHE',
  ecdhCurve: 'the key-exchange groups are rustls\' defaults (X25519, P-256, P-384)',
  sigalgs: 'signature algorithms are rustls\' defaults',
  secureOptions: 'OpenSSL option flags do not apply',
  secureProtocol: 'use options.minVersion / options.maxVersion',
  honorCipherOrder: 'rustls chooses the suite',
  crl: 'certificate revocation lists are not read',
  privateKeyEngine: 'OpenSSL engines do not apply',
  privateKeyIdentifier: 'OpenSSL engines do not apply',
  clientCertEngine: 'OpenSSL engines do not apply',
  SNICallback: 'use server.addContext(hostname, { key, cert })',
  secureContext: 'pass { key, cert } instead of a tls.SecureContext',
  ticketKeys: 'session ticket keys are generated and rotated by the server',
  sessionIdContext: 'not used: sessions resume by ticket',
  pskCallback: 'pre-shared keys are not supported',
  pskIdentityHint: 'pre-shared keys are not supported',
  ALPNCallback: 'use options.ALPNProtocols',
  enableTrace: 'TLS tracing is not available',
  maxCachedSessions: 'the session cache size is fixed',
};

const PROTOCOLS = ['h2', 'http/1.1'];
const VERSIONS = ['TLSv1.2', 'TLSv1.3'];

function unsupported(name) {
  const err = new Error(`lastcall: options.${name} is not supported: ${UNSUPPORTED[name]}`);
  err.code = 'ERR_LASTCALL_TLS_UNSUPPORTED';
  return err;
}

// string | Buffer | ArrayBufferView, or an array of them, as Buffers.
function pems(value, name) {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    if (typeof item === 'string') return Buffer.from(item);
    if (ArrayBuffer.isView(item)) return Buffer.from(item.buffer, item.byteOffset, item.byteLength);
    const at = Array.isArray(value) ? `${name}[${i}]` : name;
    throw codes.ERR_INVALID_ARG_TYPE(at, 'of type string or an instance of Buffer, TypedArray, or DataView', item);
  });
}

// `key` may also be `{ pem, passphrase }` objects, as in Node.
function keys(value) {
  let passphrase;
  const list = (Array.isArray(value) ? value : [value]).map((item) => {
    if (item !== null && typeof item === 'object' && !ArrayBuffer.isView(item)) {
      if (item.passphrase !== undefined) passphrase = String(item.passphrase);
      return item.pem;
    }
    return item;
  });
  return { key: pems(list, 'options.key'), passphrase };
}

function contextOptions(options, where = 'options') {
  if (options === null || typeof options !== 'object') {
    throw codes.ERR_INVALID_ARG_TYPE(where, 'of type object', options);
  }
  for (const name of ['pfx', 'ciphers', 'dhparam', 'ecdhCurve', 'sigalgs', 'crl', 'secureOptions']) {
    if (options[name] !== undefined) throw unsupported(name);
  }
  if (options.key === undefined || options.cert === undefined) {
    const err = new TypeError(`lastcall: ${where}.key and ${where}.cert are required (PEM strings or Buffers)`);
    err.code = 'ERR_MISSING_ARGS';
    throw err;
  }
  const { key, passphrase } = keys(options.key);
  const out = { key, cert: pems(options.cert, `${where}.cert`) };
  if (options.ca !== undefined) out.ca = pems(options.ca, `${where}.ca`);
  const pass = options.passphrase !== undefined ? String(options.passphrase) : passphrase;
  if (pass !== undefined) out.passphrase = pass;
  return out;
}

function bool(options, name, fallback) {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw codes.ERR_INVALID_ARG_TYPE(`options.${name}`, 'of type boolean', value);
  return value;
}

function version(options, name, fallback) {
  const value = options[name];
  if (value === undefined) return fallback;
  if (!VERSIONS.includes(value)) {
    const err = new TypeError(`lastcall: options.${name} ${JSON.stringify(value)} is not supported; ` +
      `use ${VERSIONS.map((v) => `'${v}'`).join(' or ')} (rustls speaks TLS 1.2 and 1.3 only)`);
    err.code = 'ERR_TLS_INVALID_PROTOCOL_VERSION';
    throw err;
  }
  return value;
}

// ALPNProtocols: strings or Buffers, or Node's wire format (one Buffer of
// length-prefixed names).
function alpn(options, allowHTTP1) {
  const value = options.ALPNProtocols;
  if (value === undefined) return allowHTTP1 ? PROTOCOLS.slice() : ['h2'];
  let names;
  if (Array.isArray(value)) {
    names = value.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('latin1')));
  } else if (ArrayBuffer.isView(value)) {
    const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    names = [];
    for (let p = 0; p < buf.length; p += 1 + buf[p]) names.push(buf.latin1Slice(p + 1, p + 1 + buf[p]));
  } else {
    throw codes.ERR_INVALID_ARG_TYPE('options.ALPNProtocols', 'an Array or a Buffer', value);
  }
  for (const name of names) {
    if (!PROTOCOLS.includes(name)) {
      throw codes.ERR_INVALID_ARG_VALUE('options.ALPNProtocols', names, `may name only ${PROTOCOLS.join(' and ')}`);
    }
  }
  if (names.length === 0) throw codes.ERR_INVALID_ARG_VALUE('options.ALPNProtocols', names, 'must not be empty');
  return names;
}

function millis(options, name, fallback) {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0)) {
    throw codes.ERR_OUT_OF_RANGE(`options.${name}`, '>= 0', value);
  }
  return value;
}

function nativeCall(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

function buildContext(options) {
  for (const name of Object.keys(UNSUPPORTED)) {
    if (options[name] !== undefined) throw unsupported(name);
  }
  const allowHTTP1 = bool(options, 'allowHTTP1', true);
  return nativeCall(() => new NativeSecureContext({
    context: contextOptions(options),
    minVersion: version(options, 'minVersion', 'TLSv1.2'),
    maxVersion: version(options, 'maxVersion', 'TLSv1.3'),
    alpnProtocols: alpn(options, allowHTTP1),
    allowHttp1: allowHTTP1,
    requestCert: bool(options, 'requestCert', false),
    rejectUnauthorized: bool(options, 'rejectUnauthorized', true),
    handshakeTimeout: millis(options, 'handshakeTimeout', 120000),
    sessionTimeout: millis(options, 'sessionTimeout', 300),
  }));
}

// node:https's Server and http2's secure server in one: HTTP/1.1 and
// HTTP/2 over TLS, chosen by ALPN (allowHTTP1 defaults to true here, where
// http2.createSecureServer defaults it to false).
class SecureServer extends Server {
  constructor(options, requestListener) {
    [options, requestListener] = serverArgs(options, requestListener);
    const context = buildContext(options);
    super(options, requestListener);
    this[kSecureContext] = context;
    this.allowHTTP1 = bool(options, 'allowHTTP1', true);
  }

  // SNI: clients asking for `hostname` (`*` stands for one label, as in
  // Node) get this key and certificate.
  addContext(hostname, context) {
    if (typeof hostname !== 'string') throw codes.ERR_INVALID_ARG_TYPE('hostname', 'of type string', hostname);
    nativeCall(() => this[kSecureContext].addContext(hostname, contextOptions(context, 'context')));
  }

  // Certificate rotation: new handshakes use these; connections already
  // made keep theirs.
  setSecureContext(options) {
    nativeCall(() => this[kSecureContext].setDefault(contextOptions(options)));
  }
}

function createSecureServer(options, requestListener) {
  return new SecureServer(options, requestListener);
}

module.exports = { SecureServer, createSecureServer };
