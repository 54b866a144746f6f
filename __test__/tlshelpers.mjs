// Helpers for the TLS tests: certificates made with the openssl CLI into a
// temporary directory (once per test file), and a raw TLS client that sees
// the records on the wire, to tell a close_notify from a bare FIN.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { once } from 'node:events';

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A CA, server certificates for localhost/127.0.0.1, a.test and b.test, a
 * second server certificate for rotation, a client certificate signed by
 * the CA, a self-signed client certificate, and the server key encrypted
 * as PKCS#8 under `passphrase`. Every field is PEM text; `dir` is removed
 * at exit.
 */
export function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'lastcall-tls-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=lastcall test CA']);
  const leaf = (name, cn, san, extra = '') => {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), `${san ? `subjectAltName=${san}\n` : ''}${extra}`);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '30', '-extfile', `${name}.ext`]);
  };
  leaf('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  leaf('rotated', 'localhost rotated', 'DNS:localhost,IP:127.0.0.1');
  leaf('a', 'a.test', 'DNS:a.test');
  leaf('b', 'b.test', 'DNS:*.b.test');
  leaf('client', 'lastcall client', '', 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '30', '-subj', '/CN=self-signed client']);
  const passphrase = 'correct horse';
  openssl(dir, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'server.key', '-out', 'server.enc.key', '-passout', `pass:${passphrase}`]);
  const read = (f) => readFileSync(join(dir, f), 'latin1');
  const pair = (name) => ({ key: read(`${name}.key`), cert: read(`${name}.pem`) });
  return {
    dir,
    ca: read('ca.pem'),
    server: pair('server'),
    rotated: pair('rotated'),
    a: pair('a'),
    b: pair('b'),
    client: pair('client'),
    self: pair('self'),
    encrypted: { key: read('server.enc.key'), cert: read('server.pem'), passphrase },
    file: (f) => join(dir, f),
  };
}

/** Lists the TLS record content types in `bytes` (22 handshake, 21 alert, 23 data). */
export function recordTypes(bytes) {
  const types = [];
  for (let p = 0; p + 5 <= bytes.length; p += 5 + bytes.readUInt16BE(p + 3)) types.push(bytes[p]);
  return types;
}

/**
 * A TLS client over a TCP socket whose raw bytes are kept (`raw()`), so a
 * test can see whether the server's last record was an alert (TLS 1.2 sends
 * the close_notify as an alert record; TLS 1.3 hides it). `ended` resolves
 * `{ how: 'end' | 'reset' | 'error', code }`.
 */
export async function rawTls(port, options = {}) {
  const tcp = net.connect({ port, host: '127.0.0.1' });
  await once(tcp, 'connect');
  const chunks = [];
  let pipe;
  const duplex = new Duplex({
    read() { tcp.resume(); },
    write(chunk, enc, cb) { tcp.write(chunk, cb); },
    final(cb) { tcp.end(); cb(); },
  });
  tcp.on('data', (d) => {
    chunks.push(d);
    if (!duplex.push(d)) tcp.pause();
  });
  tcp.on('end', () => duplex.push(null));
  let resolveEnded;
  const ended = new Promise((r) => { resolveEnded = r; });
  tcp.on('error', (e) => resolveEnded({ how: e.code === 'ECONNRESET' ? 'reset' : 'error', code: e.code }));
  duplex.on('error', () => {});
  const socket = tls.connect({ socket: duplex, servername: 'localhost', ...options });
  const received = [];
  socket.on('data', (d) => received.push(d));
  socket.on('end', () => resolveEnded({ how: 'end' }));
  socket.on('error', (e) => resolveEnded({ how: e.code === 'ECONNRESET' ? 'reset' : 'error', code: e.code }));
  await once(socket, 'secureConnect');
  pipe = {
    socket,
    tcp,
    ended,
    raw: () => Buffer.concat(chunks),
    text: () => Buffer.concat(received).toString('latin1'),
    async waitFor(pred, ms = 5000) {
      const t0 = Date.now();
      while (!pred(pipe.text())) {
        if (Date.now() - t0 > ms) throw new Error(`timed out; got ${JSON.stringify(pipe.text())}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return pipe.text();
    },
  };
  return pipe;
}
