// Deploys (DESIGN C1, C13, README "Deploying"): two processes take turns on
// one port with listen({ reusePort: true }). Each new instance binds while the
// old one still serves; the old one gets SIGTERM and close()s. Under a
// keep-alive load over HTTP/1.1 and h2c, with a client that retries exactly
// the failures that are safe to retry (connection refused, EOF before any
// response byte on a reused connection, an HTTP/2 stream refused or above the
// GOAWAY last-stream-id), no request fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import http2 from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';

const fixture = fileURLToPath(new URL('./fixtures/reuse-server.cjs', import.meta.url));
const RESTARTS = 5;

/** Starts an instance; resolves once it listens, with `{ child, port, pid, closed }`. */
function start(port) {
  const child = spawn(process.execPath, [fixture, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let buf = '';
  let onLine;
  const lines = [];
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      onLine?.();
    }
  });
  const next = () => new Promise((resolve) => {
    const check = () => { if (lines.length) { onLine = null; resolve(lines.shift()); } };
    onLine = check;
    check();
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const failed = exited.then((code) => { throw new Error(`instance exited (${code}) before listening: ${stderr}`); });
  return Promise.race([next(), failed]).then((ready) => ({ child, ...ready, next, exited }));
}

/** Retry bookkeeping: why requests were retried, and what failed for good. */
function tally() {
  return { ok: 0, byPid: new Map(), retried: {}, failed: [] };
}
function retry(t, why) {
  t.retried[why] = (t.retried[why] || 0) + 1;
}
function served(t, pid) {
  t.ok++;
  t.byPid.set(pid, (t.byPid.get(pid) || 0) + 1);
}

function h1Once(agent, port, path) {
  return new Promise((resolve) => {
    let got = false;
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      got = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err) => resolve({ err, got }));
    });
    req.on('error', (err) => resolve({ err, got, reused: req.reusedSocket }));
  });
}

async function h1Worker(port, t, stop, path) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (!stop.now) {
    for (;;) {
      const r = await h1Once(agent, port, path);
      if (!r.err && r.status === 200) {
        served(t, r.body);
        break;
      }
      if (r.err?.code === 'ECONNREFUSED') retry(t, 'h1 connection refused');
      else if (r.err && !r.got && r.reused && (r.err.code === 'ECONNRESET' || r.err.code === 'EPIPE')) {
        retry(t, 'h1 EOF before any response byte on a reused connection');
      } else {
        t.failed.push(`h1 ${path}: ${r.err ? `${r.err.code} ${r.err.message} reused=${r.reused} got=${r.got}` : `status ${r.status}`}`);
        break;
      }
    }
  }
  agent.destroy();
}

// One h2c session at a time, replaced once the server says GOAWAY or it
// ends; `streams` requests in flight on it at once.
async function h2Worker(port, t, stop, streams) {
  let session = null;
  let goaway = null;
  const open = () => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    s.on('goaway', (code, lastStreamId) => { if (session === s) goaway = lastStreamId; });
    session = s;
    goaway = null;
    return s;
  };
  const sessionNow = () => (session === null || session.closed || session.destroyed || goaway !== null ? open() : session);
  const once = (path) => new Promise((resolve) => {
    const s = sessionNow();
    let stream;
    try {
      stream = s.request({ ':path': path });
    } catch (err) {
      resolve({ err, notSent: true });
      return;
    }
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => { status = h[':status']; });
    stream.on('data', (d) => { body += d; });
    stream.on('close', () => {
      if (status === 200 && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) resolve({ body });
      else resolve({ status, rstCode: stream.rstCode, id: stream.id, lastStreamId: s === session ? goaway : null, sessionErr: s.destroyed });
    });
    stream.on('error', () => {});
    stream.end();
  });
  const loop = async (path) => {
    while (!stop.now) {
      for (;;) {
        const r = await once(path);
        if (r.body !== undefined) {
          served(t, r.body);
          break;
        }
        if (r.notSent) retry(t, 'h2 session already going away (request not sent)');
        else if (r.status === 0 && r.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) retry(t, 'h2 REFUSED_STREAM (above the GOAWAY last-stream-id)');
        else if (r.status === 0 && r.id === undefined) retry(t, 'h2 stream never opened (connection refused or closed first)');
        else {
          t.failed.push(`h2 ${path}: status ${r.status} rstCode ${r.rstCode} id ${r.id} goaway ${r.lastStreamId}`);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: streams }, (_, i) => loop(i % 2 ? '/slow' : '/')));
  session?.close();
}

test('C1/C13: rolling restarts of two processes on one port (reusePort) under HTTP/1.1 and h2c keep-alive load: 0 failed requests', async () => {
  let current = await start(0);
  const port = current.port;
  const t = tally();
  const stop = { now: false };
  const load = Promise.all([
    ...Array.from({ length: 4 }, (_, i) => h1Worker(port, t, stop, i % 2 ? '/slow' : '/')),
    h2Worker(port, t, stop, 4),
    h2Worker(port, t, stop, 4),
  ]);
  const closes = [];
  const pids = [current.pid];
  try {
    await sleep(300);
    for (let i = 0; i < RESTARTS; i++) {
      const next = await start(port);
      pids.push(next.pid);
      await sleep(150);
      current.child.kill('SIGTERM');
      const { closedMs } = await current.next();
      closes.push(closedMs);
      assert.equal(await current.exited, 0);
      current = next;
      await sleep(150);
    }
  } finally {
    stop.now = true;
    await load;
    current.child.kill('SIGTERM');
    await current.exited;
  }
  const report = { requests: t.ok, retried: t.retried, closeMs: closes.map((ms) => Math.round(ms)), perProcess: [...t.byPid.values()] };
  if (process.env.LASTCALL_DEPLOY_REPORT) console.log(JSON.stringify(report));
  assert.deepEqual(t.failed, [], JSON.stringify(report));
  assert.ok(t.ok > 500, `only ${t.ok} requests`);
  for (const pid of pids) assert.ok(t.byPid.get(String(pid)) > 0, `process ${pid} served nothing: ${JSON.stringify(report)}`);
});
