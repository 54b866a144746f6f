// A raw TCP client for watching HTTP/1.1 on the wire: what bytes arrive,
// and whether the connection ends with EOF (FIN) or a reset.

import net from 'node:net';
import { once } from 'node:events';

/**
 * Opens a TCP connection to 127.0.0.1:port (`{ keepOpen }`: never send our FIN).
 * `conn.text()` is everything received so far (latin1), `conn.ended`
 * resolves to `{ how: 'eof' | 'reset' | 'error', code, at }` when the
 * connection ends, `at` being `performance.now()` at that moment.
 */
export async function connect(port, { keepOpen = false } = {}) {
  // With `keepOpen` the client reads the server's EOF but never closes its
  // own side (as many clients, proxies and harnesses do).
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: keepOpen });
  socket.setNoDelay(true);
  const chunks = [];
  const waiters = new Set();
  const errors = [];
  let endInfo = null;
  let resolveEnded;
  const ended = new Promise((r) => { resolveEnded = r; });
  const finish = (info) => {
    if (endInfo !== null) return;
    endInfo = { ...info, at: performance.now() };
    resolveEnded(endInfo);
    for (const w of waiters) w();
  };
  socket.on('data', (d) => {
    chunks.push(d);
    for (const w of waiters) w();
  });
  socket.on('end', () => {
    finish({ how: 'eof' });
    // Answer the server's FIN with ours, as a well-behaved client does.
    if (!keepOpen) socket.end();
  });
  socket.on('error', (err) => errors.push(err.code));
  socket.on('error', (err) => finish({ how: err.code === 'ECONNRESET' ? 'reset' : 'error', code: err.code }));
  socket.on('close', () => finish({ how: 'eof' }));
  await once(socket, 'connect');
  const conn = {
    socket,
    ended,
    /** Error codes seen on the socket, even after it ended (a late RST). */
    errors,
    get endInfo() { return endInfo; },
    write(data) { socket.write(data); },
    text() { return Buffer.concat(chunks).toString('latin1'); },
    bytes() { return Buffer.concat(chunks); },
    /** Resolves when `pred(text)` holds; rejects after `ms` with what arrived. */
    waitFor(pred, ms = 5000, what = 'condition') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const t = conn.text();
          if (pred(t)) {
            cleanup();
            resolve(t);
          } else if (endInfo !== null) {
            cleanup();
            reject(new Error(`connection ended (${endInfo.how}) before ${what}; got ${JSON.stringify(t.slice(0, 500))}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(conn.text().slice(0, 500))}`));
        }, ms);
        const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    destroy() { socket.destroy(); },
  };
  return conn;
}

/** Splits raw HTTP/1.1 response text into complete responses. */
export function parseResponses(text) {
  const out = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const head = rest.slice(0, headEnd);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    let body;
    let used;
    const bodyStart = headEnd + 4;
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (rest.length < bodyStart + n) break;
      body = rest.slice(bodyStart, bodyStart + n);
      used = bodyStart + n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      let p = bodyStart;
      body = '';
      let complete = false;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = parseInt(rest.slice(p, lineEnd), 16);
        if (size === 0) {
          if (rest.length < lineEnd + 4) break;
          used = lineEnd + 4;
          complete = true;
          break;
        }
        if (rest.length < lineEnd + 2 + size + 2) break;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
    } else {
      body = '';
      used = bodyStart;
    }
    out.push({ status, headers, body });
    rest = rest.slice(used);
  }
  return out;
}

/** A minimal GET request. */
export function get(path = '/', extra = '') {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Listens on 127.0.0.1:0 and returns the port. */
export async function listen(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address().port;
}

/** close() as a promise resolving with `performance.now()` at the callback. */
export function closed(server) {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve(performance.now())));
  });
}

/** Whether a connect to 127.0.0.1:port is refused (true) or accepted (false). */
export function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}
