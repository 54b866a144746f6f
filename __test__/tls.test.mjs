// HTTPS and HTTP/2 over TLS (issue 13): real clients against
// createSecureServer() with certificates the test makes with openssl.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import tls from 'node:tls';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import express from 'express';
import { WebSocketServer, WebSocket } from 'ws';
import { createSecureServer, SecureServer } from '../index.mjs';
import { makeCerts } from './tlshelpers.mjs';
import { listen, sleep } from './raw.mjs';

const certs = makeCerts();

async function secure(t, options, handler) {
  const server = createSecureServer({ ...certs.server, ...options }, handler);
  const port = await listen(server);
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { server, port };
}

function httpsGet(port, options = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', servername: 'localhost', port, ca: certs.ca, agent: false, ...options }, (res) => {
      const socket = res.socket;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ res, body, socket }));
    });
    req.on('error', reject);
  });
}

function h2Get(port, path = '/', options = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, { ca: certs.ca, ...options });
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let head;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => { head = h; });
    stream.on('data', (d) => { body += d; });
    stream.on('end', () => {
      session.close();
      resolve({ head, body, session });
    });
    stream.on('error', reject);
  });
}

function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
  });
}

const describeSocket = (req) => {
  const s = req.socket;
  return {
    version: req.httpVersion,
    encrypted: s.encrypted,
    alpn: s.alpnProtocol,
    servername: s.servername,
    protocol: s.getProtocol(),
    scheme: req.headers[':scheme'],
  };
};

test('node:https with ca: HTTP/1.1 over TLS; req.socket is encrypted and says so', async (t) => {
  const { port } = await secure(t, {}, (req, res) => res.end(JSON.stringify(describeSocket(req))));
  const { res, body } = await httpsGet(port);
  assert.equal(res.statusCode, 200);
  const seen = JSON.parse(body);
  assert.deepEqual(seen, { version: '1.1', encrypted: true, alpn: false, servername: 'localhost', protocol: 'TLSv1.3' });
});

test('node:http2 with ca: ALPN picks h2, :scheme is https', async (t) => {
  const { port } = await secure(t, {}, (req, res) => res.end(JSON.stringify(describeSocket(req))));
  const { head, body } = await h2Get(port);
  assert.equal(head[':status'], 200);
  assert.deepEqual(JSON.parse(body), {
    version: '2.0', encrypted: true, alpn: 'h2', servername: 'localhost', protocol: 'TLSv1.3', scheme: 'https',
  });
});

test('curl --http2 and curl --http1.1 over TLS, verifying the certificate', async (t) => {
  const { port } = await secure(t, {}, (req, res) => res.end(`hello over ${req.httpVersion}`));
  const url = `https://localhost:${port}/`;
  const resolve = `localhost:${port}:127.0.0.1`;
  const h2 = await run('curl', ['-sS', '--http2', '--cacert', certs.file('ca.pem'), '--resolve', resolve, '-w', ' %{http_version}', url]);
  assert.equal(h2.stdout, 'hello over 2.0 2', h2.stderr);
  const h1 = await run('curl', ['-sS', '--http1.1', '--cacert', certs.file('ca.pem'), '--resolve', resolve, '-w', ' %{http_version}', url]);
  assert.equal(h1.stdout, 'hello over 1.1 1.1', h1.stderr);
});

test('nghttp over TLS', async (t) => {
  const { port } = await secure(t, {}, (req, res) => res.end(`nghttp got ${req.httpVersion} ${req.socket.alpnProtocol}`));
  const r = await run('nghttp', ['-v', `https://127.0.0.1:${port}/x`]);
  assert.equal(r.err, null, r.stderr);
  assert.match(r.stdout, /nghttp got 2\.0 h2/);
  assert.match(r.stdout, /:status: 200/);
});

test('a ws client over wss:// through the upgrade event', async (t) => {
  const wss = new WebSocketServer({ noServer: true });
  const { server, port } = await secure(t, {}, (req, res) => res.end());
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (m) => ws.send(`echo ${m} (encrypted: ${req.socket.encrypted})`));
    });
  });
  const ws = new WebSocket(`wss://localhost:${port}/ws`, { ca: certs.ca });
  await once(ws, 'open');
  ws.send('hi');
  const [msg] = await once(ws, 'message');
  assert.equal(String(msg), 'echo hi (encrypted: true)');
  ws.close();
  await once(ws, 'close');
});

test('Express sees req.protocol https and req.secure over TLS', async (t) => {
  const app = express();
  app.get('/', (req, res) => res.json({ protocol: req.protocol, secure: req.secure }));
  const { port } = await secure(t, {}, app);
  const { body } = await httpsGet(port);
  assert.deepEqual(JSON.parse(body), { protocol: 'https', secure: true });
  const { body: b2 } = await h2Get(port);
  assert.deepEqual(JSON.parse(b2), { protocol: 'https', secure: true });
});

