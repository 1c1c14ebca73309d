import { describe, expect, it } from 'vitest';
import { Limiter, SlidingWindowLimiter, TokenBudgetLimiter } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

describe('bad options throw at once, naming the option and the value', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    [
      'negative windowMs',
      { requests: { limit: 5, windowMs: -5 } },
      /`requests.windowMs`.*positive finite number.*`-5` \(number\)/,
    ],
    ['zero windowMs', { requests: { limit: 5, windowMs: 0 } }, /`requests.windowMs`.*`0` \(number\)/],
    ['NaN limit', { requests: { limit: Number.NaN, windowMs: 1_000 } }, /`requests.limit`.*`NaN`/],
    ['Infinity limit', { tokens: { limit: Number.POSITIVE_INFINITY, windowMs: 1_000 } }, /`tokens.limit`.*`Infinity`/],
    ['string limit', { requests: { limit: '5', windowMs: 1_000 } }, /`requests.limit`.*`"5"` \(string\)/],
    [
      'fractional request limit',
      { requests: { limit: 2.5, windowMs: 1_000 } },
      /`requests.limit`.*positive integer.*`2.5`/,
    ],
    [
      'second window bad',
      {
        requests: [
          { limit: 5, windowMs: 1_000 },
          { limit: 0, windowMs: 1_000 },
        ],
      },
      /`requests\[1\].limit`/,
    ],
    ['empty array', { requests: [] }, /`requests`.*at least one window/],
    ['unknown window key', { requests: { limit: 5, windowMs: 1_000, burst: 2 } }, /Unknown option `burst`/],
    ['zero concurrency', { concurrency: 0 }, /`concurrency`.*positive integer.*`0`/],
    ['fractional concurrency', { concurrency: 1.5 }, /`concurrency`.*`1.5`/],
    ['negative maxQueue', { maxQueue: -1 }, /`maxQueue`.*`-1`/],
    ['infinite maxQueue', { maxQueue: Number.POSITIVE_INFINITY }, /`maxQueue`.*`Infinity`/],
    ['negative marginMs', { marginMs: -1 }, /`marginMs`.*`-1`/],
    ['string marginMs', { marginMs: '10' }, /`marginMs`.*`"10"` \(string\)/],
    ['unknown key', { request: { limit: 5, windowMs: 1_000 } }, /Unknown option `request`/],
    ['clock without timers', { clock: { now: () => 0 } }, /`clock.setTimeout`.*function/],
  ];
  for (const [label, options, message] of bad) {
    it(label, () => {
      expect(() => new Limiter(options as never)).toThrow(message);
    });
  }

  it('SlidingWindowLimiter and TokenBudgetLimiter check theirs too', () => {
    expect(() => SlidingWindowLimiter.perSecond(0)).toThrow(/`requests.limit`/);
    expect(() => new TokenBudgetLimiter({ limit: 100, windowMs: Number.NaN })).toThrow(/`tokens.windowMs`/);
    expect(() => new SlidingWindowLimiter({ limit: 1, windowMs: 10, tokens: 5 } as never)).toThrow(
      /Unknown option `tokens`/,
    );
  });

  it('updateLimits checks the same way and changes nothing on error', () => {
    const limiter = new Limiter({ requests: { limit: 5, windowMs: 1_000 }, clock: new FakeClock() });
    expect(() => limiter.updateLimits({ requests: { limit: -1, windowMs: 1_000 } })).toThrow(/`requests.limit`/);
    expect(() => limiter.updateLimits({ clock: new FakeClock() } as never)).toThrow(/Unknown option `clock`/);
    expect(limiter.limits.requests).toEqual([{ limit: 5, windowMs: 1_000 }]);
  });

  it('pause rejects a bad duration', () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    expect(() => limiter.pause(Number.NaN)).toThrow(/`ms`/);
    expect(() => limiter.pause(-5)).toThrow(/`ms`.*`-5`/);
  });
});

describe('bad acquire options reject at once and charge nothing', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['negative tokens', { tokens: -1 }, /`tokens`.*`-1`/],
    ['NaN tokens', { tokens: Number.NaN }, /`tokens`.*`NaN`/],
    ['infinite tokens', { tokens: Number.POSITIVE_INFINITY }, /`tokens`.*`Infinity`/],
    ['bad input tokens', { tokens: { input: -3 } }, /`tokens.input`.*`-3`/],
    ['unknown token key', { tokens: { prompt: 3 } }, /Unknown option `prompt`/],
    ['string priority', { priority: 'high' }, /`priority`.*`"high"`/],
    ['negative timeout', { timeoutMs: -1 }, /`timeoutMs`.*`-1`/],
    ['signal not a signal', { signal: {} }, /`signal`.*AbortSignal/],
    ['unknown key', { token: 5 }, /Unknown option `token`/],
  ];
  for (const [label, options, message] of bad) {
    it(label, async () => {
      const clock = new FakeClock();
      const limiter = new Limiter({
        requests: { limit: 5, windowMs: 1_000 },
        tokens: { limit: 100, windowMs: 1_000 },
        clock,
      });
      await expect(limiter.acquire(options as never)).rejects.toThrow(message);
      expect(() => limiter.tryAcquire(options as never)).toThrow();
      const stats = limiter.stats();
      expect(stats.requests[0]?.used).toBe(0);
      expect(stats.tokens[0]?.used).toBe(0);
      expect(stats.queued).toBe(0);
      expect(clock.pendingTimers).toBe(0);
    });
  }
});

describe('bad lease input', () => {
  it('reconcile with a bad number throws TypeError and keeps the charge', async () => {
    const limiter = new TokenBudgetLimiter({ limit: 100, windowMs: 1_000, clock: new FakeClock() });
    const lease = await limiter.acquire(40);
    for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5', { input: -2 }]) {
      expect(() => lease.reconcile(value as never)).toThrow(TypeError);
    }
    expect(limiter.stats().tokens[0]?.used).toBe(40);
  });
});
