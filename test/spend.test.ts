import { describe, expect, it } from 'vitest';
import { CapacityError, Limiter } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

const DAY = 86_400_000;

describe('spend budgets', () => {
  it('reserve at the estimate, reconcile to the real cost; a spent budget holds callers until it frees', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ spend: { limit: 10, windowMs: DAY }, clock });
    const a = await limiter.acquire({ spend: 4 });
    await limiter.acquire({ tokens: 100, spend: 4 });
    expect(limiter.stats().spend).toEqual([{ limit: 10, windowMs: DAY, used: 8, remaining: 2 }]);
    let third = false;
    const waiting = limiter.acquire({ spend: 4 }).then(() => {
      third = true;
    });
    await clock.flush();
    expect(third).toBe(false);
    expect(limiter.diagnose().head?.blockedBy).toMatchObject([{ type: 'window', kind: 'spend', used: 8, needs: 4 }]);
    // It cost less than reserved: the refund lets the third start.
    a.reconcile({ input: 10, output: 5 }, { spend: 1.5 });
    await waiting;
    expect(third).toBe(true);
    expect(limiter.stats().spend[0]?.used).toBeCloseTo(9.5, 10);
  });

  it('a reconcile of tokens alone keeps the spend reserved', async () => {
    const limiter = new Limiter({ spend: { limit: 10, windowMs: DAY }, clock: new FakeClock() });
    const lease = await limiter.acquire({ tokens: 50, spend: 3 });
    lease.reconcile(20);
    expect(lease.tokens).toEqual({ input: 20, output: 0, spend: 3 });
    expect(limiter.stats().spend[0]?.used).toBe(3);
  });

  it('a request that could never fit fails at once with CapacityError, charging nothing', async () => {
    const limiter = new Limiter({
      spend: [
        { limit: 1, windowMs: 60_000 },
        { limit: 10, windowMs: DAY },
      ],
    });
    await expect(limiter.acquire({ spend: 1.01 })).rejects.toThrow(CapacityError);
    await expect(limiter.acquire({ spend: 1.01 })).rejects.toMatchObject({
      budget: 'spend',
      requested: 1.01,
      limit: 1,
    });
    expect(() => limiter.assertCanFit(0, 2)).toThrow(/A cost of 2 spend can never fit: the spend limit is 1/);
    expect(limiter.stats().spend.map((w) => w.used)).toEqual([0, 0]);
  });

  it('bad spend values are refused at once, naming the option', async () => {
    expect(() => new Limiter({ spend: { limit: -1, windowMs: DAY } })).toThrow(/spend\.limit/);
    expect(() => new Limiter({ spend: { limit: 10, windowMs: Number.POSITIVE_INFINITY } })).toThrow(/spend\.windowMs/);
    const limiter = new Limiter({ spend: { limit: 10, windowMs: DAY } });
    await expect(limiter.acquire({ spend: Number.NaN })).rejects.toThrow(/`spend`/);
    await expect(limiter.acquire({ spend: -2 })).rejects.toThrow(/`spend`/);
    const lease = await limiter.acquire({ spend: 1 });
    expect(() => lease.reconcile(0, { spend: Number.POSITIVE_INFINITY })).toThrow(/`spend`/);
    expect(() => limiter.tryAcquire({ spend: -1 })).toThrow(/`spend`/);
    expect(limiter.stats().spend[0]?.used).toBe(1);
  });

  it('a daily spend budget is kept in buckets: constant cost, and never under the exact sum', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ spend: { limit: 100, windowMs: DAY }, clock });
    for (let i = 0; i < 50; i++) {
      (await limiter.acquire({ spend: 1 })).reconcile(0, { spend: 0.5 });
      await clock.advance(60_000);
    }
    expect(limiter.stats().spend[0]?.used).toBeCloseTo(25, 10);
    await clock.advance(DAY);
    expect(limiter.stats().spend[0]?.used).toBe(0);
  });
});

describe('long windows across new limits', () => {
  it('a request in flight when the limits change is still reconciled in a day-long window (tokens and spend)', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      tokens: { limit: 10_000, windowMs: DAY },
      spend: { limit: 10, windowMs: DAY },
      clock,
    });
    const lease = await limiter.acquire({ tokens: { input: 100, output: 1_000 }, spend: 2 });
    // As when a response's headers announce a limit: the store is configured anew.
    limiter.updateLimits({ requests: { limit: 50, windowMs: 60_000 }, tokens: { limit: 20_000, windowMs: DAY } });
    lease.reconcile({ input: 100, output: 50 }, { spend: 0.25 });
    expect(limiter.stats().tokens[0]).toMatchObject({ limit: 20_000, used: 150 });
    expect(limiter.stats().spend[0]?.used).toBe(0.25);
  });
});
