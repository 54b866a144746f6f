// Process lifetime (DESIGN §4): a closed server holds nothing that keeps
// Node alive, and a worker that exits without close() releases its port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../index.js', import.meta.url));

function run(source, { timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', source], {
      env: { ...process.env, LASTCALL_ENTRY: entry },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeout} ms; stdout: ${out} stderr: ${err}`));
    }, timeout);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err, exitedAt: performance.now() });
    });
  });
}

test('a script that served keep-alive HTTP/1.1 and HTTP/2 clients, still connected, exits by itself right after the close callback', async () => {
  const { code, out, err } = await run(`
    const http = require('node:http');
    const http2 = require('node:http2');
    const { createServer } = require(process.env.LASTCALL_ENTRY);
    const server = createServer((req, res) => res.end('hi'));
    server.listen(0, '127.0.0.1', async () => {
      const { port } = server.address();
      const agent = new http.Agent({ keepAlive: true });
      await new Promise((resolve) => http.get({ port, host: '127.0.0.1', agent }, (r) => { r.resume(); r.on('end', resolve); }));
      const session = http2.connect('http://127.0.0.1:' + port);
      await new Promise((resolve) => { const s = session.request({ ':path': '/' }); s.resume(); s.on('end', resolve); s.end(); });
      // Both clients stay connected: the server must end them.
      server.close(() => {
        console.log('callback ' + performance.now());
        process.on('exit', () => console.log('exit ' + performance.now()));
      });
    });
  `);
  assert.equal(code, 0, err);
  const cb = Number(/callback ([\d.]+)/.exec(out)?.[1]);
  const exit = Number(/exit ([\d.]+)/.exec(out)?.[1]);
  assert.ok(cb > 0 && exit > 0, out);
  assert.ok(exit - cb < 500, `exited ${Math.round(exit - cb)} ms after the callback`);
});

test('a script that creates a server and never listens exits at once', async () => {
  const { code, err } = await run(`
    const { createServer } = require(process.env.LASTCALL_ENTRY);
    createServer(() => {});
    console.log('done');
  `, { timeout: 5000 });
  assert.equal(code, 0, err);
});

test('a listening server keeps the process alive until close()', async () => {
  const { code, out, err } = await run(`
    const { createServer } = require(process.env.LASTCALL_ENTRY);
    const server = createServer(() => {});
    server.listen(0, '127.0.0.1', () => {
      setTimeout(() => { console.log('still alive'); server.close(); }, 300);
    });
  `);
  assert.equal(code, 0, err);
  assert.match(out, /still alive/);
});

test('a server in a worker_thread that exits without close() releases its port', async () => {
  const { code, out, err } = await run(`
    const { Worker } = require('node:worker_threads');
    const net = require('node:net');
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads');
      const { createServer } = require(process.env.LASTCALL_ENTRY);
      const server = createServer((req, res) => res.end('w'));
      server.listen(0, '127.0.0.1', () => {
        parentPort.postMessage(server.address().port);
        // Exit without close(): the cleanup hook must release the port.
        setTimeout(() => process.exit(0), 50);
      });
    \`, { eval: true });
    w.on('message', (port) => { globalThis.port = port; });
    w.on('exit', () => {
      const port = globalThis.port;
      const probe = net.connect(port, '127.0.0.1');
      probe.on('connect', () => { console.log('still open ' + port); probe.destroy(); });
      probe.on('error', (e) => {
        console.log('probe ' + e.code);
        const again = net.createServer().listen(port, '127.0.0.1', () => { console.log('relisten ok'); again.close(); });
      });
    });
  `);
  assert.equal(code, 0, err);
  assert.match(out, /probe ECONNREFUSED/);
  assert.match(out, /relisten ok/);
});

test('C12: with NODE_DEBUG=lastcall a closing server logs once a second what it waits for', async () => {
  const child = spawn(process.execPath, ['-e', `
    const http = require('node:http');
    const { createServer } = require(process.env.LASTCALL_ENTRY);
    let release;
    const server = createServer((req, res) => { release = () => res.end('ok'); });
    server.listen(0, '127.0.0.1', () => {
      http.get({ port: server.address().port, host: '127.0.0.1', path: '/held' }, (r) => r.resume());
      const wait = setInterval(() => {
        if (!release) return;
        clearInterval(wait);
        server.close();
        setTimeout(release, 2300);
      }, 5);
    });
  `], { env: { ...process.env, LASTCALL_ENTRY: entry, NODE_DEBUG: 'lastcall' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, err);
  const lines = err.split('\n').filter((l) => /LASTCALL \d+: closing: waiting for 1 request\(s\): GET \/held/.test(l));
  assert.ok(lines.length >= 2 && lines.length <= 3, err);
});
