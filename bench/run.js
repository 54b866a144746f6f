'use strict';
// `npm run bench [-- --quick] [--reps=N] [--duration=S] [--only=name]`
// `npm run bench -- --soak[=SECONDS] [--quick]`: mixed load for a few
// minutes (default 180 s; 15 s with --quick), RSS over time and its slope.
//
// Runs the same hello-world handler on lastcall and on Node's own servers,
// side by side: servers alternate (A B A B …), each run in a fresh process
// after a warm-up, and the report gives medians and the lastcall/node ratio
// of every repetition, because shared machines are noisy. Figures: req/s,
// p99 latency, server CPU per request (from /proc), peak RSS. Then idle
// keep-alive connections: memory per connection and close() → callback.
// Prints a markdown table and writes JSON under bench/results/.

const { spawn, fork, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? true];
}));
const quick = Boolean(args.quick);
const reps = Number(args.reps) || (quick ? 1 : 3);
const duration = Number(args.duration) || (quick ? 1 : 5);
const warmup = 1; // wrk and h2load take whole seconds
const idleCounts = quick ? [200] : [1000, 10000];
const only = typeof args.only === 'string' ? args.only : null;
const SERVERS = path.join(__dirname, 'servers');
const WS_CLIENTS = quick ? 100 : 1000;
const CLK_TCK = 100;

function which(tool) {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const tools = { wrk: which('wrk'), h2load: which('h2load'), taskset: which('taskset') };
// --no-pin lets every thread use every core (lastcall runs two threads).
const pin = Boolean(tools.taskset) && os.cpus().length >= 2 && !args['no-pin'];

// utime and stime (ticks) and the name of a process or thread, from its
// /proc stat file.
function statTicks(file) {
  const stat = fs.readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    user: Number(fields[11]),
    sys: Number(fields[12]),
  };
}

function cpuTicks(pid) {
  const { user, sys } = statTicks(`/proc/${pid}/stat`);
  return user + sys;
}

// User and kernel CPU ticks of a server's threads, in two groups:
// lastcall's I/O thread ('lastcall-io'), and the rest (Node's main thread
// with V8's helpers, or a native server's threads). Shows where the time
// per request goes, not only how much of it there is.
function threadTicks(pid) {
  const ticks = { io: { user: 0, sys: 0 }, main: { user: 0, sys: 0 } };
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return ticks;
  }
  for (const tid of tids) {
    let t;
    try {
      t = statTicks(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      continue; // the thread ended
    }
    const group = t.comm === 'lastcall-io' ? ticks.io : ticks.main;
    group.user += t.user;
    group.sys += t.sys;
  }
  return ticks;
}

