// A real browser against createSecureServer() (issue 13): headless Chromium
// loads a page over HTTPS, which must come over HTTP/2, fetches from the
// server and opens a wss:// WebSocket; close() while it is connected calls
// back promptly (GOAWAY for the page's session, 1001 for the WebSocket).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createPublicKey } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { createSecureServer } from '../index.mjs';
import { makeCerts } from './tlshelpers.mjs';
import { listen, closed } from './raw.mjs';

const CHROMIUM = '/usr/bin/chromium';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>lastcall over TLS</title>
<style>
  body { margin: 0; font: 32px sans-serif; background: #fdf6e3; color: #073642; }
  .band { height: 120px; background: linear-gradient(90deg, #268bd2, #d33682, #859900); }
  h1 { padding: 24px; }
</style></head>
<body><div class="band"></div><h1>Served by lastcall over HTTPS</h1><p id="out">…</p></body></html>`;

test('headless Chromium: the page comes over h2, fetch and a wss:// WebSocket work, close() while connected calls back promptly', { timeout: 60000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip('chromium not installed (apt-get install chromium)');
    return;
  }
  const { chromium } = await import('playwright-core');
  const certs = makeCerts();
  const wss = new WebSocketServer({ noServer: true });
  const server = createSecureServer(certs.server, (req, res) => {
    if (req.url === '/api') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ httpVersion: req.httpVersion, alpn: req.socket.alpnProtocol }));
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(PAGE);
  });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(`echo:${m}`)));
  });
  // The application's part of a graceful close: WebSockets are told
  // "going away" (close() waits for upgraded connections, as Node's does).
  server.on('closing', () => {
    for (const ws of wss.clients) ws.close(1001, 'server closing');
  });
  const port = await listen(server);

  // Trust exactly this certificate's key, rather than ignoring every error.
  const spki = createPublicKey(certs.server.cert).export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pin}`],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 800, height: 400 } });
  const origin = `https://127.0.0.1:${port}`;
  const response = await page.goto(`${origin}/`);
  assert.equal(response.status(), 200);
  const seen = await page.evaluate(async () => {
    const nav = performance.getEntriesByType('navigation')[0];
    const api = await (await fetch('/api')).json();
    const echo = await new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://${location.host}/ws`);
      window.ws = ws;
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (e) => resolve(e.data);
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onclose = (e) => { window.closeCode = e.code; };
    });
    document.getElementById('out').textContent = `api over ${api.httpVersion}, ws said ${echo}`;
    return { nextHopProtocol: nav.nextHopProtocol, api, echo };
  });
  assert.equal(seen.nextHopProtocol, 'h2');
  assert.deepEqual(seen.api, { httpVersion: '2.0', alpn: 'h2' });
  assert.equal(seen.echo, 'echo:hello');

  const dir = certs.dir;
  const shot = join(dir, 'page.png');
  await page.screenshot({ path: shot });
  const blank = await browser.newPage({ viewport: { width: 800, height: 400 } });
  await blank.setContent('<html><body style="background:#fff"></body></html>');
  const blankShot = join(dir, 'blank.png');
  await blank.screenshot({ path: blankShot });
  const size = statSync(shot).size;
  const blankSize = statSync(blankShot).size;
  assert.ok(size > 4 * blankSize && size > 8000, `screenshot ${size} bytes vs a blank page's ${blankSize}`);

  // close() with the page's HTTP/2 session and the WebSocket still open.
  assert.ok(server.connectionsInfo().http2Sessions >= 1);
  assert.equal(server.connectionsInfo().upgraded, 1);
  const t0 = performance.now();
  const at = await closed(server);
  assert.ok(at - t0 < 2000, `close() called back ${Math.round(at - t0)} ms after it was called`);
  await page.waitForFunction(() => window.closeCode !== undefined, null, { timeout: 5000 });
  assert.equal(await page.evaluate(() => window.closeCode), 1001);
});
