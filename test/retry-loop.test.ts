import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueFullError, RetryError } from '../src/core/errors.js';
import type { RetryEvent } from '../src/core/events.js';
import { DEFAULT_RATE_LIMIT_PAUSE_MS } from '../src/feedback/rate-limit-policy.js';
import { AttemptTimeoutError } from '../src/core/attempt-timeout-error.js';
import { retry } from '../src/retry/retry.js';
import { RetryBudget } from '../src/retry/retry-budget.js';
import type { RetryContext } from '../src/retry/types.js';
import { FakeClock, FakeLimiter, drive, httpError, seededRandom } from './retry-helpers.js';

let clock: FakeClock;

beforeEach(() => {
  clock = new FakeClock();
});

afterEach(() => {
  // Whatever the path, nothing may be left scheduled.
  expect(clock.pendingTimers).toBe(0);
});

/** A function that fails with the given errors in turn, then returns `value`. */
function failing<T>(
  errors: readonly unknown[],
  value: T,
): { fn: (ctx: RetryContext) => T; calls: { at: number; ctx: RetryContext }[] } {
  const calls: { at: number; ctx: RetryContext }[] = [];
  return {
    calls,
    fn: (ctx) => {
      calls.push({ at: clock.now(), ctx });
      const error = errors[ctx.attempt - 1];
      if (error !== undefined) throw error;
      return value;
    },
  };
}

