import { describe, expect, it, vi } from 'vitest';
import { Limiter, RetryError, parseRateLimitHeaders, type RateLimitSnapshot } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

const snapshot = (fields: Omit<RateLimitSnapshot, 'provider'>): RateLimitSnapshot => ({ provider: 'openai', ...fields });

describe('observe: adopting announced limits', () => {
  it('adopts limits for kinds the user did not set, and follows changes', () => {
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, clock: new FakeClock() });
    limiter.observe(
      parseRateLimitHeaders(
        {
          'x-ratelimit-limit-requests': '500',
          'x-ratelimit-limit-tokens': '30000',
          'x-ratelimit-remaining-requests': '499',
          'x-ratelimit-remaining-tokens': '29000',
          'x-ratelimit-reset-requests': '120ms',
          'x-ratelimit-reset-tokens': '2s',
        },
        'openai',
      ),
    );
    // The user's request window stays; the token budget the server announced is adopted.
    expect(limiter.limits.requests).toEqual([{ limit: 10, windowMs: 1_000 }]);
    expect(limiter.limits.tokens).toEqual([{ limit: 30_000, windowMs: 60_000 }]);
    limiter.observe(snapshot({ tokens: { limit: 60_000, windowMs: 60_000 } }));
    expect(limiter.limits.tokens).toEqual([{ limit: 60_000, windowMs: 60_000 }]);
  });

  it("limits: 'auto' sends one request at a time until the first response tells the limits", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ limits: 'auto', clock });
    const first = await limiter.acquire();
    let second = false;
    const next = limiter.acquire().then(() => (second = true));
    await clock.flush();
    expect(second).toBe(false);
    limiter.observe(snapshot({ requests: { limit: 3, remaining: 2, windowMs: 60_000 } }));
    await next;
    expect(limiter.limits.requests).toEqual([{ limit: 3, windowMs: 60_000 }]);
    expect(limiter.tryAcquire()).toBeDefined();
    // Three starts in the minute now: the adopted window holds.
    expect(limiter.tryAcquire()).toBeUndefined();
    first.release();
  });

  it('a waiter the adopted limits can never hold is rejected with CapacityError', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ limits: 'auto', clock });
    await limiter.acquire({ tokens: 10 });
    const big = limiter.acquire({ tokens: 50_000 });
    limiter.observe(snapshot({ tokens: { limit: 30_000, windowMs: 60_000 } }));
    await expect(big).rejects.toMatchObject({ name: 'CapacityError', limit: 30_000 });
  });
});

describe('observe: tightening when others share the quota', () => {
  it('counts what the server says is used by others, until the server is back to full', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 60_000 }, clock });
    const tightened = vi.fn();
    limiter.on('tightened', tightened);
    const lease = await limiter.acquire();
    // We started 1 of 10; the server says 4 remain: 5 starts are someone else's.
    limiter.observe(snapshot({ requests: { limit: 10, remaining: 4, resetMs: 30_000, windowMs: 60_000 } }), {
      since: lease.acquiredAt,
    });
    expect(tightened).toHaveBeenCalledWith({ kind: 'requests', amount: 5, remaining: 4 });
    expect(limiter.stats().requests[0]).toMatchObject({ used: 6, remaining: 4 });
    for (let i = 0; i < 4; i++) expect(limiter.tryAcquire()).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    // Others' usage is forgotten when the server said it would be back to full (30 s), ours at 60 s.
    let at = -1;
    const waiting = limiter.acquire().then(() => (at = clock.now()));
    await clock.advance(30_000);
    await waiting;
    expect(at).toBe(30_000);
  });

  it('does not take our own requests that the server had not seen yet for someone else', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 60_000 }, clock });
    const lease = await limiter.acquire();
    await limiter.acquire();
    await limiter.acquire();
    // The server answered the first request before the other two arrived: it saw 1 of 10 used.
    limiter.observe(snapshot({ requests: { limit: 10, remaining: 9, resetMs: 6_000 } }), { since: lease.acquiredAt });
    expect(limiter.stats().requests[0]?.used).toBe(3);
  });

  it('tightens token budgets the same way, and leaves a limiter with room alone', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 60_000 }, clock });
    await limiter.acquire({ tokens: 100 });
    limiter.observe(snapshot({ tokens: { limit: 1_000, remaining: 950, resetMs: 1_000 } }));
    expect(limiter.stats().tokens[0]?.used).toBe(100);
    limiter.observe(snapshot({ tokens: { limit: 1_000, remaining: 500, resetMs: 1_000 } }));
    expect(limiter.stats().tokens[0]?.used).toBe(500);
    expect(limiter.tryAcquire({ tokens: 501 })).toBeUndefined();
    await clock.advance(1_000);
    expect(limiter.tryAcquire({ tokens: 501 })).toBeDefined();
  });

  it('rejects a snapshot that is not an object', () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    expect(() => limiter.observe(null as never)).toThrow(/`snapshot`/);
  });
});

describe('restamp: counting a request from when its response arrived', () => {
  it('moves the start (and its tokens) to now', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, tokens: { limit: 100, windowMs: 1_000 }, clock });
    const lease = await limiter.acquire({ tokens: 80 });
    await clock.advance(300);
    lease.reconcile(60, { restamp: true });
    let at = -1;
    const next = limiter.acquire({ tokens: 50 }).then(() => (at = clock.now()));
    await clock.advance(999);
    expect(at).toBe(-1);
    await clock.advance(1);
    await next;
    expect(at).toBe(1_300);
  });

  it('is ignored after cancel', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock });
    const lease = await limiter.acquire();
    lease.cancel();
    lease.restamp();
    expect(limiter.stats().requests[0]?.used).toBe(0);
  });
});

describe('run with retry', () => {
  it('retries failed attempts, each with its own lease', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 60_000 }, clock });
    const leases = new Set<unknown>();
    let calls = 0;
    const result = limiter.run(
      (lease, { attempt }) => {
        leases.add(lease);
        calls++;
        if (attempt < 3) throw Object.assign(new Error('server error'), { status: 500 });
        return 'ok';
      },
      { retry: { clock, random: () => 0.5 } },
    );
    while (calls < 3) await clock.next();
    await expect(result).resolves.toBe('ok');
    expect(leases.size).toBe(3);
    expect(limiter.stats()).toMatchObject({ inFlight: 0 });
    expect(limiter.stats().requests[0]?.used).toBe(3);
  });

  it('gives the fallback instead of throwing', async () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    const value = await limiter.run(
      () => {
        throw Object.assign(new Error('bad request'), { status: 400 });
      },
      { retry: { fallback: null } },
    );
    expect(value).toBeNull();
    await expect(
      limiter.run(
        () => {
          throw Object.assign(new Error('bad request'), { status: 400 });
        },
        { retry: {} },
      ),
    ).rejects.toBeInstanceOf(RetryError);
  });
});
