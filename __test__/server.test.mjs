// The Server API: createServer forms, listen() forms, address(), listening,
// events, getConnections(), and h2c detection on the same port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import httpClient from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, impl, request, serve, closed, listen, dropClients } from './helpers.mjs';
import * as lastcall from '../index.mjs';

const run = promisify(execFile);

test('createServer accepts (listener), (options, listener), (options) and no arguments', async (t) => {
  const a = createServer((req, res) => res.end('a'));
  const b = createServer({ keepAliveTimeout: 1000 }, (req, res) => res.end('b'));
  const c = createServer({});
  const d = createServer();
  assert.equal(b.keepAliveTimeout, 1000);
  c.on('request', (req, res) => res.end('c'));
  for (const [server, body] of [[a, 'a'], [b, 'b'], [c, 'c']]) {
    const port = await listen(server);
    assert.equal((await request('h1', port)).body.toString(), body);
    dropClients(port);
    await closed(server);
  }
  assert.equal(d.listening, false);
});

test('new Server() works like createServer()', { skip: impl === 'node' }, async () => {
  const server = new lastcall.Server((req, res) => res.end('class'));
  assert.ok(server instanceof lastcall.Server);
  const port = await listen(server);
  assert.equal((await request('h1', port)).body.toString(), 'class');
  dropClients(port);
  await closed(server);
});

test('listen(port, host, cb), listening, address() and the listening event', async () => {
  const server = createServer((req, res) => res.end());
  assert.equal(server.listening, false);
  assert.equal(server.address(), null);
  let event = 0;
  server.on('listening', () => { event++; });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  assert.equal(server.listening, true);
  const addr = server.address();
  assert.equal(addr.address, '127.0.0.1');
  assert.equal(addr.family, 'IPv4');
  assert.ok(addr.port > 0);
  assert.equal(event, 1);
  await closed(server);
  assert.equal(server.listening, false);
});

test('listen({ port, host }, cb), listen(port, host, backlog, cb) and listen(cb) on port 0', async () => {
  for (const form of [
    (s, cb) => s.listen({ port: 0, host: '127.0.0.1' }, cb),
    (s, cb) => s.listen(0, '127.0.0.1', 128, cb),
    (s, cb) => s.listen(cb),
    (s, cb) => s.listen('0', cb),
  ]) {
    const server = createServer((req, res) => res.end('hi'));
    await new Promise((resolve) => form(server, resolve));
    const { port } = server.address();
    assert.ok(port > 0);
    assert.equal((await request('h1', port)).body.toString(), 'hi');
    dropClients(port);
    await closed(server);
  }
});

test('listen on a name is looked up first (localhost)', async () => {
  const server = createServer((req, res) => res.end('named'));
  await new Promise((resolve) => server.listen(0, 'localhost', resolve));
  const { address, port } = server.address();
  assert.ok(address === '127.0.0.1' || address === '::1', address);
  const host = address.includes(':') ? '[::1]' : '127.0.0.1';
  const res = await fetch(`http://${host}:${port}/`);
  assert.equal(await res.text(), 'named');
  await closed(server);
});

test('a port in use gives an error event with code EADDRINUSE', async () => {
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address();
  const server = createServer(() => {});
  server.listen(port, '127.0.0.1');
  const [err] = await once(server, 'error');
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.syscall, 'listen');
  assert.equal(server.listening, false);
  blocker.close();
});

