'use strict';
// A/B of two (or more) builds, for the commit message of a speed change:
//
//   node bench/ab.js snapshot /tmp/ab/A     # copy this build (JS + .node) aside
//   … change, npm run build …
//   node bench/ab.js snapshot /tmp/ab/B
//   node bench/ab.js [--proto=h1|h2c] [--rounds=5] [--duration=5] A=/tmp/ab/A B=/tmp/ab/B
//
// A variant is a snapshot directory (lastcall, run by bench/servers/hello.js)
// or an executable that takes a port and prints a line once it listens
// (bench/hyper-hello). Rounds alternate the variants (A B A B …), each in a
// fresh process after a 1 s warm-up, server pinned to CPU 0 and load to CPU
// 1 as in bench/run.js. Reports medians of server CPU µs per request (from
// /proc: all threads, and lastcall's I/O thread apart), req/s, and the
// per-round figures, because the machine is shared: CPU per request is the
// figure to judge by, req/s moves with whatever else runs.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const CLK_TCK = 100;

function snapshot(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['index.js', 'package.json', 'binding.js', 'lib']) {
    fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  }
  for (const f of fs.readdirSync(ROOT).filter((n) => n.endsWith('.node'))) {
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(path.join(dir, 'SNAPSHOT'), `${head}${dirty ? ' + uncommitted changes' : ''}\n`);
  console.log(`snapshot of ${head}${dirty ? ' (dirty)' : ''} in ${dir}`);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function ticks(pid) {
  const out = { all: 0, io: 0 };
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = Number(f[11]) + Number(f[12]);
    out.all += t;
    if (comm === 'lastcall-io') out.io += t;
  }
  return out;
}

async function start(target, port) {
  const isDir = fs.statSync(target).isDirectory();
  const child = isDir
    ? spawn('taskset', ['-c', '0', process.execPath, path.join(__dirname, 'servers', 'hello.js'), 'lastcall', String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LASTCALL_MODULE: path.join(target, 'index.js') },
    })
    : spawn('taskset', ['-c', '0', target, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`${target} exited with ${code}`)));
  });
  return child;
}

function load(proto, port, secs) {
  const argv = proto === 'h2c'
    ? ['-c', '1', 'h2load', '-c10', '-m10', '-t1', `-D${secs}`, `http://127.0.0.1:${port}/`]
    : ['-c', '1', 'wrk', '-t1', '-c50', `-d${secs}s`, `http://127.0.0.1:${port}/`];
  const out = execFileSync('taskset', argv, { encoding: 'utf8' });
  if (proto === 'h2c') {
    const done = Number(/(\d+) done, (\d+) succeeded/.exec(out)?.[2]);
    return { total: done, rps: Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]) };
  }
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return { total: Number(/(\d+) requests in/.exec(out)?.[1]), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]) };
}

// Other work on a shared machine inflates CPU per request too (caches,
// preemption): before each round, wait (up to a minute) until the machine
// has been ~idle for half a second.
function cpuIdle() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

async function waitQuiet() {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const a = cpuIdle();
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuIdle();
    if ((b.idle - a.idle) / (b.total - a.total) > 0.9) return true;
  }
  return false;
}

async function measure(target, proto, secs) {
  const quiet = await waitQuiet();
  if (!quiet) console.log('(the machine stayed busy: measuring anyway)');
  const port = await freePort();
  const child = await start(target, port);
  try {
    load(proto, port, 1);
    const before = ticks(child.pid);
    const r = load(proto, port, secs);
    const after = ticks(child.pid);
    const us = (t) => (t / CLK_TCK) * 1e6 / r.total;
    return { rps: r.rps, cpu: us(after.all - before.all), io: us(after.io - before.io) };
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === 'snapshot') return snapshot(path.resolve(argv[1]));
  const opts = Object.fromEntries(argv.filter((a) => a.startsWith('--')).map((a) => {
    const [k, v] = a.slice(2).split('=');
    return [k, v ?? true];
  }));
  const variants = argv.filter((a) => !a.startsWith('--')).map((a) => {
    const [name, target] = a.split('=');
    return { name, target: path.resolve(target), runs: [] };
  });
  const proto = opts.proto || 'h1';
  const rounds = Number(opts.rounds) || 5;
  const secs = Number(opts.duration) || 5;
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) v.runs.push(await measure(v.target, proto, secs));
  }
  const f = (x, d = 2) => x.toFixed(d);
  console.log(`${proto}, ${rounds} rounds of ${secs} s alternating, server on CPU 0, load on CPU 1`);
  // The minimum is shown too: other work on the machine only ever adds.
  console.log('variant | CPU µs/req (median) | (min) | I/O thread µs/req | req/s (median) | CPU per round');
  for (const v of variants) {
    const snap = fs.existsSync(path.join(v.target, 'SNAPSHOT')) ? ` (${fs.readFileSync(path.join(v.target, 'SNAPSHOT'), 'utf8').trim()})` : '';
    console.log(`${v.name}${snap} | ${f(median(v.runs.map((x) => x.cpu)))} | ${f(Math.min(...v.runs.map((x) => x.cpu)))} | ${f(median(v.runs.map((x) => x.io)))} | ${f(median(v.runs.map((x) => x.rps)), 0)} | ${v.runs.map((x) => f(x.cpu)).join(' ')}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
