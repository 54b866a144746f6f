'use strict';

// `npm start`: a small server on both protocols. Ctrl-C (or SIGTERM) closes
// it gracefully; a second signal forces it.

const { createServer } = require('./index.js');

const port = Number(process.env.PORT) || 3000;
const server = createServer({ shutdownTimeout: 10_000 }, (req, res) => {
  if (req.url === '/slow') {
    // Something in flight to watch close() wait for.
    setTimeout(() => res.end('slow hello\n'), 5000);
    return;
  }
  if (req.method === 'POST') {
    res.setHeader('content-type', req.headers['content-type'] || 'application/octet-stream');
    req.pipe(res);
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from lastcall over HTTP/${req.httpVersion}\n`);
});

server.on('error', (err) => {
  console.error(`could not listen: ${err.message}`);
  process.exitCode = 1;
});

server.listen(port, '127.0.0.1', () => {
  const { address, port: actual } = server.address();
  console.log(`lastcall demo listening on http://${address}:${actual}/`);
  console.log(`  curl http://${address}:${actual}/            (HTTP/1.1)`);
  console.log(`  curl --http2-prior-knowledge http://${address}:${actual}/   (h2c)`);
  console.log(`  curl http://${address}:${actual}/slow        (5 s; press Ctrl-C meanwhile)`);
  console.log('Ctrl-C closes gracefully; a second Ctrl-C forces.');
});

function describe(info) {
  const parts = [];
  const n = (count, one, many) => `${count} ${count === 1 ? one : many}`;
  const requests = info.active + info.http2Streams;
  if (requests > 0) parts.push(n(requests, 'request', 'requests'));
  if (info.http2Sessions > 0) parts.push(n(info.http2Sessions, 'HTTP/2 session', 'HTTP/2 sessions'));
  if (info.idle > 0) parts.push(n(info.idle, 'idle connection', 'idle connections'));
  if (info.upgraded > 0) parts.push(n(info.upgraded, 'upgraded socket', 'upgraded sockets'));
  return parts.length > 0 ? `waiting for ${parts.join(', ')}` : 'nothing left to wait for';
}

let signals = 0;
let progress = null;
function shutdown(signal) {
  signals += 1;
  if (signals > 1) {
    console.log(`${signal} again: forcing`);
    server.closeAllConnections();
    return;
  }
  console.log(`${signal}: closing (finishing what is in flight; ${signal} again forces)`);
  const started = Date.now();
  server.on('closeTimeout', (info) => console.log(`deadline reached, forcing: ${describe(info)}`));
  server.close((err) => {
    clearInterval(progress);
    if (err) console.error(err.message);
    console.log(`closed in ${Date.now() - started} ms`);
  });
  const report = () => {
    if (server.closing) console.log(describe(server.connectionsInfo()));
  };
  report();
  progress = setInterval(report, 1000);
  progress.unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
