// Memory is budgeted (DESIGN §8, issue 15) and close() has a deadline
// (DESIGN C9): a client that stopped reading cannot hold the memory of its
// queued response past `shutdownTimeout`. close() calls back soon after the
// deadline, and the server's RSS falls back. Measured from the server's own
// process, as memory.test.mjs does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, nonReaders } from './fixture.mjs';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/memory-close-server.cjs', import.meta.url));
const MiB = 1024 * 1024;
const SIZE = 32 * MiB;
const CLIENTS = 4;

test(`C9: ${CLIENTS} HTTP/1.1 clients that stopped reading a ${SIZE / MiB} MiB response do not hold close() past shutdownTimeout (300 ms), and the memory is released`, async (t) => {
  const { port, ask } = await startFixture(t, fixture, [SIZE], ['--expose-gc']);
  const base = await ask('rss');
  const sockets = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  sockets.push(...await nonReaders(port, CLIENTS));
  for (let i = 0; i < 200 && (await ask('n')) < CLIENTS; i++) await new Promise((r) => setTimeout(r, 20));
  const held = await ask('rss');
  t.diagnostic(`RSS while the responses wait: +${((held - base) / MiB).toFixed(1)} MiB`);
  assert.ok(held - base > CLIENTS * SIZE / 2, 'the responses are held while the clients do not read');
  const took = await ask('close');
  const after = await ask('rss');
  t.diagnostic(`close() called back after ${took} ms; RSS after: ${((after - base) / MiB).toFixed(1)} MiB above the base`);
  // The deadline is 300 ms; the rest is slack for a loaded machine.
  assert.ok(took < 3000, `close() called back after ${took} ms`);
  assert.ok(after - base < SIZE, `RSS after close: +${((after - base) / MiB).toFixed(1)} MiB`);
});
