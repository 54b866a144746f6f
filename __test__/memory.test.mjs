// Memory is budgeted (DESIGN §8, issue 15): a large Buffer passed to
// res.end() is written in place, not copied per response, so clients that
// never read hold kernel socket buffers, not copies in the server. RSS is
// measured from the server's own process, as body.test.mjs does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, rss, nonReaders } from './fixture.mjs';
import { fileURLToPath } from 'node:url';
import { impl } from './helpers.mjs';

const fixture = fileURLToPath(new URL('./fixtures/memory-server.cjs', import.meta.url));
const MiB = 1024 * 1024;


async function startServer(t, size) {
  const { port, pid, ask } = await startFixture(t, fixture, [size, impl]);
  return { port, pid, answered: () => ask() };
}


for (const [n, size, bound] of [
  // Before: 456 MiB held for the whole attack (one native copy per
  // response). node:http: ~57 MiB RSS in all.
  [100, 4 * MiB, 40 * MiB],
  // Before: a 475 MiB spike. node:http: ~58 MiB RSS in all.
  [500, 1 * MiB, 48 * MiB],
]) {
  test(`${n} HTTP/1.1 connections that never read, each sent the same ${size / MiB} MiB Buffer: server RSS grows by less than ${bound / MiB} MiB`, async (t) => {
    const { port, pid, answered } = await startServer(t, size);
    // Warm up: one response read whole, so lazily built state is counted
    // in the baseline.
    const warm = await nonReaders(port, 1);
    warm[0].resume();
    await new Promise((r) => setTimeout(r, 200));
    warm[0].destroy();
    const base = rss(pid);
    const sockets = await nonReaders(port, n);
    t.after(() => sockets.forEach((s) => s.destroy()));
    let peak = rss(pid);
    for (let i = 0; i < 200 && (await answered()) < n + 1; i++) {
      peak = Math.max(peak, rss(pid));
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 25; i++) {
      peak = Math.max(peak, rss(pid));
      await new Promise((r) => setTimeout(r, 20));
    }
    const grew = peak - base;
    t.diagnostic(`server RSS grew by ${(grew / MiB).toFixed(1)} MiB (base ${(base / MiB).toFixed(1)} MiB)`);
    assert.ok(grew < bound, `server RSS grew by ${(grew / MiB).toFixed(1)} MiB`);
  });
}