function status(pid, key) {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// The pure-hyper ceiling, built on first use (bench/bin is not committed).
function hyperBinary() {
  const bin = path.join(__dirname, 'bin', 'target', 'release', 'hyper-hello');
  if (fs.existsSync(bin)) return bin;
  if (!which('cargo')) return null;
  console.log('- building the pure-hyper ceiling (bench/hyper-hello), once…');
  execFileSync('cargo', ['build', '--quiet', '--release',
    '--manifest-path', path.join(__dirname, 'hyper-hello', 'Cargo.toml'),
    '--target-dir', path.join(__dirname, 'bin', 'target')], { stdio: 'inherit' });
  return bin;
}

// Starts a server binary that prints a line once it listens, pinned like the
// Node servers.
async function startPrinting(name, bin, argv, port) {
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  if (pin) execFileSync(tools.taskset, ['-a', '-p', '-c', '0', String(child.pid)], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return { child, port };
}

async function startHyper() {
  const port = await freePort();
  return startPrinting('hyper-hello', hyperBinary(), [String(port)], port);
}

// Bun.serve and Deno.serve as outside anchors, when their binaries are on
// PATH or in node_modules/.bin (`npm i --no-save bun deno`). Never required.
function anchorBinary(name) {
  const local = path.join(__dirname, '..', 'node_modules', '.bin', name);
  return which(name) || (fs.existsSync(local) ? local : null);
}
const anchors = { bun: anchorBinary('bun'), deno: anchorBinary('deno') };

async function startAnchor(impl) {
  const port = await freePort();
  const script = path.join(SERVERS, 'anchor.mjs');
  const argv = impl === 'bun' ? [script, String(port)] : ['run', '--allow-net', '--quiet', script, String(port)];
  return startPrinting(impl, anchors[impl], argv, port);
}

async function startServer(impl, script = 'hello.js', mode = 'hello') {
  if (impl === 'hyper') return startHyper();
  if (impl === 'bun' || impl === 'deno') return startAnchor(impl);
  const port = await freePort();
  // The server gets CPU 0 (and lastcall's I/O thread with it); the load
  // generator CPU 1, so neither measures the other's scheduling.
  const child = fork(path.join(SERVERS, script), [impl, String(port), mode], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  if (pin) execFileSync(tools.taskset, ['-a', '-p', '-c', '0', String(child.pid)], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${impl} server exited with ${code}`)));
  });
  return { child, port };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

function runTool(cmd, argv) {
  const full = pin ? [tools.taskset, ['-c', '1', cmd, ...argv]] : [cmd, argv];
  return new Promise((resolve, reject) => {
    const p = spawn(full[0], full[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} failed: ${out}`))));
  });
}

// Responses wrk did not count as answered: non-2xx/3xx statuses and
// socket errors (connect, read, write, timeout).
function wrkErrors(out) {
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return bad + (sock ? sock.slice(1).reduce((a, n) => a + Number(n), 0) : 0);
}

