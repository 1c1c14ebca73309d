import type { Cost, PerWindowKind, WindowUsage } from '../core/vocabulary.js';
import type { ConformanceCaseSpec, Harness } from './conformance-harness.js';

/*
 * Pauses (held until their end, never shortened, extended by a longer one) and what the store
 * reports for `limiter.stats()`.
 */

const holds: ConformanceCaseSpec = {
  name: 'pause: holds admissions until it ends, and no longer',
  async run(h) {
    const w = h.windowMs;
    const limiter = h.limiter({ requests: { limit: 100, windowMs: w } });
    await h.startNow(limiter, 'a start before the pause', `window of 100 per ${w} ms`);
    const ms = 0.3 * w;
    const pausedAt = h.now();
    limiter.pause(ms);
    const contract = `pause of ${ms} ms from ${h.fmt(pausedAt)}`;
    const p = h.track('a start during the pause', () => limiter.acquire());
    await h.waiting(p, contract);
    await h.admittedAt(p, pausedAt + ms, `${contract}: the waiter starts when it ends`);
    await h.startNow(limiter, 'a start after the pause', `${contract}: over`);
  },
};

const longest: ConformanceCaseSpec = {
  name: 'pause: a shorter pause never shortens a longer one, and a longer one extends it',
  async run(h) {
    const w = h.windowMs;
    const limiter = h.limiter({ requests: { limit: 100, windowMs: w } });
    await h.startNow(limiter, 'a start before the pause', `window of 100 per ${w} ms`);
    const long = 0.5 * w;
    const short = 0.1 * w;
    const pausedAt = h.now();
    limiter.pause(long);
    limiter.pause(short);
    const contract = `a pause of ${long} ms from ${h.fmt(pausedAt)}, then one of ${short} ms`;
    await h.settle();
    const until = limiter.stats().pausedUntil;
    if (until < pausedAt + long - h.slackMs) {
      throw new Error(`${contract}: stats().pausedUntil is ${h.fmt(until)}, before ${h.fmt(pausedAt + long)}`);
    }
    const p = h.track('a start during the pause', () => limiter.acquire());
    await h.waiting(p, contract);
    await h.advanceTo(pausedAt + 0.2 * w);
    await h.waiting(p, `${contract}: the shorter pause must not shorten the longer`);
    const extendedAt = h.now();
    limiter.pause(long);
    await h.admittedAt(
      p,
      extendedAt + long,
      `${contract}, and one of ${long} ms at ${h.fmt(extendedAt)}: the longer pause extends it`,
    );
  },
};

/** Expects `list` to hold one window with these figures. */
function expectWindow(list: readonly WindowUsage[], kind: string, expected: WindowUsage, contract: string): void {
  if (list.length !== 1) {
    throw new Error(`${contract}: stats().${kind} lists ${list.length} windows, expected 1`);
  }
  const got = list[0] as WindowUsage;
  for (const key of ['limit', 'windowMs', 'used', 'remaining'] as const) {
    if (got[key] !== expected[key]) {
      throw new Error(`${contract}: stats().${kind}[0].${key} is ${got[key]}, expected ${expected[key]}`);
    }
  }
}

function expectUsage(
  h: Harness,
  stats: PerWindowKind<readonly WindowUsage[]>,
  used: Cost & { requests: number },
  contract: string,
): void {
  const w = h.windowMs;
  const window = (limit: number, n: number): WindowUsage => ({ limit, windowMs: w, used: n, remaining: limit - n });
  expectWindow(stats.requests, 'requests', window(5, used.requests), contract);
  expectWindow(stats.tokens, 'tokens', window(1_000, used.input + used.output), contract);
  expectWindow(stats.inputTokens, 'inputTokens', window(800, used.input), contract);
  expectWindow(stats.outputTokens, 'outputTokens', window(400, used.output), contract);
}

const usage: ConformanceCaseSpec = {
  name: 'usage: stats() reports every window, the leases in flight and the pause',
  async run(h) {
    const w = h.windowMs;
    const limiter = h.limiter({
      requests: { limit: 5, windowMs: w },
      tokens: { limit: 1_000, windowMs: w },
      inputTokens: { limit: 800, windowMs: w },
      outputTokens: { limit: 400, windowMs: w },
      concurrency: 10,
    });
    const limits = `windows of 5 requests, 1000 tokens, 800 in and 400 out per ${w} ms`;
    const cost = { input: 100, output: 50 };
    const a = await h.startNow(limiter, 'the 1st start', limits, { tokens: cost });
    await h.startNow(limiter, 'the 2nd start', limits, { tokens: cost });
    await h.startNow(limiter, 'the 3rd start', limits, { tokens: cost });
    a.release();
    await h.settle();
    // Taken after the release: a store that reports usage as of its latest admission is up to date.
    const d = await h.startNow(limiter, 'the 4th start', limits, { tokens: cost });
    const four = `${limits}, after 4 starts of 100 in + 50 out`;
    expectUsage(h, limiter.stats(), { requests: 4, input: 400, output: 200 }, four);
    const inFlight = h.store.usage(h.now()).inFlight;
    if (inFlight !== 3) throw new Error(`${four} and 1 release: store.usage().inFlight is ${inFlight}, expected 3`);

    const ms = 0.2 * w;
    const pausedAt = h.now();
    limiter.pause(ms);
    await h.settle();
    const paused = limiter.stats();
    const pause = `a pause of ${ms} ms from ${h.fmt(pausedAt)}`;
    if (Math.abs(paused.pausedUntil - (pausedAt + ms)) > h.slackMs) {
      throw new Error(
        `${pause}: stats().pausedUntil is ${h.fmt(paused.pausedUntil)}, expected ${h.fmt(pausedAt + ms)}`,
      );
    }
    if (!h.real && paused.pausedForMs !== ms) {
      throw new Error(`${pause}: stats().pausedForMs is ${paused.pausedForMs}, expected ${ms}`);
    }
    await h.advanceTo(pausedAt + ms + h.slackMs);
    const over = limiter.stats();
    if (over.pausedForMs !== 0 || over.pausedUntil !== 0) {
      throw new Error(
        `${pause}: at ${h.fmt(h.now())} stats() still reports pausedForMs ${over.pausedForMs}, pausedUntil ${over.pausedUntil}`,
      );
    }

    await h.advanceTo(d.acquiredAt + w + h.slackMs);
    await h.startNow(limiter, 'a start a window later', limits, { tokens: { input: 10, output: 5 } });
    expectUsage(
      h,
      limiter.stats(),
      { requests: 1, input: 10, output: 5 },
      `${limits}: a window after 4 starts, 1 start of 10 in + 5 out`,
    );
  },
};

/** The cases of pauses and usage. */
export const PAUSE_CASES: readonly ConformanceCaseSpec[] = [holds, longest, usage];
