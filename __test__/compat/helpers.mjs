// Shared pieces of the framework compatibility suite (issue 11, DESIGN §8
// "Compatibility is identity"). Every check runs twice with the same body:
// once on lastcall and once on node:http, the control that proves the check
// describes Node's behaviour.

import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as lastcall from '../../index.mjs';
import { listen } from '../raw.mjs';

export { connect, parseResponses, sleep, listen, refused } from '../raw.mjs';

/** `[name, createServer]` pairs: lastcall first, node:http as the control. */
export const impls = [
  ['lastcall', lastcall.createServer],
  ['node:http', http.createServer],
];

/** How long any one step may take before the test fails instead of hanging. */
export const BOUND_MS = 10_000;

// A server whose close() never calls back keeps this file's process alive and
// would stall `npm test`. The test that leaked it has already failed on its
// bounded close; once every test is done, anything still holding the process
// makes the file fail too, naming what was left open, instead of hanging.
after(() => {
  setTimeout(() => {
    process.stderr.write(`still open after the last test: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(1);
  }, 2000).unref();
});

/** Resolves as `promise` does, or rejects once `ms` have passed, naming `what`. */
export function within(promise, what, ms = BOUND_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Closes `server` as a promise bounded by BOUND_MS. node:http (the control)
 * has its keep-alive connections cut first, since its close() waits for them;
 * lastcall's close() is left to finish on its own, as it is meant to.
 */
export function closeServer(name, server) {
  if (!server.listening) return Promise.resolve();
  if (name !== 'lastcall') server.closeAllConnections();
  return within(new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
  }), `${name} close()`);
}

/**
 * Starts `createServer(handler)` on 127.0.0.1:0, registers its close with
 * `t.after`, and returns `{ server, port, url }`.
 */
export async function serve(t, name, createServer, handler) {
  const server = handler === undefined ? createServer() : createServer(handler);
  const port = await listen(server);
  t.after(() => closeServer(name, server));
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/**
 * One HTTP/1.1 request with node:http's client on a fresh connection (no
 * agent, so nothing keeps the control's close() waiting). The body is not
 * decoded. Resolves `{ status, headers, rawHeaders, body: Buffer }`.
 */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        rawHeaders: res.rawHeaders,
        body: Buffer.concat(chunks),
      }));
      res.on('error', reject);
    });
    // A hang fails the test and leaves no socket behind.
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${url}: no response within ${BOUND_MS} ms`)), BOUND_MS);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}

/** `request()` with the body parsed as JSON (asserting it is JSON). */
export async function requestJson(url, options) {
  const r = await request(url, options);
  return { ...r, json: JSON.parse(r.body.toString()) };
}

/** Polls `pred()` every 5 ms until it holds; rejects after BOUND_MS. */
export async function until(pred, what) {
  const deadline = Date.now() + BOUND_MS;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${BOUND_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/**
 * A temporary directory with files for sendFile, express.static and piping:
 * `small.txt` (64 KiB of text) and `big.bin` (1 MiB of pseudo-random bytes).
 * Removed when the process exits.
 */
export function fixtures() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-compat-'));
  const small = Buffer.from('0123456789abcdef'.repeat(4096));
  const big = crypto.randomBytes(1 << 20);
  fs.writeFileSync(path.join(dir, 'small.txt'), small);
  fs.writeFileSync(path.join(dir, 'big.bin'), big);
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, small, big, smallPath: path.join(dir, 'small.txt'), bigPath: path.join(dir, 'big.bin') };
}