function toMs(v, unit) {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

// A key and certificate for the TLS scenarios, made once per run.
function benchCerts() {
  if (process.env.LASTCALL_BENCH_CERTS) return process.env.LASTCALL_BENCH_CERTS;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-bench-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  process.env.LASTCALL_BENCH_CERTS = dir;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// req/s, requests and failures from h2load's summary (it counts a 4xx/5xx
// answer as failed too, and reports the max request time, not percentiles).
function h2loadResult(out) {
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const counts = /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const total = Number(counts?.[1]);
  const errors = counts ? Number(counts[2]) + Number(counts[3]) + Number(counts[4]) : NaN;
  const max = /time for request:\s+[\d.]+(?:us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
  return { rps, total, errors, p99ms: null, maxMs: max ? toMs(max[1], max[2]) : null };
}

// `wrk -t1 -c50` against `scheme`://127.0.0.1: req/s, p99 and failures.
function wrkLoader(scheme, settings) {
  return {
    tool: 'wrk',
    settings,
    async run(port, secs) {
      const out = await runTool(tools.wrk, ['-t1', '-c50', `-d${secs}s`, '--latency', `${scheme}://127.0.0.1:${port}/`]);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const total = Number(/(\d+) requests in/.exec(out)?.[1]);
      const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
      return { rps, total, errors: wrkErrors(out), p99ms: p99 ? toMs(p99[1], p99[2]) : null };
    },
  };
}

const loaders = {
  https: wrkLoader('https', 'wrk -t1 -c50 over TLS 1.3 (HTTP/1.1)'),
  h2tls: {
    tool: 'h2load',
    settings: 'h2load -c10 -m10 -t1 over TLS 1.3 (ALPN h2)',
    async run(port, secs) {
      return h2loadResult(await runTool(tools.h2load, ['-c10', '-m10', '-t1', `-D${secs}`, `https://127.0.0.1:${port}/`]));
    },
  },
  // One request per connection: full TLS 1.3 handshakes (ECDSA P-256, no
  // resumption), 100 connections at a time, rounds until the time is up.
  handshake: {
    tool: 'h2load',
    settings: 'h2load --h1 -n100 -c100 rounds: a new TLS connection per request (handshakes/s in the req/s column)',
    async run(port, secs) {
      let total = 0;
      let errors = 0;
      let spent = 0;
      const t0 = Date.now();
      while (Date.now() - t0 < secs * 1000) {
        const out = await runTool(tools.h2load, ['--h1', '-n100', '-c100', '-t1', `https://127.0.0.1:${port}/`]);
        const r = h2loadResult(out);
        const took = /finished in ([\d.]+)(us|ms|s)/.exec(out);
        if (!took) break;
        spent += toMs(took[1], took[2]);
        total += r.total;
        errors += r.errors;
      }
      return { rps: spent > 0 ? total / (spent / 1000) : NaN, total, errors, p99ms: null };
    },
  },
  h1: wrkLoader('http', 'wrk -t1 -c50'),
  h2c: h2cLoader(10, 10),
  // Many sessions, each with more streams open than lastcall lets reach JS
  // at once (budget.rs): the waiting streams' path under load.
  'h2c-many': h2cLoader(100, 100),
};

function h2cLoader(sessions, streams) {
  const argv = [`-c${sessions}`, `-m${streams}`, '-t1'];
  return {
    tool: 'h2load',
    settings: `h2load ${argv.join(' ')}`,
    async run(port, secs) {
      return h2loadResult(await runTool(tools.h2load, [...argv, `-D${secs}`, `http://127.0.0.1:${port}/`]));
    },
  };
}

// A 1 MiB POST per request, via a wrk Lua script written to a temp file.
loaders.upload = {
  tool: 'wrk',
  settings: 'wrk -t1 -c10, 1 MiB POST echoed back',
  async run(port, secs) {
    // Also counts echoes that are not 200 with the whole MiB back.
    const script = path.join(os.tmpdir(), 'lastcall-bench-upload.lua');
    fs.writeFileSync(script, [
      'wrk.method = "POST"',
      'wrk.body = string.rep("a", 1048576)',
      'wrk.headers["Content-Type"] = "application/octet-stream"',
      'mismatched = 0',
      'local threads = {}',
      'function setup(thread) table.insert(threads, thread) end',
      'function response(status, headers, body)',
      '  if status ~= 200 or #body ~= 1048576 then mismatched = mismatched + 1 end',
      'end',
      'function done(summary, latency, requests)',
      '  local n = 0',
      '  for _, t in ipairs(threads) do n = n + t:get("mismatched") end',
      '  io.write("echo mismatches: " .. n .. "\\n")',
      'end',
      '',
    ].join('\n'));
    const out = await runTool(tools.wrk, ['-t1', '-c10', `-d${secs}s`, '--latency', '-s', script, `http://127.0.0.1:${port}/`]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const total = Number(/(\d+) requests in/.exec(out)?.[1]);
    const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
    const mismatched = Number(/echo mismatches: (\d+)/.exec(out)?.[1] ?? NaN);
    return { rps, total, errors: wrkErrors(out) + mismatched, p99ms: p99 ? toMs(p99[1], p99[2]) : null };
  },
};

loaders.ws = {
  tool: 'node',
  settings: `ws echo, ${WS_CLIENTS} clients, 32-byte messages; messages/s in the req/s column`,
  async run(port, secs) {
    const out = await runTool(process.execPath, [path.join(__dirname, 'clients', 'ws-load.js'), String(port), String(WS_CLIENTS), String(secs)]);
    const { messages, errors } = JSON.parse(out.trim().split('\n').pop());
    return { rps: messages / secs, total: messages, errors, p99ms: null };
  },
};
tools.node = process.execPath;

let hyperReady = false;
try {
  hyperReady = Boolean(hyperBinary());
} catch (err) {
  console.log(`- the pure-hyper ceiling could not be built: ${err.message}`);
}
if (!hyperReady) console.log('- cargo not found: no pure-hyper ceiling');
const withHyper = (impls) => (hyperReady ? [...impls, 'hyper'] : impls);
// Bun.serve speaks HTTP/1.1 only without TLS; Deno.serve also speaks h2c.
const withAnchors = (impls, names = ['bun', 'deno']) => [...impls, ...names.filter((a) => anchors[a])];

const scenarios = [
  { name: 'hello-h1', loader: 'h1', impls: withAnchors(withHyper(['lastcall', 'node'])) },
  { name: 'hello-h2c', loader: 'h2c', impls: withAnchors(withHyper(['lastcall', 'node2']), ['deno']) },
  { name: 'hello-h2c-many', loader: 'h2c-many', impls: ['lastcall', 'node2'], full: true },
  { name: 'response-64k', loader: 'h1', impls: ['lastcall', 'node'], mode: 'big', full: true },
  { name: 'upload-1m', loader: 'upload', impls: ['lastcall', 'node'], mode: 'echo', full: true },
  { name: 'ws-echo', loader: 'ws', impls: ['lastcall', 'node'], script: 'ws-echo.js' },
  { name: 'express-h1', loader: 'h1', impls: ['lastcall', 'node'], script: 'express.js' },
  { name: 'hello-https', loader: 'https', impls: ['lastcall-tls', 'node-https'], tls: true },
  { name: 'hello-h2-tls', loader: 'h2tls', impls: ['lastcall-tls', 'node2-tls'], tls: true },
  { name: 'tls-handshakes', loader: 'handshake', impls: ['lastcall-tls', 'node-https'], tls: true },
];

// Other work on a shared machine slows every server and inflates its CPU
// per request (caches, preemption): before each run, wait (up to a minute)
// until the machine has been ~idle for half a second.
function cpuIdle() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

async function waitQuiet() {
  if (quick || process.platform !== 'linux') return;
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const a = cpuIdle();
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuIdle();
    if ((b.idle - a.idle) / (b.total - a.total) > 0.9) return;
  }
  console.log('- the machine stayed busy for a minute: measuring anyway');
}

async function measure(impl, loader, script, mode) {
  await waitQuiet();
  const { child, port } = await startServer(impl, script, mode);
  try {
    await loader.run(port, warmup);
    const before = cpuTicks(child.pid);
    const threadsBefore = threadTicks(child.pid);
    const r = await loader.run(port, duration);
    const ticks = cpuTicks(child.pid) - before;
    const threadsAfter = threadTicks(child.pid);
    const perReq = (t) => (r.total > 0 ? (t / CLK_TCK) * 1e6 / r.total : null);
    r.cpuUsPerReq = perReq(ticks);
    r.threads = {};
    for (const group of ['io', 'main']) {
      r.threads[group] = {
        user: perReq(threadsAfter[group].user - threadsBefore[group].user),
        sys: perReq(threadsAfter[group].sys - threadsBefore[group].sys),
      };
    }
    r.peakRssMiB = status(child.pid, 'VmHWM') / 1048576;
    return r;
  } finally {
    await stop(child);
  }
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

async function idleConnections(impl, count) {
  const { child, port } = await startServer(impl);
  const sockets = [];
  try {
    const base = status(child.pid, 'VmRSS');
    for (let i = 0; i < count; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(new Promise((resolve) => {
        s.once('data', () => resolve(s));
        s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
      }));
      if (i % 200 === 199) await Promise.all(sockets.slice(-200));
    }
    await Promise.all(sockets);
    await new Promise((r) => setTimeout(r, 200));
    const rss = status(child.pid, 'VmRSS');
    const closed = new Promise((resolve) => child.once('message', resolve));
    child.send({ cmd: 'close', forceIdle: true, limitMs: 3000 });
    const { closedMs } = await closed;
    return { count, rssPerConnKiB: (rss - base) / count / 1024, closedMs };
  } finally {
    for (const p of sockets) p.then((s) => s.destroy());
    await stop(child);
  }
}

const H2_SESSIONS = quick ? 20 : 100;

async function idleSessions(impl, count) {
  const http2 = require('node:http2');
  const { child, port } = await startServer(impl);
  const sessions = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = http2.connect(`http://127.0.0.1:${port}`);
      s.on('error', () => {});
      sessions.push(s);
      await new Promise((resolve) => {
        const st = s.request({ ':path': '/' });
        st.on('error', resolve);
        st.resume();
        st.on('end', resolve);
        st.end();
      });
    }
    const closed = new Promise((resolve) => child.once('message', resolve));
    child.send({ cmd: 'close', limitMs: 3000 });
    const { closedMs } = await closed;
    return { count, closedMs };
  } finally {
    for (const s of sessions) s.destroy();
    await stop(child);
  }
}

function fmt(v, digits = 0) {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);
}

// Least-squares slope of ys over xs.
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, x) => a + x, 0) / n;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

