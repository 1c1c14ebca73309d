import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { RetryError } from '../src/core/errors.js';
import type { PausedEvent, RateLimitedEvent, RetryEvent } from '../src/core/events.js';
import type { Lease } from '../src/limiter/lease.js';
import { Limiter } from '../src/limiter/limiter.js';
import { retry } from '../src/retry/retry.js';
import type { RetryLimiter } from '../src/retry/types.js';
import { FakeClock, drive, httpError } from './retry-helpers.js';

let clock: FakeClock;

beforeEach(() => {
  clock = new FakeClock();
});

afterEach(() => {
  expect(clock.pendingTimers).toBe(0);
});

describe('retry with the real Limiter', () => {
  it('satisfies RetryLimiter, and ctx.lease is typed as its Lease', () => {
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, clock });
    expectTypeOf(limiter).toMatchTypeOf<RetryLimiter<Lease>>();
    void retry(
      ({ lease }) => {
        expectTypeOf(lease).toEqualTypeOf<Lease | undefined>();
        return 1;
      },
      { limiter, clock },
    );
  });

  it('holds every caller of the limiter while a 429 pause lasts', async () => {
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 }, clock });
    const paused: PausedEvent[] = [];
    const rateLimited: RateLimitedEvent[] = [];
    const retries: RetryEvent[] = [];
    limiter.on('paused', (e) => paused.push(e));
    limiter.on('rateLimited', (e) => rateLimited.push(e));
    limiter.on('retry', (e) => retries.push(e));

    const starts: number[] = [];
    const first = retry(
      ({ attempt }) => {
        starts.push(clock.now());
        if (attempt === 1) throw httpError(429, { 'retry-after-ms': '400' });
        return 'first';
      },
      { limiter, clock },
    );
    await clock.advance(100);
    // Another caller of the same limiter, started during the pause, waits for its end.
    let secondAt: number | undefined;
    const second = limiter.acquire().then((lease) => {
      secondAt = clock.now();
      lease.release();
    });
    await clock.advance(200);
    expect(secondAt).toBeUndefined();
    expect(limiter.stats().pausedForMs).toBe(100);
    await drive(clock, Promise.all([first, second]));
    await expect(first).resolves.toBe('first');
    expect(starts).toEqual([0, 400]);
    expect(secondAt).toBe(400);
    expect(paused).toEqual([{ ms: 400, until: 400 }]);
    expect(rateLimited).toEqual([{ status: 429, retryAfterMs: 400, pauseMs: 400 }]);
    expect(retries).toEqual([{ attempt: 1, delayMs: 400, error: expect.any(Error), reason: 'rate-limited' }]);
    expect(limiter.stats().inFlight).toBe(0);
  });

  it("releases each attempt's lease, so a concurrency of 1 is never exceeded", async () => {
    const limiter = new Limiter({ concurrency: 1, clock });
    let inFlight = 0;
    let most = 0;
    const work = (fail: number) =>
      retry(
        async ({ attempt }) => {
          inFlight++;
          most = Math.max(most, inFlight);
          await clock.flush();
          inFlight--;
          if (attempt <= fail) throw httpError(503);
          return attempt;
        },
        { limiter, clock, random: () => 0.3 },
      );
    const results = await drive(clock, Promise.all([work(2), work(1), work(0)]));
    expect(results).toEqual([3, 2, 1]);
    expect(most).toBe(1);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('passes acquire options, and an abort while queued rejects with the reason and leaves no timer', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 10_000 }, clock });
    await retry(() => 'take the only slot', { limiter, clock });
    const controller = new AbortController();
    const queued = retry(() => 'never', { limiter, clock, signal: controller.signal, acquire: { priority: 1 } });
    await clock.advance(1_000);
    expect(limiter.stats().queued).toBe(1);
    const reason = new Error('cancelled while queued');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    expect(limiter.stats().queued).toBe(0);
    await clock.advance(10_000);
  });

  it('fails with RetryError when the deadline passes while waiting for a lease', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 10_000 }, clock });
    await retry(() => 'take the only slot', { limiter, clock });
    const call = retry(() => 'never', { limiter, clock, deadlineMs: 2_000 });
    const error = (await drive(clock, call).catch((e: unknown) => e)) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(0);
    expect(error.message).toMatch(/deadline of 2000 ms \(deadlineMs\) passed while waiting for a lease/);
    expect(clock.now()).toBe(2_000);
    await clock.advance(10_000);
  });
});
