import { describe, expect, it } from 'vitest';
import { type ConcurrencyChangedEvent, type Lease, Limiter, type PaceChangedEvent } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

/** Lets queued admissions settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function adaptive(clock: FakeClock, bounds: { max: number; min?: number; initial?: number }) {
  const limiter = new Limiter({ concurrency: { adaptive: true, ...bounds }, clock });
  const changes: ConcurrencyChangedEvent[] = [];
  limiter.on('concurrencyChanged', (event) => changes.push(event));
  return { limiter, changes };
}

describe('adaptive concurrency: bad bounds', () => {
  it.each([
    [{ adaptive: true, max: 0 }, /concurrency\.max.*positive integer.*0/],
    [{ adaptive: true, max: 4, min: 5 }, /concurrency\.min.*\(5\).*at most.*concurrency\.max.*\(4\)/],
    [{ adaptive: true, max: 4, initial: 9 }, /concurrency\.initial.*between min 1 and max 4, got 9/],
    [{ adaptive: false, max: 4 }, /concurrency\.adaptive.*true, got `false`/],
    [{ adaptive: true, max: 4, step: 2 }, /step/],
    [{ adaptive: true }, /concurrency\.max/],
  ])('rejects %j at once, naming the field', (concurrency, message) => {
    expect(() => new Limiter({ concurrency: concurrency as never })).toThrow(message);
    const limiter = new Limiter();
    expect(() => limiter.updateLimits({ concurrency: concurrency as never })).toThrow(message);
    expect(limiter.stats().concurrency).toBeUndefined();
  });
});

describe('adaptive concurrency', () => {
  it('starts at initial, holds callers beyond the cap, and shows the cap in stats and limits', async () => {
    const clock = new FakeClock();
    const { limiter } = adaptive(clock, { max: 10, initial: 2 });
    expect(limiter.stats().concurrency).toBe(2);
    expect(limiter.limits.concurrency).toEqual({ adaptive: true, max: 10, min: 1, initial: 2 });
    const a = await limiter.acquire();
    await limiter.acquire();
    let third: Lease | undefined;
    void limiter.acquire().then((lease) => {
      third = lease;
    });
    await settle();
    expect(third).toBeUndefined();
    expect(limiter.stats().queued).toBe(1);
    a.release();
    await settle();
    expect(third).toBeDefined();
  });

  it('grows while requests succeed at the cap, by a slot each until the first overload', async () => {
    const clock = new FakeClock();
    const { limiter, changes } = adaptive(clock, { max: 4, initial: 1 });
    // Always someone waiting: every success is at the cap.
    const held: Lease[] = [];
    const take = () => limiter.acquire().then((lease) => held.push(lease));
    const pending = Array.from({ length: 30 }, take);
    await settle();
    for (let i = 0; i < 12; i++) {
      held.shift()?.release();
      await settle();
    }
    expect(changes.map((c) => c.concurrency)).toEqual([2, 3, 4]);
    expect(changes.every((c) => c.reason === 'succeeded')).toBe(true);
    // Never above max.
    expect(limiter.stats().concurrency).toBe(4);
    expect(limiter.stats().inFlight).toBe(4);
    await limiter.close();
    await Promise.allSettled(pending);
  });

  it('does not grow when the cap was not reached: a cap never tried is not known to work', async () => {
    const clock = new FakeClock();
    const { limiter, changes } = adaptive(clock, { max: 8, initial: 4 });
    for (let i = 0; i < 20; i++) (await limiter.acquire()).release();
    expect(changes).toEqual([]);
    expect(limiter.stats().concurrency).toBe(4);
  });

  it('cuts by a fifth on an overload, once for every request admitted before the cut, never below min', async () => {
    const clock = new FakeClock();
    const { limiter, changes } = adaptive(clock, { max: 16, min: 4, initial: 8 });
    const leases = await Promise.all(Array.from({ length: 8 }, () => limiter.acquire()));
    await clock.advance(10);
    leases[0]?.overloaded();
    expect(limiter.stats().concurrency).toBe(6);
    // The rest of the burst was admitted before the cut: no further cut.
    for (const lease of leases.slice(1)) lease.overloaded();
    expect(limiter.stats().concurrency).toBe(6);
    for (const lease of leases) lease.release();
    expect(limiter.stats().concurrency).toBe(6);
    await clock.advance(10);
    // Admitted after the cut and still refused: the cut cap is too high too.
    const later = await limiter.acquire();
    await clock.advance(10);
    later.overloaded();
    later.overloaded();
    expect(limiter.stats().concurrency).toBe(5);
    later.release();
    for (let i = 0; i < 2; i++) {
      const again = await limiter.acquire();
      await clock.advance(10);
      again.overloaded();
      again.release();
    }
    // 5.12 * 0.8 = 4.1, then min.
    expect(limiter.stats().concurrency).toBe(4);
    expect(changes.map((c) => [c.previous, c.concurrency, c.reason])).toEqual([
      [8, 6, 'overloaded'],
      [6, 5, 'overloaded'],
      [5, 4, 'overloaded'],
    ]);
  });

  it('after a cut regains quickly up to one below where the server refused, then a slot per four rounds; an overloaded release is no success', async () => {
    const clock = new FakeClock();
    const { limiter } = adaptive(clock, { max: 16, initial: 8 });
    const first = await limiter.acquire();
    await clock.advance(1);
    first.overloaded();
    first.release();
    // 8 * 0.8 = 6.4: the overloaded lease's release did not grow it back.
    expect(limiter.stats().concurrency).toBe(6);
    const held: Lease[] = [];
    const pending = Array.from({ length: 60 }, () => limiter.acquire().then((lease) => held.push(lease)));
    await settle();
    const release = async (count: number) => {
      for (let i = 0; i < count; i++) {
        held.shift()?.release();
        await settle();
      }
    };
    // One success: back to 7 (one below the 8 the server refused).
    await release(1);
    expect(limiter.stats().concurrency).toBe(7);
    // Then 0.25 / cap a success: 30 more to reach 8.
    await release(29);
    expect(limiter.stats().concurrency).toBe(7);
    await release(1);
    expect(limiter.stats().concurrency).toBe(8);
    await limiter.close();
    await Promise.allSettled(pending);
  });

  it('a 429 where no limit is set or learned is an overload signal; with limits it is not', async () => {
    const clock = new FakeClock();
    const { limiter } = adaptive(clock, { max: 8, initial: 8 });
    const lease = await limiter.acquire();
    await clock.advance(5);
    limiter.rateLimited({ admittedAt: lease.acquiredAt });
    expect(limiter.stats().concurrency).toBe(6);

    const limited = new Limiter({
      requests: { limit: 100, windowMs: 60_000 },
      concurrency: { adaptive: true, max: 8, initial: 8 },
      clock,
    });
    const other = await limited.acquire();
    await clock.advance(5);
    limited.rateLimited({ admittedAt: other.acquiredAt });
    expect(limited.stats().concurrency).toBe(8);
    // A spend budget is no rate limit: a 429 there still says the server is full.
    const budgeted = new Limiter({
      spend: { limit: 10, windowMs: 86_400_000 },
      concurrency: { adaptive: true, max: 8, initial: 8 },
      clock,
    });
    const priced = await budgeted.acquire({ spend: 1 });
    await clock.advance(5);
    budgeted.rateLimited({ admittedAt: priced.acquiredAt });
    expect(budgeted.stats().concurrency).toBe(6);
  });

  it('updateLimits moves the bounds and keeps the cap within them; a number makes it fixed again', () => {
    const clock = new FakeClock();
    const { limiter, changes } = adaptive(clock, { max: 10, initial: 8 });
    limiter.updateLimits({ concurrency: { adaptive: true, max: 5 } });
    expect(limiter.stats().concurrency).toBe(5);
    expect(changes).toEqual([{ concurrency: 5, previous: 8, reason: 'limits' }]);
    limiter.updateLimits({ concurrency: 3 });
    expect(limiter.stats().concurrency).toBe(3);
    expect(limiter.limits.concurrency).toBe(3);
    // Other limits changed: the adaptive cap is kept as it was.
    limiter.updateLimits({ concurrency: { adaptive: true, max: 6, initial: 2 } });
    limiter.updateLimits({ requests: { limit: 5, windowMs: 1_000 } });
    expect(limiter.stats().concurrency).toBe(2);
  });
});

describe('the pace after repeated 429s', () => {
  function paced(clock: FakeClock) {
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, clock });
    const changes: PaceChangedEvent[] = [];
    limiter.on('paceChanged', (event) => changes.push(event));
    return { limiter, changes };
  }

  it('a single 429 only pauses; one to a request admitted after it starts spacing admissions', async () => {
    const clock = new FakeClock();
    const { limiter, changes } = paced(clock);
    const burst = await Promise.all(Array.from({ length: 5 }, () => limiter.acquire()));
    await clock.advance(20);
    for (const lease of burst) expect(limiter.rateLimited({ admittedAt: lease.acquiredAt })).toBe(1_000);
    // The rest of one burst says nothing new.
    expect(changes).toEqual([]);
    expect(limiter.stats().paceIntervalMs).toBe(0);
    await clock.advance(1_000);
    const after = await limiter.acquire();
    await clock.advance(20);
    // Refused again after the pause: the limits' own pace is refused. The pause is one interval.
    expect(limiter.rateLimited({ admittedAt: after.acquiredAt })).toBe(125);
    expect(changes).toEqual([{ factor: 0.8, intervalMs: 125, reason: 'rate-limited' }]);
    expect(limiter.stats().paceIntervalMs).toBe(125);
    // A delay the server names is still taken as named.
    expect(limiter.rateLimited({ retryAfterMs: 3_000, admittedAt: after.acquiredAt })).toBe(3_000);
  });

  it('spaces admissions by the interval, for callers queued and for the fast path', async () => {
    const clock = new FakeClock();
    const { limiter } = paced(clock);
    const a = await limiter.acquire();
    await clock.advance(5);
    limiter.rateLimited({ admittedAt: a.acquiredAt });
    await clock.advance(1_000);
    const b = await limiter.acquire();
    await clock.advance(5);
    limiter.rateLimited({ admittedAt: b.acquiredAt });
    await clock.advance(125);
    const starts: number[] = [];
    const all = Array.from({ length: 4 }, () => limiter.acquire().then((lease) => starts.push(lease.acquiredAt)));
    for (let i = 0; i < 8; i++) await clock.advance(100);
    await Promise.all(all);
    expect(starts).toHaveLength(4);
    for (let i = 1; i < starts.length; i++) expect((starts[i] ?? 0) - (starts[i - 1] ?? 0)).toBeGreaterThanOrEqual(125);
    // The fast path too: within the interval, no.
    expect(limiter.tryAcquire()).toBeDefined();
    await clock.advance(100);
    expect(limiter.tryAcquire()).toBeUndefined();
    await clock.advance(25);
    expect(limiter.tryAcquire()).toBeDefined();
  });

  it('further 429s slow it by a fifth each; quiet windows give back 5% up to 95% of the pace refused, then 0.5%; ten quiet windows at full rate end it', async () => {
    const clock = new FakeClock();
    const { limiter, changes } = paced(clock);
    const refuse = async () => {
      const lease = await limiter.acquire();
      await clock.advance(5);
      limiter.rateLimited({ admittedAt: lease.acquiredAt });
      await clock.advance(1_000);
    };
    await refuse();
    await refuse();
    expect(changes.at(-1)).toMatchObject({ factor: 0.8, reason: 'rate-limited' });
    // A quiet window passed meanwhile: recovered once before the next 429.
    await refuse();
    expect(changes.at(-2)?.factor).toBeCloseTo(0.85, 10);
    expect(changes.at(-1)?.factor).toBeCloseTo(0.85 * 0.8, 10);
    expect(changes.at(-1)?.intervalMs).toBeCloseTo(1_000 / (10 * 0.68), 10);
    changes.length = 0;
    // Quiet: each window's first admission sees the recovery.
    for (let i = 0; i < 60 && limiter.stats().paceIntervalMs > 100; i++) {
      (await limiter.acquire()).release();
      await clock.advance(1_000);
    }
    expect(changes.every((c) => c.reason === 'recovered')).toBe(true);
    const factors = changes.map((c) => c.factor);
    // 0.68 -> 0.8075 (95% of the 0.85 refused) by 0.05, then by 0.005 to 1.
    const steps = factors.map((f, i) => f - (i === 0 ? 0.68 : (factors[i - 1] ?? 0)));
    expect(steps.slice(0, 2).map((d) => d.toFixed(4))).toEqual(['0.0500', '0.0500']);
    expect(factors[2]).toBeCloseTo(0.8075, 10);
    expect(steps.slice(3, -1).every((d) => Math.abs(d - 0.005) < 1e-9)).toBe(true);
    expect(factors).toHaveLength(3 + 39);
    expect(factors.at(-1)).toBe(1);
    expect(limiter.stats().paceIntervalMs).toBe(100);
    for (let i = 0; i < 11; i++) {
      (await limiter.acquire()).release();
      await clock.advance(1_000);
    }
    expect(changes.at(-1)).toEqual({ factor: 1, intervalMs: 0, reason: 'recovered' });
    expect(limiter.stats().paceIntervalMs).toBe(0);
  });

  it('a 429 long after the last one, or without its admission time, only pauses', async () => {
    const clock = new FakeClock();
    const { limiter, changes } = paced(clock);
    const a = await limiter.acquire();
    limiter.rateLimited({ admittedAt: a.acquiredAt });
    await clock.advance(5_000);
    const b = await limiter.acquire();
    limiter.rateLimited({ admittedAt: b.acquiredAt });
    await clock.advance(1_000);
    limiter.rateLimited();
    expect(changes).toEqual([]);
    expect(() => limiter.rateLimited({ admittedAt: Number.NaN })).toThrow(/admittedAt/);
  });

  it('a limiter without a request window cannot pace', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 1_000 }, clock });
    for (let i = 0; i < 3; i++) {
      const lease = await limiter.acquire();
      limiter.rateLimited({ admittedAt: lease.acquiredAt });
      await clock.advance(1_000);
    }
    expect(limiter.stats().paceIntervalMs).toBe(0);
  });
});

describe('the slowest pace', () => {
  it('never below a twentieth of the limits rate, however many 429s', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, clock });
    const factors: number[] = [];
    limiter.on('paceChanged', ({ factor }) => factors.push(factor));
    for (let i = 0; i < 30; i++) {
      const lease = await limiter.acquire();
      await clock.advance(1);
      limiter.rateLimited({ admittedAt: lease.acquiredAt });
      await clock.advance(limiter.stats().paceIntervalMs || 1_000);
    }
    expect(Math.min(...factors)).toBe(0.05);
  });
});
