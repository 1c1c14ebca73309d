import type { ConformanceCaseSpec, Harness } from './conformance-harness.js';
import type { Tracked } from './conformance-recording.js';
import type { Limiter } from '../limiter/limiter.js';
import type { Lease } from '../limiter/lease.js';

/*
 * Request windows: exact at their boundaries (half-open: a start at `t` counts until just before
 * `t + windowMs`), never more than the limit in any window, several windows at once, and limits
 * changed while entries are in the windows.
 */

const ORDINALS = ['1st', '2nd', '3rd', '4th', '5th', '6th', '7th', '8th', '9th', '10th'];

/** `count` acquires made at once, labelled by their order. */
export function acquireMany(h: Harness, limiter: Limiter, count: number, from = 0): Tracked[] {
  return Array.from({ length: count }, (_, i) =>
    h.track(`the ${ORDINALS[from + i] ?? `#${from + i + 1}`} start`, () => limiter.acquire()),
  );
}

/** Expects every acquire of `ps` admitted at once (when it was made). */
export async function allAtOnce(h: Harness, ps: readonly Tracked[], contract: string): Promise<Lease[]> {
  const leases: Lease[] = [];
  for (const p of ps) leases.push(await h.admittedAt(p, p.issuedAt, contract));
  return leases;
}

const boundary: ConformanceCaseSpec = {
  name: 'request window: the limit starts at once, the next exactly when the window ends',
  async run(h) {
    const w = h.windowMs;
    const contract = `window of 3 per ${w} ms`;
    const limiter = h.limiter({ requests: { limit: 3, windowMs: w } });
    const [first] = await allAtOnce(h, acquireMany(h, limiter, 3), contract);
    const fourth = acquireMany(h, limiter, 1, 3)[0] as Tracked;
    await h.waiting(fourth, contract);
    const end = h.startOf(first as Lease) + w;
    await h.admittedAt(fourth, end, `${contract} (half-open: the 1st start leaves it at ${h.fmt(end)})`);
  },
};

const spread: ConformanceCaseSpec = {
  name: 'request window: never more than the limit in any window, with starts spread across it',
  async run(h) {
    const w = h.windowMs;
    const contract = `window of 3 per ${w} ms`;
    const limiter = h.limiter({ requests: { limit: 3, windowMs: w } });
    const [first] = await allAtOnce(h, acquireMany(h, limiter, 1), contract);
    const a = h.startOf(first as Lease);
    await h.advanceTo(a + 0.9 * w);
    const [p2, p3, p4, p5] = acquireMany(h, limiter, 4, 1) as [Tracked, Tracked, Tracked, Tracked];
    const [second, third] = await allAtOnce(h, [p2, p3], `${contract}, one start at ${h.fmt(a)}`);
    const fourth = await h.admittedAt(p4, a + w, `${contract} (the 1st start leaves it at ${h.fmt(a + w)})`);
    const b = h.startOf(second as Lease);
    const fifth = await h.admittedAt(p5, b + w, `${contract} (the 2nd start leaves it at ${h.fmt(b + w)})`);
    const starts = [first, second, third, fourth, fifth].map((lease) => h.startOf(lease as Lease));
    h.checkStarts(starts, 3, w, contract);
  },
};

const several: ConformanceCaseSpec = {
  name: 'several request windows: every one binds',
  async run(h) {
    const w = h.windowMs;
    const short = w / 10;
    const contract = `windows of 2 per ${short} ms and 3 per ${w} ms`;
    const limiter = h.limiter({
      requests: [
        { limit: 2, windowMs: short },
        { limit: 3, windowMs: w },
      ],
    });
    const [p1, p2, p3, p4, p5] = acquireMany(h, limiter, 5) as [Tracked, Tracked, Tracked, Tracked, Tracked];
    const [first, second] = (await allAtOnce(h, [p1, p2], contract)) as [Lease, Lease];
    const a = h.startOf(first);
    const third = await h.admittedAt(p3, a + short, `${contract}: the ${short} ms window binds`);
    const fourth = await h.admittedAt(p4, a + w, `${contract}: the ${w} ms window binds as well`);
    const b = h.startOf(second);
    const fifth = await h.admittedAt(p5, b + w, `${contract}: the 2nd start leaves the ${w} ms window`);
    const starts = [first, second, third, fourth, fifth].map((lease) => h.startOf(lease));
    h.checkStarts(starts, 2, short, contract);
    h.checkStarts(starts, 3, w, contract);
  },
};

const configure: ConformanceCaseSpec = {
  name: 'configure: started requests count against new limits, and a raised limit wakes waiters',
  async run(h) {
    const w = h.windowMs;
    const limiter = h.limiter({ requests: { limit: 2, windowMs: w }, concurrency: 10 });
    const [first] = (await allAtOnce(h, acquireMany(h, limiter, 2), `window of 2 per ${w} ms`)) as [Lease];
    limiter.updateLimits({ requests: { limit: 3, windowMs: w } });
    const raised = `window raised from 2 to 3 per ${w} ms after 2 starts`;
    await h.startNow(limiter, 'the 3rd start', `${raised}: a 3rd fits at once`);
    const p4 = acquireMany(h, limiter, 1, 3)[0] as Tracked;
    await h.waiting(p4, `${raised}: the 2 starts made before the change count against the new limit`);
    const end = h.startOf(first) + w;
    await h.admittedAt(p4, end, `${raised}: the 4th starts when the 1st leaves, at ${h.fmt(end)}`);
    // Concurrency: the 4 leases are all held.
    limiter.updateLimits({ concurrency: 4 });
    const capped = 'concurrency lowered from 10 to 4 while 4 leases are held';
    const p5 = acquireMany(h, limiter, 1, 4)[0] as Tracked;
    await h.waiting(p5, `${capped}: the held leases count against it`);
    const raisedAt = h.now();
    limiter.updateLimits({ concurrency: 5 });
    await h.admittedAt(
      p5,
      raisedAt,
      `${capped}, then raised to 5 at ${h.fmt(raisedAt)}: the waiter must start at once`,
    );
  },
};

/** The cases of request windows. */
export const WINDOW_CASES: readonly ConformanceCaseSpec[] = [boundary, spread, several, configure];
