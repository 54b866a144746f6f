// Shared helpers for the API tests: real clients against a real server on
// 127.0.0.1. With LASTCALL_IMPL=node the HTTP/1.1 tests run against
// node:http instead, to check the tests themselves describe Node's behaviour.

import http from 'node:http';
import http2 from 'node:http2';
import * as lastcall from '../index.mjs';

export const impl = process.env.LASTCALL_IMPL === 'node' ? 'node' : 'lastcall';
export const createServer = impl === 'node' ? http.createServer : lastcall.createServer;
/** Protocols under test: HTTP/2 only where the implementation serves h2c. */
export const protocols = impl === 'node' ? ['h1'] : ['h1', 'h2'];

export { listen, closed, sleep } from './raw.mjs';
import { listen } from './raw.mjs';

/** Starts `createServer(options, handler)` and closes it when the test ends. */
export async function serve(t, handler, options = {}) {
  const server = createServer(options, handler);
  const port = await listen(server);
  t.after(() => new Promise((resolve) => {
    if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { server, port };
}

const agents = new Map();
function agentFor(port) {
  let a = agents.get(port);
  if (!a) {
    a = new http.Agent({ keepAlive: true });
    agents.set(port, a);
  }
  return a;
}

const sessions = new Map();
function sessionFor(port) {
  let s = sessions.get(port);
  if (!s || s.closed || s.destroyed) {
    s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    s.unref();
    sessions.set(port, s);
  }
  return s;
}

/**
 * One request over `proto` ('h1' with a keep-alive agent, 'h2' over a shared
 * h2c session). Resolves `{ status, headers, body: Buffer }`.
 */
export function request(proto, port, { method = 'GET', path = '/', headers = {}, body } = {}) {
  if (proto === 'h2') {
    return new Promise((resolve, reject) => {
      const stream = sessionFor(port).request({ ':method': method, ':path': path, ...headers });
      const chunks = [];
      let head;
      stream.on('response', (h) => { head = h; });
      stream.on('data', (d) => chunks.push(d));
      stream.on('end', () => resolve({ status: head[':status'], headers: head, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
      stream.end(body);
    });
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: agentFor(port) }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, statusMessage: res.statusMessage, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Closes the shared clients of `port`. */
export function dropClients(port) {
  agents.get(port)?.destroy();
  agents.delete(port);
  sessions.get(port)?.destroy();
  sessions.delete(port);
}