// `--soak`: one lastcall server under mixed load for `secs` (HTTP/1.1 GET
// and 4 KiB POST echoes with wrk, h2c GET and POST with h2load, all at
// once), its RSS printed as it goes, then the slope of RSS over time (least
// squares over the samples after the first, which is warm-up). A leak shows
// as a slope that stays positive however long the run.
async function soak(secs) {
  const every = quick ? 2 : 10;
  console.log(`# lastcall soak: ${secs} s of mixed HTTP/1.1 and h2c GET and POST, RSS every ${every} s\n`);
  const missing = ['wrk', 'h2load'].filter((t) => !tools[t]);
  if (missing.length > 0) {
    console.error(`soak needs ${missing.join(' and ')} (apt-get install -y wrk nghttp2-client)`);
    process.exit(1);
  }
  const { child, port } = await startServer('lastcall', 'hello.js', 'mixed');
  const url = `http://127.0.0.1:${port}/`;
  const lua = path.join(os.tmpdir(), 'lastcall-bench-soak-post.lua');
  fs.writeFileSync(lua, [
    'wrk.method = "POST"',
    'wrk.body = string.rep("p", 4096)',
    'wrk.headers["Content-Type"] = "application/octet-stream"',
  ].join('\n'));
  const data = path.join(os.tmpdir(), 'lastcall-bench-soak-post.bin');
  fs.writeFileSync(data, Buffer.alloc(4096, 112));
  const h2Counts = (out) => {
    const m = /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
    return m ? { done: Number(m[1]), errors: Number(m[2]) + Number(m[3]) + Number(m[4]) } : { done: NaN, errors: NaN };
  };
  const wrkCounts = (out) => ({ done: Number(/(\d+) requests in/.exec(out)?.[1]), errors: wrkErrors(out) });
  const loads = [
    ['HTTP/1.1 GET (wrk -c20)', runTool(tools.wrk, ['-t1', '-c20', `-d${secs}s`, url]).then(wrkCounts)],
    ['HTTP/1.1 POST 4 KiB (wrk -c10)', runTool(tools.wrk, ['-t1', '-c10', `-d${secs}s`, '-s', lua, url]).then(wrkCounts)],
    ['h2c GET (h2load -c4 -m10)', runTool(tools.h2load, ['-c4', '-m10', '-t1', `-D${secs}`, url]).then(h2Counts)],
    ['h2c POST 4 KiB (h2load -c4 -m10)', runTool(tools.h2load, ['-c4', '-m10', '-t1', `-D${secs}`, '-d', data, url]).then(h2Counts)],
  ];
  const t0 = performance.now();
  const samples = [];
  console.log('| s | RSS MiB |');
  console.log('|---|---|');
  const sample = () => {
    const at = (performance.now() - t0) / 1000;
    const rss = status(child.pid, 'VmRSS') / 2 ** 20;
    samples.push([at, rss]);
    console.log(`| ${fmt(at)} | ${fmt(rss, 1)} |`);
  };
  const timer = setInterval(sample, every * 1000);
  let results;
  try {
    results = await Promise.all(loads.map(([, p]) => p));
  } finally {
    clearInterval(timer);
  }
  sample();
  await stop(child);
  const kept = samples.slice(1);
  const perMin = kept.length >= 2 ? slope(kept.map(([t]) => t / 60), kept.map(([, r]) => r)) : NaN;
  console.log('');
  let failed = 0;
  let total = 0;
  loads.forEach(([name], i) => {
    console.log(`- ${name}: ${results[i].done} requests, ${results[i].errors} failed`);
    total += results[i].done;
    failed += results[i].errors;
  });
  console.log(`\nRSS slope: ${fmt(perMin, 2)} MiB/min over ${kept.length} samples after the first (${fmt(kept[0]?.[1], 1)} → ${fmt(kept.at(-1)?.[1], 1)} MiB); ${total} requests, ${failed} failed`);
  if (!(failed === 0)) process.exit(1);
}

