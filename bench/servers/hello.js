'use strict';
// One benchmark server: `node hello.js <impl> <port> [mode]`, impl =
// lastcall | node (node:http) | node2 (node:http2, h2c), and over TLS
// lastcall-tls (createSecureServer) | node-https | node2-tls
// (http2.createSecureServer), with the key and certificate from the
// directory in LASTCALL_BENCH_CERTS; mode = hello (the default), big (a
// 64 KiB response), echo (the request body sent back) or mixed (POST bodies
// echoed back, anything else answered hello).
// Signals readiness over IPC.
// Over IPC it answers { cmd: 'close' } with how long close() took to call back.

const impl = process.argv[2];
const port = Number(process.argv[3]);
const mode = process.argv[4] || 'hello';
const BIG = Buffer.alloc(64 * 1024, 120);

function hello(req, res) {
  if (mode === 'echo' || (mode === 'mixed' && req.method === 'POST')) {
    res.setHeader('content-type', 'application/octet-stream');
    req.pipe(res);
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end(mode === 'big' ? BIG : 'hello world');
}

const tls = () => {
  const fs = require('node:fs');
  const dir = process.env.LASTCALL_BENCH_CERTS;
  return { key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`) };
};

let server;
// LASTCALL_MODULE: another copy of the package (bench/ab.js compares builds).
if (impl === 'lastcall') server = require(process.env.LASTCALL_MODULE || '../../index.js').createServer(hello);
else if (impl === 'lastcall-tls') server = require(process.env.LASTCALL_MODULE || '../../index.js').createSecureServer(tls(), hello);
else if (impl === 'node-https') server = require('node:https').createServer(tls(), hello);
else if (impl === 'node2-tls') server = require('node:http2').createSecureServer({ ...tls(), allowHTTP1: true }, hello);
else if (impl === 'node') server = require('node:http').createServer(hello);
else if (impl === 'node2') server = require('node:http2').createServer(hello);
else throw new Error(`unknown impl ${impl}`);

server.listen(port, '127.0.0.1', () => {
  if (process.send) process.send({ ready: true });
  else console.log('ready');
});

process.on('message', (msg) => {
  if (msg.cmd !== 'close') return;
  const t0 = performance.now();
  let done = false;
  server.close(() => {
    done = true;
    process.send({ closedMs: performance.now() - t0 }, () => process.exit(0));
  });
  // node:http keeps idle keep-alive sockets open; this is what a Node user
  // has to add to get a prompt callback.
  if (impl === 'node' && msg.forceIdle) server.closeAllConnections();
  setTimeout(() => {
    if (!done) process.send({ closedMs: null }, () => process.exit(0));
  }, msg.limitMs || 3000).unref();
});
