'use strict';
// Micro-benchmark of one response head and body through the op writer
// (JS) and the native decode of the flush, with no network: CPU ns per
// response (process CPU, both threads). Ops name exchanges that do not
// exist, which the I/O thread ignores after decoding.
//
//   node bench/micro-head.js [package dir, default: this checkout]

const path = require('node:path');

const dir = path.resolve(process.argv[2] || path.join(__dirname, '..'));
const { NativeServer } = require(path.join(dir, 'lib', 'native'));
const { OpWriter } = require(path.join(dir, 'lib', 'wire'));

const native = NativeServer.listen('127.0.0.1', 0, {
  keepAliveTimeout: 5000,
  headersTimeout: 60000,
  requestTimeout: 300000,
  maxHeaderSize: 16384,
  maxConcurrentStreams: 100,
  initialWindowSize: 65535,
  backlog: 511,
  reusePort: false,
}, () => {}, () => {});

// What bench/servers/hello.js sends on HTTP/1.1: its Content-Type and
// Node's keep-alive headers (as head flags where the build has them).
const wire = require(path.join(dir, 'lib', 'wire'));
const flags = wire.HEAD_KEEP_ALIVE ? wire.HEAD_KEEP_ALIVE | wire.HEAD_KEEP_ALIVE_TIMEOUT : 0;
const headers = flags
  ? ['content-type', 'text/plain']
  : ['content-type', 'text/plain', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5'];
const w = new OpWriter();
const PER_FLUSH = 20;

function run(n) {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < PER_FLUSH; k++) {
      const id = 0x7fff0000 + k;
      w.head(id, 200, false, null, headers, flags, 'timeout=5');
      w.data(id, 'hello world', 'utf8', true, false);
    }
    w.flushTo(native);
  }
}

run(20000); // warm-up
const flushes = 100000;
const before = process.cpuUsage();
run(flushes);
const used = process.cpuUsage(before);
const ns = ((used.user + used.system) * 1000) / (flushes * PER_FLUSH);
console.log(JSON.stringify({ dir, nsPerResponse: Math.round(ns) }));
native.close();
native.release?.();
process.exit(0);
