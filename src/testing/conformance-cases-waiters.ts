import { AcquireTimeoutError } from '../core/errors.js';
import type { ConformanceCaseSpec, Harness } from './conformance-harness.js';
import type { Tracked } from './conformance-recording.js';

/*
 * Waiters that leave the queue (aborted, timed out) are charged nothing, and a slot a store booked
 * for one of them goes to the next waiter (`withdraw`).
 */

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Expects `p` rejected by `by` with `AcquireTimeoutError`. */
async function timedOut(h: Harness, p: Tracked, by: number, contract: string): Promise<AcquireTimeoutError> {
  const error = await h.rejectedBy(p, by, contract);
  if (!(error instanceof AcquireTimeoutError)) {
    throw new Error(`${contract}: ${p.label} was rejected with ${describeError(error)}, not AcquireTimeoutError`);
  }
  return error;
}

/** Aborts `controller` and expects `p` rejected with its reason. */
async function abortedWith(h: Harness, p: Tracked, controller: AbortController, contract: string): Promise<void> {
  const reason = new Error('the caller left the queue');
  controller.abort(reason);
  const error = await h.rejectedBy(p, h.now(), contract);
  if (error !== reason) {
    throw new Error(`${contract}: ${p.label} was rejected with ${describeError(error)}, not with the signal's reason`);
  }
}

const aborted: ConformanceCaseSpec = {
  name: 'aborted waiter: charged nothing',
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 1 per ${w} ms with a token budget of 100`;
    const limiter = h.limiter({ requests: { limit: 1, windowMs: w }, tokens: { limit: 100, windowMs: w } });
    const a = await h.startNow(limiter, 'a start of 10 tokens', limits, { tokens: 10 });
    const controller = new AbortController();
    const b = h.track('a waiter of 50 tokens', () => limiter.acquire({ tokens: 50, signal: controller.signal }));
    await h.waiting(b, limits);
    await h.advanceTo(a.acquiredAt + w / 10);
    await abortedWith(h, b, controller, `${limits}: a waiter aborted at ${h.fmt(h.now())}`);
    const c = h.track('a start of 90 tokens', () => limiter.acquire({ tokens: 90 }));
    const end = h.startOf(a) + w;
    await h.admittedAt(
      c,
      end,
      `${limits}: the aborted waiter must be charged nothing, so 90 tokens start when the 1st leaves at ${h.fmt(end)}`,
    );
  },
};

const timeout: ConformanceCaseSpec = {
  name: 'timed-out waiter: charged nothing',
  async run(h) {
    const w = h.windowMs;
    const timeoutMs = w / 5;
    const limits = `concurrency 1, a window of 3 per ${w} ms and a token budget of 100`;
    const limiter = h.limiter({
      concurrency: 1,
      requests: { limit: 3, windowMs: w },
      tokens: { limit: 100, windowMs: w },
    });
    const a = await h.startNow(limiter, 'a start of 10 tokens', limits, { tokens: 10 });
    // Waiting for the concurrency slot: how long is unknown, so it times out at its deadline.
    const b = h.track('a waiter of 50 tokens', () => limiter.acquire({ tokens: 50, timeoutMs }));
    await timedOut(h, b, b.issuedAt + timeoutMs, `${limits}: waiting for a held lease with timeoutMs ${timeoutMs}`);
    const releasedAt = h.now();
    a.release();
    const c = await h.admittedAt(
      h.track('a start of 90 tokens', () => limiter.acquire({ tokens: 90 })),
      releasedAt,
      `${limits}: the waiter that timed out must be charged nothing, so 10 + 90 tokens fit`,
    );
    c.release();
    // Waiting for tokens: the store says when, later than the deadline.
    const e = h.track('a waiter of 95 tokens', () => limiter.acquire({ tokens: 95, timeoutMs }));
    await timedOut(h, e, e.issuedAt + timeoutMs, `${limits}: 100 tokens charged, 95 more with timeoutMs ${timeoutMs}`);
    const f = h.track('a start of 90 tokens', () => limiter.acquire({ tokens: 90 }));
    const end = h.startOf(c) + w;
    await h.admittedAt(
      f,
      end,
      `${limits}: the waiter that timed out must be charged nothing, so 90 tokens start when the 90 leave at ${h.fmt(end)}`,
    );
  },
};

const withdraw: ConformanceCaseSpec = {
  name: 'withdraw: a slot booked for a waiter that left goes to the next one',
  needs: { bookings: true },
  async run(h) {
    const w = h.windowMs;
    const limits = `window of 1 per ${w} ms`;
    const limiter = h.limiter({ requests: { limit: 1, windowMs: w } });
    const a = await h.startNow(limiter, 'the 1st start', limits);
    // One leaves while the store is still answering for it, one after the store has answered.
    const early = new AbortController();
    const b1 = h.track('a waiter that leaves at once', () => limiter.acquire({ signal: early.signal }));
    await abortedWith(h, b1, early, limits);
    const late = new AbortController();
    const b2 = h.track('a waiter that leaves later', () => limiter.acquire({ signal: late.signal }));
    await h.waiting(b2, limits);
    await abortedWith(h, b2, late, limits);
    if (h.log.count('withdraw') === 0) throw new Error(`${limits}: the limiter never called store.withdraw`);
    await h.settle();
    const c = h.track('the next waiter', () => limiter.acquire());
    const end = h.startOf(a) + w;
    await h.admittedAt(
      c,
      end,
      `${limits}: whatever was booked for the 2 waiters that left must be given back, so the next starts at ${h.fmt(end)}`,
    );
  },
};

/** The cases of waiters that leave the queue. */
export const WAITER_CASES: readonly ConformanceCaseSpec[] = [aborted, timeout, withdraw];
