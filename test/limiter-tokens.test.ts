import { describe, expect, it } from 'vitest';
import { CapacityError, Limiter, TokenBudgetLimiter } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

describe('token budgets', () => {
  it('reserves at start and waits until enough of the budget has left the window', async () => {
    const clock = new FakeClock();
    const limiter = new TokenBudgetLimiter({ limit: 1_000, windowMs: 60_000, clock });
    await limiter.acquire(600);
    await clock.advance(10_000);
    await limiter.acquire(300);
    let at = -1;
    const third = limiter.acquire(500).then(() => (at = clock.now()));
    await clock.advance(49_999);
    expect(at).toBe(-1);
    await clock.advance(1);
    await third;
    // 600 left at 60 s, which makes room for 500 (300 + 500 <= 1000).
    expect(at).toBe(60_000);
    expect(limiter.stats().tokens[0]).toMatchObject({ used: 800, limit: 1_000 });
  });

  it('reconcile refunds an over-estimate at once and wakes a waiter', async () => {
    const clock = new FakeClock();
    const limiter = new TokenBudgetLimiter({ limit: 1_000, windowMs: 60_000, clock });
    const lease = await limiter.acquire(900);
    let admitted = false;
    const waiter = limiter.acquire(500).then(() => (admitted = true));
    await clock.advance(1_000);
    expect(admitted).toBe(false);
    lease.reconcile(200);
    await clock.flush();
    await waiter;
    expect(admitted).toBe(true);
    expect(limiter.stats().tokens[0]?.used).toBe(700);
  });

  it('reconcile charges extra usage, and the charge leaves with the original start time', async () => {
    const clock = new FakeClock();
    const limiter = new TokenBudgetLimiter({ limit: 1_000, windowMs: 1_000, clock });
    const lease = await limiter.acquire(100);
    await clock.advance(500);
    lease.reconcile(950);
    expect(limiter.stats().tokens[0]?.used).toBe(950);
    let at = -1;
    const next = limiter.acquire(100).then(() => (at = clock.now()));
    await clock.advance(500);
    await next;
    expect(at).toBe(1_000);
  });

  it('reconcile twice replaces, never refunds twice; ignored after cancel', async () => {
    const clock = new FakeClock();
    const limiter = new TokenBudgetLimiter({ limit: 1_000, windowMs: 1_000, clock });
    const lease = await limiter.acquire(500);
    lease.reconcile(100);
    lease.reconcile(100);
    expect(limiter.stats().tokens[0]?.used).toBe(100);
    lease.reconcile(300);
    expect(limiter.stats().tokens[0]?.used).toBe(300);
    expect(lease.tokens).toEqual({ input: 300, output: 0 });
    lease.cancel();
    lease.reconcile(700);
    expect(limiter.stats().tokens[0]?.used).toBe(0);
  });

  it('cancel gives back the request slot and the tokens, once', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      requests: { limit: 2, windowMs: 1_000 },
      tokens: { limit: 100, windowMs: 1_000 },
      clock,
    });
    const a = await limiter.acquire({ tokens: 60 });
    await limiter.acquire({ tokens: 10 });
    expect(limiter.tryAcquire()).toBeUndefined();
    a.cancel();
    a.cancel();
    expect(limiter.stats().requests[0]?.used).toBe(1);
    expect(limiter.stats().tokens[0]?.used).toBe(10);
    expect(a.released).toBe(true);
    expect(limiter.stats().inFlight).toBe(1);
    expect(limiter.tryAcquire({ tokens: 90 })).toBeDefined();
  });

  it('charges input and output budgets apart and the tokens budget their sum', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      tokens: { limit: 1_000, windowMs: 1_000 },
      inputTokens: { limit: 500, windowMs: 1_000 },
      outputTokens: { limit: 600, windowMs: 1_000 },
      clock,
    });
    const lease = await limiter.acquire({ tokens: { input: 400, output: 300 } });
    let stats = limiter.stats();
    expect(stats.tokens[0]?.used).toBe(700);
    expect(stats.inputTokens[0]?.used).toBe(400);
    expect(stats.outputTokens[0]?.used).toBe(300);
    // The input budget blocks this one even though the output and total budgets would allow it.
    expect(limiter.tryAcquire({ tokens: { input: 200 } })).toBeUndefined();
    expect(limiter.tryAcquire({ tokens: { output: 250 } })).toBeDefined();
    lease.reconcile({ input: 350, output: 20 });
    stats = limiter.stats();
    expect(stats.inputTokens[0]?.used).toBe(350);
    expect(stats.outputTokens[0]?.used).toBe(270);
    expect(stats.tokens[0]?.used).toBe(620);
    // A plain number is input tokens.
    expect(limiter.tryAcquire({ tokens: 150 })).toBeDefined();
    expect(limiter.stats().inputTokens[0]?.used).toBe(500);
  });

  it('rejects a cost larger than a budget at once with CapacityError, charging nothing', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      requests: { limit: 5, windowMs: 1_000 },
      tokens: { limit: 1_000, windowMs: 1_000 },
      outputTokens: { limit: 100, windowMs: 1_000 },
      clock,
    });
    await expect(limiter.acquire({ tokens: 1_001 })).rejects.toMatchObject({
      name: 'CapacityError',
      budget: 'tokens',
      requested: 1_001,
      limit: 1_000,
    });
    await expect(limiter.acquire({ tokens: { output: 101 } })).rejects.toBeInstanceOf(CapacityError);
    expect(() => limiter.tryAcquire({ tokens: 5_000 })).toThrow(CapacityError);
    const stats = limiter.stats();
    expect(stats.requests[0]?.used).toBe(0);
    expect(stats.tokens[0]?.used).toBe(0);
    expect(stats.queued).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a large cost at the head is not overtaken by smaller ones', async () => {
    const clock = new FakeClock();
    const limiter = new TokenBudgetLimiter({ limit: 1_000, windowMs: 1_000, clock });
    await limiter.acquire(600);
    const order: string[] = [];
    const big = limiter.acquire(900).then(() => order.push(`big@${clock.now()}`));
    const small = limiter.acquire(50).then(() => order.push(`small@${clock.now()}`));
    await clock.advance(500);
    expect(order).toEqual([]);
    expect(limiter.tryAcquire(10)).toBeUndefined();
    await clock.advance(500);
    await Promise.all([big, small]);
    expect(order).toEqual(['big@1000', 'small@1000']);
  });
});
