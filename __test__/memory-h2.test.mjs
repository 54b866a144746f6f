// Memory is budgeted (DESIGN §8, issue 15): what waits to be written per
// HTTP/2 session is bounded by `maxSessionMemory` (Node's option, 10 MiB by
// default). Clients that open many streams with a flow-control window of 0
// and never open it get their streams past the budget refused
// (RST_STREAM(REFUSED_STREAM)) instead of the server buffering a response
// for each. RSS is measured from the server's own process, as
// memory.test.mjs does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, rss } from './fixture.mjs';
import { fileURLToPath } from 'node:url';
import { H2Wire } from './h2wire.mjs';
import { impl } from './helpers.mjs';

const fixture = fileURLToPath(new URL('./fixtures/memory-h2-server.cjs', import.meta.url));
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


async function startServer(t, size, mode) {
  return startFixture(t, fixture, [size, impl, mode], ['--expose-gc']);
}

/** A client that reads: one GET, its whole body. */
async function canary(port, size) {
  const c = await H2Wire.connect(port);
  try {
    const r = await c.response(c.request(), 10_000);
    return r.status === 200 && r.body.length === size;
  } finally {
    c.destroy();
  }
}

const SESSIONS = 4;
const STREAMS = 199;
const SIZE = 1 * MiB;
// Past the budgets (10 MiB per session): what one batch of requests may
// have answered before the count hears of it (budget.rs), and the slack of
// a loaded machine. node:http2 stays within it too (LASTCALL_IMPL=node:
// +0.5 and +38.5 MiB, 45 requests reached its handler), but with a new
// Buffer per response it still held +29 MiB two seconds after the clients
// left, so it fails the last check, which lastcall passes.
const MARGIN = 64 * MiB;

for (const mode of ['shared', 'fresh']) {
  const what = mode === 'shared' ? 'the same 1 MiB Buffer' : 'a new 1 MiB Buffer each';
  test(`HTTP/2: ${SESSIONS} sessions × ${STREAMS} streams with window 0, answered with ${what}: RSS stays under 10 MiB per session + a margin, streams past the budget are refused, a fresh connection is served, and the memory comes back`, async (t) => {
    const { port, pid, ask } = await startServer(t, SIZE, mode);
    assert.ok(await canary(port, SIZE), 'warm-up response');
    await ask('gc');
    const base = rss(pid);
    const attackers = [];
    for (let i = 0; i < SESSIONS; i++) {
      attackers.push(await H2Wire.connect(port, { settings: { initialWindowSize: 0 }, autoWindow: false }));
    }
    t.after(() => attackers.forEach((c) => c.destroy()));
    for (const c of attackers) {
      for (let s = 0; s < STREAMS; s++) c.request();
    }
    let peak = rss(pid);
    const canaries = [];
    let answered = 0;
    for (let i = 0; i < 40; i++) {
      peak = Math.max(peak, rss(pid));
      if (i % 10 === 5) canaries.push(await canary(port, SIZE));
      answered = await ask();
      await sleep(25);
    }
    peak = Math.max(peak, rss(pid));
    const refused = attackers.reduce((n, c) => n + c.frames.filter((f) => f.typeName === 'RST_STREAM').length, 0);
    const grew = peak - base;
    t.diagnostic(`RSS grew by ${(grew / MiB).toFixed(1)} MiB (base ${(base / MiB).toFixed(1)} MiB); ${answered} requests reached the handler, ${refused} streams reset`);
    assert.deepEqual(canaries, canaries.map(() => true), 'every canary request was answered whole');
    assert.ok(refused > 0, 'streams past the budget are reset');
    assert.ok(grew < SESSIONS * 10 * MiB + MARGIN, `server RSS grew by ${(grew / MiB).toFixed(1)} MiB`);
    // The clients leave: what was queued for them is let go.
    attackers.forEach((c) => c.destroy());
    let after = rss(pid);
    for (let i = 0; i < 40 && after - base >= 16 * MiB; i++) {
      await sleep(50);
      await ask('gc');
      after = rss(pid);
    }
    t.diagnostic(`RSS after the clients left: ${((after - base) / MiB).toFixed(1)} MiB above the base`);
    assert.ok(after - base < 16 * MiB, `RSS after the clients left: ${((after - base) / MiB).toFixed(1)} MiB above the base`);
  });
}