describe('retry: attempts and backoff', () => {
  it('returns the first success without setting a timer', async () => {
    await expect(retry(() => 'ok', { clock })).resolves.toBe('ok');
    await expect(retry(async ({ attempt }) => attempt, { clock })).resolves.toBe(1);
  });

  it('waits full-jitter delays from the injected random between attempts', async () => {
    const events: RetryEvent[] = [];
    const { fn, calls } = failing([httpError(500), httpError(502), httpError(503)], 'done');
    const run = (seed: number): Promise<string> =>
      retry(fn, { clock, random: seededRandom(seed), onRetry: (e) => void events.push(e) });
    await expect(drive(clock, run(7))).resolves.toBe('done');
    expect(calls.map((c) => c.ctx.attempt)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(events.map((e) => e.reason)).toEqual(['server-error', 'server-error', 'overloaded']);
    events.forEach((event, i) => {
      expect(event.delayMs).toBeGreaterThanOrEqual(0);
      expect(event.delayMs).toBeLessThanOrEqual(1_000 * 2 ** i);
      // Each attempt starts exactly when its wait ends.
      expect(calls[i + 1]!.at - calls[i]!.at).toBe(event.delayMs);
    });
    // The same seed gives the same delays.
    const first = events.map((e) => e.delayMs);
    events.length = 0;
    calls.length = 0;
    await drive(clock, run(7));
    expect(events.map((e) => e.delayMs)).toEqual(first);
  });

  it('caps the backoff at maxDelayMs', async () => {
    const events: RetryEvent[] = [];
    const { fn } = failing([httpError(500), httpError(500), httpError(500)], 'ok');
    const call = retry(fn, {
      clock,
      baseDelayMs: 1_000,
      maxDelayMs: 1_500,
      random: () => 0.999_9,
      onRetry: (e) => void events.push(e),
    });
    await expect(drive(clock, call)).resolves.toBe('ok');
    expect(events.map((e) => e.delayMs)).toEqual([1_000, 1_500, 1_500]);
  });

  it('gives up after maxAttempts attempts in all, with every error', async () => {
    const errors = [httpError(503), httpError(503), httpError(503), httpError(503)];
    const { fn, calls } = failing(errors, 'never');
    const error = await drive(clock, retry(fn, { clock, maxAttempts: 3, random: () => 0.5 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    const retryError = error as RetryError;
    expect(calls).toHaveLength(3);
    expect(retryError.attempts).toBe(3);
    expect(retryError.reason).toBe('exhausted');
    expect(retryError.errors).toEqual(errors.slice(0, 3));
    expect(retryError.cause).toBe(errors[2]);
    expect(retryError.status).toBe(503);
    expect(retryError.message).toMatch(
      /^Gave up after 3 attempts \(maxAttempts 3\); the last failed with overloaded: Error: 503/,
    );
  });

  it('wraps a non-retryable failure in RetryError at once', async () => {
    const bad = httpError(400, {}, { message: 'Invalid model', code: 'model_not_found' });
    const { fn, calls } = failing([bad], 'never');
    const error = (await retry(fn, { clock }).catch((e: unknown) => e)) as RetryError;
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(1);
    expect(error.reason).toBe('not-retryable');
    expect(error.cause).toBe(bad);
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/not retried \(http-error\)/);
  });

  it('treats a returned non-ok Response as a failure and an ok one as success', async () => {
    let n = 0;
    const call = retry(
      () =>
        ++n === 1
          ? new Response('{"error":{"message":"busy"}}', { status: 503, headers: { 'retry-after-ms': '5' } })
          : new Response('fine'),
      { clock },
    );
    const response = await drive(clock, call);
    expect(n).toBe(2);
    await expect(response.text()).resolves.toBe('fine');

    const failed = (await retry(() => new Response('{"error":{"message":"nope"}}', { status: 404 }), { clock }).catch(
      (e: unknown) => e,
    )) as RetryError;
    expect(failed.status).toBe(404);
    // The last failure's body is left for the caller.
    await expect((failed.cause as Response).json()).resolves.toEqual({ error: { message: 'nope' } });
  });
});

describe('retry: delays the server names', () => {
  it('waits exactly the named delay, without jitter', async () => {
    const events: RetryEvent[] = [];
    const { fn, calls } = failing([httpError(429, { 'retry-after-ms': '400' })], 'ok');
    await drive(clock, retry(fn, { clock, random: () => 0.999, onRetry: (e) => void events.push(e) }));
    expect(calls.map((c) => c.at)).toEqual([0, 400]);
    expect(events).toEqual([{ attempt: 1, delayMs: 400, error: expect.any(Error), reason: 'rate-limited' }]);
  });

  it('reads "try again in" from an OpenAI 429 message and Gemini RetryInfo', async () => {
    const openai = httpError(
      429,
      {},
      { message: 'Rate limit reached. Please try again in 1.54s.', code: 'rate_limit_exceeded' },
    );
    const gemini = httpError(
      429,
      {},
      {
        error: {
          code: 429,
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3.5s' }],
        },
      },
    );
    const { fn, calls } = failing([openai, gemini], 'ok');
    await drive(clock, retry(fn, { clock }));
    expect(calls.map((c) => c.at)).toEqual([0, 1_540, 5_040]);
  });

  it('fails at once when the named delay is above maxRetryAfterMs', async () => {
    const { fn, calls } = failing([httpError(429, { 'retry-after': '86400' })], 'ok');
    const error = (await retry(fn, { clock }).catch((e: unknown) => e)) as RetryError;
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(RetryError);
    expect(error.retryAfterMs).toBe(86_400_000);
    expect(error.reason).toBe('retry-after-too-long');
    expect(error.status).toBe(429);
    expect(error.message).toMatch(/asked to wait 86400000 ms.*more than maxRetryAfterMs 60000/);
    expect(clock.now()).toBe(0);
  });

  it('lets x-should-retry overrule the status', async () => {
    const { fn, calls } = failing([httpError(503, { 'x-should-retry': 'false' })], 'ok');
    await expect(retry(fn, { clock })).rejects.toThrow(/not retried \(server-no-retry\)/);
    expect(calls).toHaveLength(1);
  });
});

describe('retry: deadlines, timeouts and aborts', () => {
  it('does not start a retry that would begin at or after the deadline', async () => {
    const { fn, calls } = failing([httpError(500), httpError(500), httpError(500)], 'ok');
    const call = retry(fn, { clock, deadlineMs: 2_500, random: () => 0.999_9 });
    const error = (await drive(clock, call).catch((e: unknown) => e)) as RetryError;
    // Delays would be 1000 then 2000: the second would end at 3000, past 2500, so stop at 1000.
    expect(calls.map((c) => c.at)).toEqual([0, 1_000]);
    expect(clock.now()).toBe(1_000);
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(2);
    expect(error.reason).toBe('deadline');
    expect(error.message).toMatch(/a retry in 2000 ms would start at or after deadlineMs 2500/);
  });

  it('cuts an attempt still running when the deadline passes', async () => {
    let seen: AbortSignal | undefined;
    const call = retry(
      ({ signal }) => {
        seen = signal;
        return new Promise<never>(() => {});
      },
      { clock, deadlineMs: 1_000 },
    );
    const error = (await drive(clock, call).catch((e: unknown) => e)) as RetryError;
    expect(clock.now()).toBe(1_000);
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(1);
    expect(error.errors[0]).toBeInstanceOf(AttemptTimeoutError);
    expect((error.errors[0] as AttemptTimeoutError).option).toBe('deadlineMs');
    expect(error.message).toMatch(/deadline of 1000 ms \(deadlineMs\) passed during attempt 1/);
    expect(seen?.aborted).toBe(true);
  });

  it('times out a hung attempt with attemptTimeoutMs and retries it', async () => {
    const signals: AbortSignal[] = [];
    const events: RetryEvent[] = [];
    const call = retry(
      ({ attempt, signal }) => {
        signals.push(signal);
        return attempt === 1 ? new Promise<string>(() => {}) : 'second';
      },
      { clock, attemptTimeoutMs: 500, random: () => 0, onRetry: (e) => void events.push(e) },
    );
    await expect(drive(clock, call)).resolves.toBe('second');
    expect(clock.now()).toBe(500);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(AttemptTimeoutError);
    expect(String(signals[0]!.reason.message)).toBe('Attempt 1 timed out after 500 ms (attemptTimeoutMs)');
    expect(signals[1]!.aborted).toBe(false);
    expect(events[0]!.reason).toBe('timeout');
  });

  it('rejects at once with the reason when the caller aborts during a wait', async () => {
    const controller = new AbortController();
    const { fn, calls } = failing([httpError(500), httpError(500)], 'ok');
    const call = retry(fn, { clock, signal: controller.signal, random: () => 0.9, fallback: 'not used' });
    await clock.advance(100);
    expect(clock.pendingTimers).toBe(1);
    const reason = new Error('user cancelled');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(clock.now()).toBe(100);
    expect(calls).toHaveLength(1);
  });

  it('aborts the attempt in flight and rejects with the reason', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const call = retry(
      ({ signal }) => {
        seen = signal;
        return new Promise<never>(() => {});
      },
      { clock, signal: controller.signal, attemptTimeoutMs: 10_000 },
    );
    await clock.flush();
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(controller.signal.reason);
  });

  it('never calls fn when the signal is already aborted', async () => {
    let called = false;
    const reason = new Error('before');
    await expect(
      retry(
        () => {
          called = true;
        },
        { clock, signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(called).toBe(false);
  });

  it('does not wait for an attempt that ignores its signal, and swallows its late rejection', async () => {
    let rejectLate: (e: unknown) => void = () => {};
    const call = retry(
      ({ attempt }) =>
        attempt === 1
          ? new Promise<string>((_, reject) => {
              rejectLate = reject;
            })
          : 'ok',
      { clock, attemptTimeoutMs: 100, random: () => 0 },
    );
    await expect(drive(clock, call)).resolves.toBe('ok');
    rejectLate(new Error('too late'));
    await clock.flush();
  });
});

describe('retry: shouldRetry, onRetry and fallback', () => {
  it('lets shouldRetry override the default both ways, with context', async () => {
    const contexts: unknown[] = [];
    const { fn, calls } = failing([httpError(400), httpError(500)], 'ok');
    const call = retry(fn, {
      clock,
      random: () => 0,
      shouldRetry: (_error, ctx) => {
        contexts.push({ attempt: ctx.attempt, reason: ctx.classification.reason, elapsedMs: ctx.elapsedMs });
        return ctx.attempt === 1 ? true : undefined;
      },
    });
    await expect(drive(clock, call)).resolves.toBe('ok');
    expect(calls).toHaveLength(3);
    expect(contexts).toEqual([
      { attempt: 1, reason: 'http-error', elapsedMs: 0 },
      { attempt: 2, reason: 'server-error', elapsedMs: 0 },
    ]);

    const never = failing([httpError(503)], 'ok');
    await expect(retry(never.fn, { clock, shouldRetry: () => false })).rejects.toThrow(
      /not retried \(shouldRetry returned false\)/,
    );
    await expect(retry(never.fn, { clock, shouldRetry: () => 'yes' as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('awaits onRetry, and a throwing onRetry rejects the call with its error', async () => {
    const { fn } = failing([httpError(500)], 'ok');
    const boom = new Error('onRetry failed');
    await expect(
      retry(fn, {
        clock,
        onRetry: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });

  it('resolves with a fallback value, or a fallback function given the RetryError', async () => {
    const always = (): never => {
      throw httpError(500);
    };
    await expect(drive(clock, retry(always, { clock, maxAttempts: 2, fallback: 'cached' }))).resolves.toBe('cached');
    let got: RetryError | undefined;
    const value = await drive(
      clock,
      retry(always, {
        clock,
        maxAttempts: 2,
        fallback: async (error) => {
          got = error;
          return `fallback after ${error.attempts}`;
        },
      }),
    );
    expect(value).toBe('fallback after 2');
    expect(got).toBeInstanceOf(RetryError);
    // A non-retryable failure falls back too.
    await expect(retry(() => Promise.reject(httpError(401)), { clock, fallback: null })).resolves.toBeNull();
  });
});

describe('retry: budget', () => {
  it('stops retrying when the shared budget runs dry, and successes refill it', async () => {
    const budget = new RetryBudget({ capacity: 10, retryCost: 5 });
    const always = (): never => {
      throw httpError(500);
    };
    const error = (await drive(clock, retry(always, { clock, budget, maxAttempts: 10, random: () => 0 })).catch(
      (e: unknown) => e,
    )) as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error.attempts).toBe(3);
    expect(error.reason).toBe('budget');
    expect(error.message).toMatch(/retry budget is exhausted \(0 left, a retry costs 5\)/);
    expect(budget.available).toBe(0);
    // Later calls fail at their first error instead of adding load.
    const next = (await retry(always, { clock, budget }).catch((e: unknown) => e)) as RetryError;
    expect(next.attempts).toBe(1);
    await retry(() => 'ok', { clock, budget });
    expect(budget.available).toBe(1);
  });

  it('charges timeouts and connection failures more, and refunds the last retry on success', async () => {
    const budget = new RetryBudget();
    expect(budget.available).toBe(500);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { fn } = failing([reset], 'ok');
    const call = retry(fn, {
      clock,
      budget,
      random: () => 0,
      onRetry: () => {
        expect(budget.available).toBe(490);
      },
    });
    await drive(clock, call);
    expect(budget.available).toBe(500);
    expect(() => new RetryBudget({ capacity: -1 })).toThrow(/capacity/);
    expect(() => new RetryBudget({ size: 1 } as never)).toThrow(/Unknown option `size`/);
  });
});

describe('retry: with a limiter', () => {
  it('takes a lease per attempt, hands it to fn and releases it', async () => {
    const limiter = new FakeLimiter();
    const leases: unknown[] = [];
    const call = retry(
      ({ attempt, lease }) => {
        leases.push(lease);
        if (attempt === 1) throw httpError(500);
        return 'ok';
      },
      { clock, limiter, acquire: { tokens: 100, priority: 2 }, random: () => 0 },
    );
    await expect(drive(clock, call)).resolves.toBe('ok');
    expect(limiter.leases).toHaveLength(2);
    expect(leases).toEqual(limiter.leases);
    expect(limiter.leases.map((l) => [l.released, l.cancelled])).toEqual([
      [1, 0],
      [1, 0],
    ]);
    expect(limiter.acquires[0]).toMatchObject({ tokens: 100, priority: 2 });
    expect(limiter.acquires[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(limiter.retryEvents).toEqual([{ attempt: 1, delayMs: 0, error: expect.any(Error), reason: 'server-error' }]);
    expect(limiter.pauses).toEqual([]);
  });

  it('pauses the limiter for everyone on a 429: for the named delay, or else the documented 1 s', async () => {
    const limiter = new FakeLimiter();
    const events: RetryEvent[] = [];
    const { fn } = failing([httpError(429, { 'retry-after': '2' }), httpError(429), httpError(529)], 'ok');
    await drive(clock, retry(fn, { clock, limiter, random: () => 0.9, onRetry: (e) => void events.push(e) }));
    // The call itself backs off as usual; everyone else waits the one default, not its backoff.
    expect(limiter.pauses).toEqual([2_000, DEFAULT_RATE_LIMIT_PAUSE_MS]);
    expect(events[1]!.delayMs).toBe(1_800);
    expect(limiter.rateLimitedEvents).toEqual([
      { status: 429, retryAfterMs: 2_000, pauseMs: 2_000 },
      { status: 429, retryAfterMs: undefined, pauseMs: 1_000 },
    ]);
    // Overload (529) backs off this call only.
    expect(events[2]!.reason).toBe('overloaded');
    expect(limiter.retryEvents).toEqual(events);
  });

  it('caps the pause at maxRetryAfterMs when the named delay is too long, and does not pause on quota errors', async () => {
    const limiter = new FakeLimiter();
    await expect(
      retry(() => Promise.reject(httpError(429, { 'retry-after': '3600' })), { clock, limiter }),
    ).rejects.toBeInstanceOf(RetryError);
    expect(limiter.pauses).toEqual([60_000]);
    const quota = httpError(429, {}, { message: 'You exceeded your current quota', code: 'insufficient_quota' });
    await expect(retry(() => Promise.reject(quota), { clock, limiter })).rejects.toThrow(/insufficient-quota/);
    expect(limiter.pauses).toEqual([60_000]);
  });

  it("passes the limiter's own errors through, and an abort while queued rejects with the reason", async () => {
    const limiter = new FakeLimiter();
    limiter.acquireError = new QueueFullError(5);
    await expect(retry(() => 'x', { clock, limiter })).rejects.toBeInstanceOf(QueueFullError);
    limiter.acquireError = undefined;
    const reason = new Error('stop');
    await expect(retry(() => 'x', { clock, limiter, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('retry: options', () => {
  it('rejects unknown keys and bad values, naming them', async () => {
    await expect(retry(() => 1, { maxAttempt: 3 } as never)).rejects.toThrow(
      /Unknown option `maxAttempt` in retry options/,
    );
    await expect(retry(() => 1, { maxAttempts: 0 })).rejects.toThrow(
      'Expected `maxAttempts` to be a positive integer, got `0` (number)',
    );
    await expect(retry(() => 1, { baseDelayMs: -5 })).rejects.toThrow(/`baseDelayMs`.*`-5`/);
    await expect(retry(() => 1, { maxDelayMs: 1e12 })).rejects.toThrow(/`maxDelayMs` to be at most 2147483647/);
    await expect(retry(() => 1, { attemptTimeoutMs: 0 })).rejects.toThrow(/`attemptTimeoutMs`/);
    await expect(retry(() => 1, { signal: {} as AbortSignal })).rejects.toThrow(/`signal` to be an AbortSignal/);
    await expect(retry(() => 1, { limiter: {} as never })).rejects.toThrow(/`limiter.acquire` to be a function/);
    await expect(retry(() => 1, { acquire: { signal: new AbortController().signal } as never })).rejects.toThrow(
      /acquire.signal/,
    );
    await expect(retry('nope' as never)).rejects.toThrow(/`fn` to be a function/);
  });
});
