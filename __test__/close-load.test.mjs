// C13: close() in the middle of load loses nothing. Every request whose
// handler ran gets its full response; every other request fails in a way a
// client may safely retry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { createServer } from '../index.mjs';
import { listen, sleep } from './raw.mjs';

const H1_CLIENTS = 20;
const H2_CLIENTS = 5;
const H2_STREAMS_PER_CLIENT = 8;

// Failures a client may retry without risk of the request having run.
function classifyH1(err) {
  if (err.code === 'ECONNREFUSED') return 'refused';
  // node:http says "socket hang up" when the connection ended before any
  // response byte: EOF, nothing processed.
  if (err.message === 'socket hang up') return 'eof-before-response';
  return `unsafe:${err.code}:${err.message}`;
}

function classifyH2(err) {
  if (err.code === 'ECONNREFUSED') return 'refused';
  if (err.code === 'ERR_HTTP2_GOAWAY_SESSION' || err.code === 'ERR_HTTP2_INVALID_SESSION') return 'not-sent';
  if (err.code === 'ERR_HTTP2_STREAM_ERROR' && /NGHTTP2_REFUSED_STREAM/.test(err.message)) return 'refused-stream';
  if (err.code === 'ERR_HTTP2_ERROR' && /GOAWAY/.test(err.message)) return 'not-sent';
  return `unsafe:${err.code}:${err.message}`;
}

test('C13: 20 HTTP/1.1 and 5 HTTP/2 clients at full speed, close() midway: zero lost requests, only retry-safe failures', async () => {
  const handled = new Set();
  let lastResponseAt = 0;
  const server = createServer((req, res) => {
    const id = req.headers['x-id'];
    handled.add(id);
    const reply = () => res.end(`done ${id}`);
    // A mix of immediate and slightly deferred answers.
    if (Number(id.split('-').at(-1)) % 3 === 0) setTimeout(reply, 2);
    else reply();
  });
  const port = await listen(server);
  const completed = new Set();
  const failures = new Map();
  const fail = (kind) => failures.set(kind, (failures.get(kind) || 0) + 1);
  let stop = false;

  async function h1Client(n) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let seq = 0;
    while (!stop) {
      const id = `h1-${n}-${seq++}`;
      const result = await new Promise((resolve) => {
        const req = http.get({ port, host: '127.0.0.1', path: '/', agent, headers: { 'x-id': id } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ ok: body === `done ${id}` && res.complete, body }));
          res.on('error', (err) => resolve({ err }));
        });
        req.on('error', (err) => resolve({ err }));
      });
      if (result.ok) {
        completed.add(id);
        lastResponseAt = performance.now();
      } else if (result.err) {
        const kind = classifyH1(result.err);
        fail(kind);
        if (kind === 'refused') break;
      } else {
        fail(`unsafe:bad-body:${result.body}`);
      }
    }
    agent.destroy();
  }

  async function h2Client(n) {
    let seq = 0;
    while (!stop) {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      const connected = await new Promise((resolve) => {
        session.once('connect', () => resolve(true));
        session.once('error', (err) => { fail(classifyH2(err)); resolve(false); });
      });
      if (!connected) {
        session.destroy();
        break;
      }
      session.on('error', () => {});
      const lane = async () => {
        while (!stop && !session.closed && !session.destroyed) {
          const id = `h2-${n}-${seq++}`;
          const result = await new Promise((resolve) => {
            let stream;
            try {
              stream = session.request({ ':path': '/', 'x-id': id });
            } catch (err) {
              resolve({ err });
              return;
            }
            let body = '';
            stream.setEncoding('utf8');
            stream.on('data', (d) => { body += d; });
            stream.on('end', () => resolve({ ok: body === `done ${id}`, body }));
            stream.on('error', (err) => resolve({ err }));
            stream.on('close', () => {
              if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
                resolve({ err: Object.assign(new Error(`NGHTTP2_${stream.rstCode === 7 ? 'REFUSED_STREAM' : stream.rstCode}`), { code: 'ERR_HTTP2_STREAM_ERROR' }) });
              }
              resolve({ closedEarly: body });
            });
            stream.end();
          });
          if (result.ok) {
            completed.add(id);
            lastResponseAt = performance.now();
          } else if (result.err) {
            fail(classifyH2(result.err));
          } else if (!handled.has(id)) {
            // Closed without a response and the handler never saw it: the
            // stream was above the GOAWAY's last-stream-id.
            fail('not-processed');
          } else {
            fail(`unsafe:truncated:${result.body ?? result.closedEarly}`);
          }
        }
      };
      await Promise.all(Array.from({ length: H2_STREAMS_PER_CLIENT }, lane));
      session.destroy();
    }
  }

  const clients = [
    ...Array.from({ length: H1_CLIENTS }, (_, i) => h1Client(i)),
    ...Array.from({ length: H2_CLIENTS }, (_, i) => h2Client(i)),
  ];
  // Let the load build up, then close in the middle of it.
  while (completed.size < 2000) await sleep(10);
  const closedAt = await new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve(performance.now())));
  });
  stop = true;
  await Promise.all(clients);

  const lost = [...handled].filter((id) => !completed.has(id));
  assert.deepEqual(lost, [], 'every request whose handler ran got its full response');
  const unsafe = [...failures.keys()].filter((k) => k.startsWith('unsafe'));
  assert.deepEqual(unsafe, [], `only retry-safe failures: ${JSON.stringify([...failures])}`);
  assert.ok(failures.get('refused') > 0, 'clients kept going until the port refused them');
  assert.ok(closedAt - lastResponseAt < 500,
    `callback ${Math.round(closedAt - lastResponseAt)} ms after the last in-flight response`);
});
