// Bodies of 64 MiB stream through the server in both directions, on both
// protocols, while the server process's memory stays flat (DESIGN §3
// "Backpressure both ways").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import http2 from 'node:http2';
import { once } from 'node:events';
import { impl } from './helpers.mjs';

const SIZE = 64 * 1024 * 1024;
const ALLOWED_GROWTH = 40 * 1024 * 1024;
const fixture = fileURLToPath(new URL('./fixtures/body-server.cjs', import.meta.url));

function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

async function startServer(t) {
  const child = spawn(process.execPath, [fixture], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const [line] = await once(child.stdout, 'data');
  return { port: Number(String(line).trim()), pid: child.pid };
}

// Watches the peak RSS while `work` runs.
async function peakDuring(pid, work) {
  let peak = rss(pid);
  const timer = setInterval(() => { peak = Math.max(peak, rss(pid)); }, 20);
  try {
    const result = await work();
    return { peak, result };
  } finally {
    clearInterval(timer);
  }
}

function* chunks(total) {
  const chunk = Buffer.alloc(256 * 1024, 3);
  for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
}

async function writeAll(stream, total) {
  for (const c of chunks(total)) {
    if (!stream.write(c)) await once(stream, 'drain');
  }
  stream.end();
}

function h1(port, method, path, uploadSize) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path }, (res) => {
      let n = 0;
      res.on('data', (d) => { n += d.length; });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (uploadSize) writeAll(req, uploadSize);
    else req.end();
  });
}

function h2(port, method, path, uploadSize) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': method, ':path': path });
    let n = 0;
    stream.on('data', (d) => { n += d.length; });
    stream.on('end', () => { session.close(); resolve(n); });
    stream.on('error', reject);
    if (uploadSize) writeAll(stream, uploadSize);
    else stream.end();
  });
}

for (const [proto, client] of [['h1', h1], ['h2', h2]]) {
  if (impl === 'node' && proto === 'h2') continue;

  test(`${proto}: a 64 MiB upload echoed back streams through with flat server memory`, async (t) => {
    const { port, pid } = await startServer(t);
    await client(port, 'POST', '/echo', 1024 * 1024);
    const base = rss(pid);
    const { peak, result } = await peakDuring(pid, () => client(port, 'POST', '/echo', SIZE));
    assert.equal(result, SIZE);
    assert.ok(peak - base < ALLOWED_GROWTH, `server RSS grew by ${((peak - base) / 1048576).toFixed(1)} MiB`);
  });

  test(`${proto}: a 64 MiB download streams with flat server memory`, async (t) => {
    const { port, pid } = await startServer(t);
    await client(port, 'GET', `/download/${1024 * 1024}`);
    const base = rss(pid);
    const { peak, result } = await peakDuring(pid, () => client(port, 'GET', `/download/${SIZE}`));
    assert.equal(result, SIZE);
    assert.ok(peak - base < ALLOWED_GROWTH, `server RSS grew by ${((peak - base) / 1048576).toFixed(1)} MiB`);
  });
}
