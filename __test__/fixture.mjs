// A test server in a child process, whose memory the test measures from
// outside. The child prints numbers, one a line (its port first); the test
// writes a line to ask for the next one (what it means is the fixture's).

import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** Resident memory of process `pid`, in bytes. */
export function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/**
 * Starts `node [nodeArgs] file [args]`, killed when the test ends. Resolves
 * `{ port, pid, ask(line) }`; `ask` writes `line` and resolves the next
 * number the child prints.
 */
export async function startFixture(t, file, args, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, file, ...args.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const lines = [];
  let wake = () => {};
  child.stdout.on('data', (d) => { lines.push(...String(d).trim().split('\n')); wake(); });
  const next = async () => {
    while (lines.length === 0) await new Promise((r) => { wake = r; });
    return Number(lines.shift());
  };
  const port = await next();
  const ask = (line = '') => { child.stdin.write(`${line}\n`); return next(); };
  return { port, pid: child.pid, ask };
}

/** `n` connections that each send one GET and never read the response. */
export async function nonReaders(port, n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.pause();
    await once(s, 'connect');
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    sockets.push(s);
  }
  return sockets;
}