test('mutual TLS: a client certificate signed by ca is accepted and described as Node describes it', async (t) => {
  const { port } = await secure(t, { ca: certs.ca, requestCert: true }, (req, res) => {
    const s = req.socket;
    const pc = s.getPeerCertificate();
    res.end(JSON.stringify({
      authorized: s.authorized,
      error: s.authorizationError,
      subject: pc.subject.CN,
      issuer: pc.issuer.CN,
      validFrom: pc.valid_from,
      validTo: pc.valid_to,
      fingerprint256: pc.fingerprint256,
      raw: pc.raw.toString('base64'),
    }));
  });
  const { body } = await httpsGet(port, certs.client);
  const seen = JSON.parse(body);
  const expected = new (await import('node:crypto')).X509Certificate(certs.client.cert);
  assert.equal(seen.authorized, true);
  assert.equal(seen.error, null);
  assert.equal(seen.subject, 'lastcall client');
  assert.equal(seen.issuer, 'lastcall test CA');
  assert.equal(seen.validFrom, expected.validFrom);
  assert.equal(seen.validTo, expected.validTo);
  assert.equal(seen.fingerprint256, expected.fingerprint256);
  assert.equal(seen.raw, expected.raw.toString('base64'));
});

test('mutual TLS: a client without a certificate, or with one not signed by ca, is refused; tlsClientError; the server keeps serving', async (t) => {
  const { server, port } = await secure(t, { ca: certs.ca, requestCert: true }, (req, res) => res.end('in'));
  const errors = [];
  server.on('tlsClientError', (err, socket) => errors.push({ code: err.code, remote: socket.remoteAddress }));
  await assert.rejects(httpsGet(port));
  await assert.rejects(httpsGet(port, certs.self));
  await sleep(50);
  assert.deepEqual(errors.map((e) => e.code), ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ERR_SSL_CERTIFICATE_VERIFY_FAILED']);
  assert.equal(errors[0].remote, '127.0.0.1');
  const { body } = await httpsGet(port, certs.client);
  assert.equal(body, 'in');
});

test('requestCert without rejectUnauthorized: the request sees authorized false and Node\'s authorizationError', async (t) => {
  const { port } = await secure(t, { ca: certs.ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    res.end(JSON.stringify([req.socket.authorized, req.socket.authorizationError, Object.keys(req.socket.getPeerCertificate()).length > 0]));
  });
  assert.deepEqual(JSON.parse((await httpsGet(port)).body), [false, 'UNABLE_TO_GET_ISSUER_CERT', false]);
  assert.deepEqual(JSON.parse((await httpsGet(port, certs.self)).body), [false, 'DEPTH_ZERO_SELF_SIGNED_CERT', true]);
  assert.deepEqual(JSON.parse((await httpsGet(port, certs.client)).body), [true, null, true]);
});

async function peerCN(port, servername) {
  const socket = tls.connect({ port, host: '127.0.0.1', servername, ca: certs.ca, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const cn = socket.getPeerCertificate().subject.CN;
  socket.end();
  return cn;
}

test('SNI: addContext picks the certificate for two host names, a wildcard one included; others get the default', async (t) => {
  const { server, port } = await secure(t, {}, (req, res) => res.end(req.socket.servername));
  server.addContext('a.test', certs.a);
  server.addContext('*.b.test', certs.b);
  assert.equal(await peerCN(port, 'a.test'), 'a.test');
  assert.equal(await peerCN(port, 'x.b.test'), 'b.test');
  assert.equal(await peerCN(port, 'localhost'), 'localhost');
  assert.equal(await peerCN(port, 'y.x.b.test'), 'localhost', '* matches within one label');
  const { body } = await httpsGet(port, { servername: 'a.test', checkServerIdentity: () => undefined });
  assert.equal(body, 'a.test');
});

test('setSecureContext() rotates the certificate for new connections; an open connection keeps its own', async (t) => {
  const { server, port } = await secure(t, {}, (req, res) => res.end('ok'));
  const agent = new https.Agent({ keepAlive: true, ca: certs.ca, servername: 'localhost' });
  t.after(() => agent.destroy());
  const first = await httpsGet(port, { agent });
  const oldSocket = first.socket;
  assert.equal(oldSocket.getPeerCertificate().subject.CN, 'localhost');
  server.setSecureContext(certs.rotated);
  assert.equal(await peerCN(port, 'localhost'), 'localhost rotated');
  const again = await httpsGet(port, { agent });
  assert.equal(again.socket, oldSocket, 'the keep-alive connection was reused');
  assert.equal(again.body, 'ok');
  assert.equal(again.socket.getPeerCertificate().subject.CN, 'localhost');
  assert.throws(() => server.setSecureContext({ key: certs.a.key, cert: certs.server.cert }), { code: 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' });
  assert.equal(await peerCN(port, 'localhost'), 'localhost rotated', 'a refused context changes nothing');
});

test('options: bad keys and certificates throw synchronously with a clear code; unsupported Node options are named', () => {
  assert.throws(() => createSecureServer({ key: 'nope', cert: certs.server.cert }), { code: 'ERR_OSSL_PEM_NO_START_LINE', message: /options\.key/ });
  assert.throws(() => createSecureServer({ key: certs.server.key, cert: 'nope' }), { code: 'ERR_OSSL_PEM_NO_START_LINE', message: /options\.cert/ });
  assert.throws(() => createSecureServer({ key: certs.a.key, cert: certs.server.cert }), { code: 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' });
  assert.throws(() => createSecureServer({ cert: certs.server.cert }), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => createSecureServer({ ...certs.server, ca: 'junk' }), { code: 'ERR_OSSL_PEM_NO_START_LINE', message: /options\.ca/ });
  for (const name of ['pfx', 'ciphers', 'dhparam', 'secureOptions', 'SNICallback', 'ecdhCurve']) {
    assert.throws(() => createSecureServer({ ...certs.server, [name]: 'x' }),
      (err) => err.code === 'ERR_LASTCALL_TLS_UNSUPPORTED' && err.message.includes(`options.${name}`), name);
  }
  assert.throws(() => createSecureServer({ ...certs.server, minVersion: 'TLSv1' }), { code: 'ERR_TLS_INVALID_PROTOCOL_VERSION' });
  assert.throws(() => createSecureServer({ ...certs.server, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), { code: 'ERR_TLS_PROTOCOL_VERSION_CONFLICT' });
  assert.throws(() => createSecureServer({ ...certs.server, ALPNProtocols: ['h3'] }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createSecureServer({ ...certs.encrypted, passphrase: 'wrong' }), { code: 'ERR_OSSL_BAD_DECRYPT' });
  assert.throws(() => createSecureServer({ key: certs.encrypted.key, cert: certs.encrypted.cert }), { code: 'ERR_OSSL_BAD_DECRYPT', message: /passphrase/ });
  const s = createSecureServer({ ...certs.server, key: Buffer.from(certs.server.key), cert: [Buffer.from(certs.server.cert)] });
  assert.ok(s instanceof SecureServer);
});

test('an encrypted PKCS#8 key with its passphrase serves', async (t) => {
  const server = createSecureServer(certs.encrypted, (req, res) => res.end('decrypted'));
  const port = await listen(server);
  t.after(() => new Promise((r) => server.close(r)));
  assert.equal((await httpsGet(port)).body, 'decrypted');
  const keyObject = createSecureServer({ key: [{ pem: certs.encrypted.key, passphrase: certs.encrypted.passphrase }], cert: certs.server.cert });
  assert.ok(keyObject instanceof SecureServer);
});

test('allowHTTP1: false refuses HTTP/1.1 clients with unknownProtocol; h2 is served', async (t) => {
  const { server, port } = await secure(t, { allowHTTP1: false }, (req, res) => res.end('h2 only'));
  const refused = once(server, 'unknownProtocol');
  await assert.rejects(httpsGet(port));
  const [socket] = await refused;
  assert.equal(socket.encrypted, true);
  assert.equal((await h2Get(port)).body, 'h2 only');
});

test('minVersion TLSv1.3 refuses a TLS 1.2 client with tlsClientError', async (t) => {
  const { server, port } = await secure(t, { minVersion: 'TLSv1.3' }, (req, res) => res.end('1.3'));
  const failed = once(server, 'tlsClientError');
  await assert.rejects(httpsGet(port, { maxVersion: 'TLSv1.2' }));
  const [err] = await failed;
  assert.equal(err.code, 'ERR_SSL_UNSUPPORTED_PROTOCOL');
  assert.equal((await httpsGet(port)).body, '1.3');
});

test('connectionsInfo() counts a connection in its handshake as handshaking, not idle', async (t) => {
  const { server, port } = await secure(t, {}, (req, res) => res.end());
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  c.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x80, 0x01]));
  let info;
  for (let i = 0; i < 100; i++) {
    info = server.connectionsInfo();
    if (info.handshaking === 1) break;
    await sleep(10);
  }
  assert.equal(info.handshaking, 1);
  assert.equal(info.idle, 0);
  c.destroy();
});