test('invalid listen arguments throw Node errors', () => {
  const server = createServer(() => {});
  assert.throws(() => server.listen(70000), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.throws(() => server.listen(-1), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.throws(() => server.listen({ port: 'abc' }), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.equal(server.listening, false);
});

test('listen() twice throws ERR_SERVER_ALREADY_LISTEN', { skip: impl === 'node' }, async () => {
  const server = createServer(() => {});
  await listen(server);
  assert.throws(() => server.listen(0), { code: 'ERR_SERVER_ALREADY_LISTEN' });
  await closed(server);
});

test('the request event fires with req and res; the connection event with a socket', async (t) => {
  let sockets = 0;
  const { server, port } = await serve(t, null);
  server.on('connection', (socket) => {
    sockets++;
    assert.equal(typeof socket.remotePort, 'number');
  });
  server.on('request', (req, res) => res.end(req.url));
  assert.equal((await request('h1', port, { path: '/evt' })).body.toString(), '/evt');
  assert.equal(sockets, 1);
  dropClients(port);
});

test('getConnections(cb) counts open connections', async (t) => {
  const { server, port } = await serve(t, (req, res) => res.end());
  await request('h1', port);
  const n = await new Promise((resolve, reject) => server.getConnections((e, count) => (e ? reject(e) : resolve(count))));
  assert.equal(n, 1);
  dropClients(port);
});

test('one port serves HTTP/1.1 and h2c with prior knowledge, chosen per connection', { skip: impl === 'node' }, async (t) => {
  const { port } = await serve(t, (req, res) => res.end(`HTTP/${req.httpVersion}`));
  assert.equal((await request('h1', port)).body.toString(), 'HTTP/1.1');
  assert.equal((await request('h2', port)).body.toString(), 'HTTP/2.0');
  const { stdout } = await run('curl', ['-s', '--http2-prior-knowledge', `http://127.0.0.1:${port}/`]);
  assert.equal(stdout, 'HTTP/2.0');
  const { stdout: h1 } = await run('curl', ['-s', '--http1.1', `http://127.0.0.1:${port}/`]);
  assert.equal(h1, 'HTTP/1.1');
  const { stdout: h10 } = await run('curl', ['-s', '--http1.0', `http://127.0.0.1:${port}/`]);
  assert.equal(h10, 'HTTP/1.0');
  dropClients(port);
});

test('a handler that throws is an uncaught exception, as in node:http', async () => {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const entry = fileURLToPath(new URL('../index.js', import.meta.url));
  const child = spawn(process.execPath, ['-e', `
    const { createServer } = require(${JSON.stringify(entry)});
    const server = createServer(() => { throw new Error('boom in handler'); });
    server.listen(0, '127.0.0.1', () => {
      require('node:http').get({ port: server.address().port, host: '127.0.0.1' }).on('error', () => {});
    });
  `], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.match(err, /boom in handler/);
});

test('Server() without new returns a server, as node:http\'s does, and the class can be subclassed', async () => {
  const Server = impl === 'node' ? httpClient.Server : lastcall.Server;
  const plain = Server((req, res) => res.end('called'));
  assert.ok(plain instanceof Server);
  class Mine extends Server {
    hello() {
      return 'mine';
    }
  }
  const sub = new Mine((req, res) => res.end('sub'));
  assert.ok(sub instanceof Mine && sub instanceof Server);
  assert.equal(sub.hello(), 'mine');
  for (const [server, body] of [[plain, 'called'], [sub, 'sub']]) {
    const port = await listen(server);
    assert.equal((await request('h1', port)).body.toString(), body);
    dropClients(port);
    await closed(server);
  }
});

// A child process is the only honest way to show "the process exits".
const exitsWithin = async (code, ms) => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  const timer = new Promise((resolve) => setTimeout(resolve, ms, 'still running'));
  const result = await Promise.race([exited, timer]);
  if (result === 'still running') child.kill();
  return { result, out };
};

const serverModule = impl === 'node' ? 'node:http' : new URL('../index.mjs', import.meta.url).href;

test('server.unref() lets the process exit while the server listens; ref() keeps it alive again', async () => {
  const unrefd = await exitsWithin(`
    import { createServer } from '${serverModule}';
    const s = createServer((req, res) => res.end('x'));
    s.listen(0, '127.0.0.1', () => { s.unref(); console.log('listening', s.listening); });`, 10000);
  assert.equal(unrefd.result, 0, 'an unref()ed listening server does not hold the process');
  assert.match(unrefd.out, /listening true/);
  const refd = await exitsWithin(`
    import { createServer } from '${serverModule}';
    const s = createServer((req, res) => res.end('x'));
    s.unref();
    s.listen(0, '127.0.0.1', () => { s.ref(); console.log('listening'); });`, 1500);
  assert.equal(refd.result, 'still running', 'ref() after unref() holds the process again');
});

test('server.setTimeout(): an exchange idle past the timeout emits timeout with the socket; with no listener the socket is destroyed', async (t) => {
  const { server, port } = await serve(t, () => { /* never answers */ });
  const heard = new Promise((resolve) => server.setTimeout(150, (socket) => resolve(socket)));
  const req = httpClient.request({ port, host: '127.0.0.1', agent: false });
  req.on('error', () => {});
  req.end();
  const socket = await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 5000, null).unref())]);
  assert.ok(socket !== null, 'timeout was emitted');
  assert.equal(typeof socket.remoteAddress, 'string');
  socket.destroy();

  const quiet = createServer(() => { /* never answers */ });
  const qport = await listen(quiet);
  quiet.setTimeout(150);
  const outcome = await new Promise((resolve) => {
    const r = httpClient.request({ port: qport, host: '127.0.0.1', agent: false });
    r.on('error', (err) => resolve(err.code));
    r.on('response', () => resolve('response'));
    r.end();
    setTimeout(resolve, 5000, 'hung').unref();
  });
  assert.equal(outcome, 'ECONNRESET', 'no timeout listener: the connection is closed without a response');
  await closed(quiet);
});

test('HTTP/2 requests get a host header from :authority, so apps written for HTTP/1.1 see their host', { skip: impl === 'node' }, async (t) => {
  const { port } = await serve(t, (req, res) => res.end(`${req.headers.host}|${req.headers[':authority']}`));
  const r = await request('h2', port);
  assert.equal(r.body.toString(), `127.0.0.1:${port}|127.0.0.1:${port}`);
  const own = await request('h2', port, { headers: { host: 'example.test' } });
  assert.equal(own.body.toString().split('|')[0], 'example.test', 'a host the client sent is kept');
  dropClients(port);
});