async function main() {
  if (args.soak) {
    const secs = args.soak === true ? (quick ? 15 : 180) : Number(args.soak);
    if (!(secs > 0)) throw new Error(`--soak=${args.soak}: seconds expected`);
    return soak(secs);
  }
  // What lastcall got wrong: a run with no answers or with failed ones, or a
  // close() without callback. Reported and made the exit status, so the
  // quick run in CI checks correctness (never timing).
  const problems = [];
  const results = { when: new Date().toISOString(), machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`, node: process.version, quick, reps, duration, pinned: pin, scenarios: {}, idle: [] };
  console.log(`# lastcall benchmark (${quick ? 'quick' : 'full'}): ${results.machine}, Node ${process.version}`);
  console.log(`${reps} repetition(s) of ${duration} s after a ${warmup} s warm-up, servers alternating${pin ? '; server on CPU 0, load generator on CPU 1' : ''}.\n`);
  for (const [name, bin] of Object.entries(anchors)) {
    if (!bin) console.log(`- ${name} not found: no ${name === 'bun' ? 'Bun.serve' : 'Deno.serve'} anchor (npm i --no-save ${name})`);
  }
  for (const [name, tool] of Object.entries(tools)) {
    if (!tool) console.log(`- ${name} not found: ${name === 'taskset' ? 'runs unpinned' : `skipping its scenarios (apt-get install -y ${name === 'h2load' ? 'nghttp2-client' : name})`}`);
  }
  for (const sc of scenarios) {
    if (only ? sc.name !== only : quick && sc.full) continue;
    const loader = loaders[sc.loader];
    if (!tools[loader.tool]) continue;
    if (sc.tls) benchCerts();
    const runs = Object.fromEntries(sc.impls.map((i) => [i, []]));
    for (let r = 0; r < reps; r++) {
      for (const impl of sc.impls) runs[impl].push(await measure(impl, loader, sc.script, sc.mode));
    }
    const [ours, theirs] = sc.impls;
    const ratios = runs[ours].map((x, k) => x.rps / runs[theirs][k].rps);
    results.scenarios[sc.name] = { settings: loader.settings, runs, ratios };
    console.log(`## ${sc.name} (${loader.settings})\n`);
    console.log('| server | req/s (median) | p99 ms | CPU µs/req | peak RSS MiB |');
    console.log('|---|---|---|---|---|');
    for (const impl of sc.impls) {
      const xs = runs[impl];
      console.log(`| ${impl} | ${fmt(median(xs.map((x) => x.rps)))} | ${fmt(median(xs.map((x) => x.p99ms)), 2)} | ${fmt(median(xs.map((x) => x.cpuUsPerReq)), 1)} | ${fmt(median(xs.map((x) => x.peakRssMiB)), 1)} |`);
    }
    for (const impl of sc.impls) {
      const failed = runs[impl].reduce((n, x) => n + (Number.isFinite(x.errors) ? x.errors : NaN), 0);
      if (failed !== 0) console.log(`\n${impl}: ${Number.isNaN(failed) ? 'failures could not be counted' : `${failed} failed responses`}`);
    }
    runs[ours].forEach((x, k) => {
      if (!(x.rps > 0) || x.errors !== 0) problems.push(`${sc.name}, run ${k + 1}: ${fmt(x.rps)} req/s, ${x.errors} failed`);
    });
    // node:http and the native servers do everything on their main thread.
    console.log('\nWhere the server CPU goes, µs per request (medians): lastcall\'s I/O thread, and the main thread (JS; the only busy thread of the others)\n');
    console.log('| server | I/O thread user | I/O thread kernel | main thread user | main thread kernel |');
    console.log('|---|---|---|---|---|');
    for (const impl of sc.impls) {
      const part = (group, kind) => median(runs[impl].map((x) => x.threads?.[group][kind]));
      const io = impl === 'lastcall' ? [fmt(part('io', 'user'), 2), fmt(part('io', 'sys'), 2)] : ['–', '–'];
      console.log(`| ${impl} | ${io[0]} | ${io[1]} | ${fmt(part('main', 'user'), 2)} | ${fmt(part('main', 'sys'), 2)} |`);
    }
    console.log(`\nlastcall/${theirs} req/s per repetition: ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${fmt(median(ratios), 2)})`);
    if (runs.hyper) {
      const cpu = (impl) => median(runs[impl].map((x) => x.cpuUsPerReq));
      results.scenarios[sc.name].cpuVsHyper = cpu(ours) / cpu('hyper');
      console.log(`lastcall CPU per request / pure hyper: ${fmt(cpu(ours) / cpu('hyper'), 2)}×`);
    }
    for (const anchor of ['bun', 'deno']) {
      if (!runs[anchor]) continue;
      const r = runs[ours].map((x, k) => x.rps / runs[anchor][k].rps);
      results.scenarios[sc.name][`vs_${anchor}`] = r;
      console.log(`lastcall/${anchor} req/s per repetition: ${r.map((x) => x.toFixed(2)).join(', ')} (median ${fmt(median(r), 2)})`);
      // CPU per request is the steadier comparison on a shared machine.
      const cpu = (impl) => median(runs[impl].map((x) => x.cpuUsPerReq));
      results.scenarios[sc.name][`cpuVs_${anchor}`] = cpu(ours) / cpu(anchor);
      console.log(`lastcall CPU per request / ${anchor}: ${fmt(cpu(ours), 1)} / ${fmt(cpu(anchor), 1)} µs = ${fmt(cpu(ours) / cpu(anchor), 2)}×`);
    }
    console.log('');
  }
  if (!only || only === 'idle') {
    console.log('## idle keep-alive connections: memory and close() → callback\n');
    console.log('| server | connections | RSS KiB per connection | close() → callback ms |');
    console.log('|---|---|---|---|');
    for (const count of idleCounts) {
      for (const impl of ['lastcall', 'node']) {
        const r = await idleConnections(impl, count);
        results.idle.push({ impl, ...r });
        if (impl === 'lastcall' && r.closedMs === null) problems.push(`${count} idle connections: close() did not call back`);
        const label = impl === 'node' ? 'node:http (close + closeAllConnections)' : impl;
        console.log(`| ${label} | ${count} | ${fmt(r.rssPerConnKiB, 1)} | ${r.closedMs === null ? 'no callback in 3 s' : fmt(r.closedMs, 1)} |`);
      }
    }
    console.log('');
  }
  if (!only || only === 'idle-h2') {
    console.log(`## ${H2_SESSIONS} idle HTTP/2 sessions: close() → callback\n`);
    console.log('| server | close() → callback ms |');
    console.log('|---|---|');
    for (const impl of ['lastcall', 'node2']) {
      const r = await idleSessions(impl, H2_SESSIONS);
      results.idleH2 = results.idleH2 || [];
      results.idleH2.push({ impl, ...r });
      if (impl === 'lastcall' && r.closedMs === null) problems.push(`${H2_SESSIONS} idle HTTP/2 sessions: close() did not call back`);
      console.log(`| ${impl === 'node2' ? 'node:http2' : impl} | ${r.closedMs === null ? 'no callback in 3 s' : fmt(r.closedMs, 1)} |`);
    }
    console.log('');
  }
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${results.when.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`results written to ${path.relative(process.cwd(), file)}`);
  if (problems.length > 0) {
    console.error(`\nlastcall failed in the benchmark:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
