import { describe, expect, it, vi } from 'vitest';
import { Limiter, RetryError, parseRateLimitHeaders, type RateLimitSnapshot } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

const snapshot = (fields: Omit<RateLimitSnapshot, 'provider'>): RateLimitSnapshot => ({
  provider: 'openai',
  ...fields,
});

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

describe('observe: a window the headers do not state is not guessed as a minute', () => {
  const unstated = (provider: RateLimitSnapshot['provider'], requests: RateLimitSnapshot['requests']) =>
    ({ provider, requests }) as RateLimitSnapshot;

  it('is read from the resets: the shortest of 1 s, 10 s, 1 min, 1 h, 1 day that holds the longest one', () => {
    const limiter = new Limiter({ limits: 'auto', clock: new FakeClock() });
    // A sliding window of 60 per 10 s: back to full 9.98 s after our request arrived.
    limiter.observe(unstated('openai-compatible', { limit: 60, remaining: 59, resetMs: 9_980 }));
    expect(limiter.limits.requests).toEqual([{ limit: 60, windowMs: 10_000 }]);
    // A longer reset shows a longer window: never a shorter one after it.
    limiter.observe(unstated('openai-compatible', { limit: 60, remaining: 10, resetMs: 42_000 }));
    expect(limiter.limits.requests).toEqual([{ limit: 60, windowMs: 60_000 }]);
    limiter.observe(unstated('openai-compatible', { limit: 60, remaining: 59, resetMs: 900 }));
    expect(limiter.limits.requests).toEqual([{ limit: 60, windowMs: 60_000 }]);
    // A reset rounded a little past the window still reads as that window.
    const other = new Limiter({ limits: 'auto', clock: new FakeClock() });
    other.observe(unstated('openrouter', { limit: 20, remaining: 0, resetMs: 10_050 }));
    expect(other.limits.requests).toEqual([{ limit: 20, windowMs: 10_000 }]);
  });

  it("takes the provider's convention, then what the provider is known for, and a minute only when nothing says more", () => {
    const openai = new Limiter({ limits: 'auto', clock: new FakeClock() });
    openai.observe(unstated('openai', { limit: 60, remaining: 59, resetMs: 1_000, windowMs: 60_000 }));
    expect(openai.limits.requests).toEqual([{ limit: 60, windowMs: 60_000 }]);
    // Azure's quota is per minute, though its headers say no window and its checks run over 1 s or 10 s.
    const azure = new Limiter({ limits: 'auto', clock: new FakeClock() });
    azure.observe(unstated('azure', { limit: 60, remaining: 59, resetMs: 1_000 }));
    expect(azure.limits.requests).toEqual([{ limit: 60, windowMs: 60_000 }]);
    const silent = new Limiter({ limits: 'auto', clock: new FakeClock() });
    silent.observe(unstated('openai-compatible', { limit: 60, remaining: 59 }));
    expect(silent.limits.requests).toEqual([{ limit: 60, windowMs: 60_000 }]);
  });

  it('never replaces the windows the user gave', () => {
    const limiter = new Limiter({ requests: { limit: 360, windowMs: 60_000 }, clock: new FakeClock() });
    limiter.observe(unstated('openai-compatible', { limit: 60, remaining: 59, resetMs: 9_980 }));
    expect(limiter.limits.requests).toEqual([{ limit: 360, windowMs: 60_000 }]);
  });
});

describe('observe: tightening when others share the quota', () => {
  it('holds what others use as their share, one window beyond the reset, refreshed while seen', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 10_000 }, clock });
    const othersShare = vi.fn();
    limiter.on('othersShare', othersShare);
    await limiter.acquire();
    // We started 1 of 10; the server says 4 remain: 5 starts are someone else's.
    limiter.observe(snapshot({ requests: { limit: 10, remaining: 4, resetMs: 3_000, windowMs: 10_000 } }));
    expect(othersShare).toHaveBeenCalledWith({ kind: 'requests', amount: 5, remaining: 4 });
    expect(limiter.stats().requests[0]).toMatchObject({ used: 6, remaining: 4 });
    for (let i = 0; i < 4; i++) expect(limiter.tryAcquire()).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    // Ours leave at 10 s; the others' 5 hold until reset + one window (13 s): others go on.
    let at = -1;
    const waiting = limiter.acquire().then(() => (at = clock.now()));
    await clock.advance(10_000);
    await waiting;
    expect(at).toBe(10_000);
    expect(limiter.stats().requests[0]?.used).toBe(6);
    await clock.advance(3_000);
    expect(limiter.stats().requests[0]?.used).toBe(1);
  });

  it("our requests that left the window after the server answered are not taken for others'", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 3, windowMs: 1_000 }, clock });
    await limiter.acquire();
    await clock.advance(500);
    const lease = await limiter.acquire();
    await limiter.acquire();
    // The server counted all three when it answered; by the time the answer arrives (t = 1010)
    // the first has left our window, though not the server's view of that moment.
    await clock.advance(510);
    limiter.observe(snapshot({ requests: { limit: 3, remaining: 0, resetMs: 500, windowMs: 1_000 } }), {
      since: lease.acquiredAt,
    });
    expect(limiter.stats().requests[0]?.used).toBe(2);
    expect(limiter.tryAcquire()).toBeDefined();
  });

  it("without `since`, the same answer is taken as one request of someone else's", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 3, windowMs: 1_000 }, clock });
    await limiter.acquire();
    await clock.advance(500);
    await limiter.acquire();
    await limiter.acquire();
    await clock.advance(510);
    limiter.observe(snapshot({ requests: { limit: 3, remaining: 0, resetMs: 500, windowMs: 1_000 } }));
    expect(limiter.stats().requests[0]?.used).toBe(3);
  });

  it("a pause makes the others' share outlast it (nothing is learned while paused)", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, clock });
    limiter.observe(snapshot({ requests: { limit: 10, remaining: 4, resetMs: 500, windowMs: 1_000 } }));
    limiter.pause(5_000);
    await clock.advance(5_000);
    expect(limiter.stats().requests[0]?.used).toBe(6);
    await clock.advance(1_000);
    expect(limiter.stats().requests[0]?.used).toBe(0);
  });

  it("never takes our own requests for someone else's: only what the server must have seen from others", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      requests: { limit: 10, windowMs: 60_000 },
      tokens: { limit: 1_000, windowMs: 60_000 },
      clock,
    });
    const first = await limiter.acquire({ tokens: 100 });
    await limiter.acquire({ tokens: 100 });
    await limiter.acquire({ tokens: 300 });
    first.restamp();
    // The server answered the first before the others arrived: it saw 1 request and 100 tokens.
    limiter.observe(
      snapshot({
        requests: { limit: 10, remaining: 9, resetMs: 6_000 },
        tokens: { limit: 1_000, remaining: 900, resetMs: 6_000 },
      }),
    );
    expect(limiter.stats().requests[0]?.used).toBe(3);
    expect(limiter.stats().tokens[0]?.used).toBe(500);
  });

  it('tightens token budgets the same way, and leaves a limiter with room alone', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 1_000, windowMs: 1_000 }, clock });
    await limiter.acquire({ tokens: 100 });
    limiter.observe(snapshot({ tokens: { limit: 1_000, remaining: 950, resetMs: 1_000 } }));
    expect(limiter.stats().tokens[0]?.used).toBe(100);
    limiter.observe(snapshot({ tokens: { limit: 1_000, remaining: 500, resetMs: 500 } }));
    expect(limiter.stats().tokens[0]?.used).toBe(500);
    expect(limiter.tryAcquire({ tokens: 501 })).toBeUndefined();
    // Ours (100) leave at 1 s; the others' 400 hold until 500 + 1,000 ms.
    await clock.advance(1_000);
    expect(limiter.tryAcquire({ tokens: 601 })).toBeUndefined();
    expect(limiter.tryAcquire({ tokens: 600 })).toBeDefined();
    expect(limiter.stats().tokens[0]?.used).toBe(1_000);
    await clock.advance(500);
    expect(limiter.stats().tokens[0]?.used).toBe(600);
    await clock.advance(500);
    expect(limiter.stats().tokens[0]?.used).toBe(0);
  });

  it("a 429 it let through raises others' share by one where the server says nothing remains", async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 4, windowMs: 1_000 }, clock });
    // The server saw our 2 and others' 1, and answered before our last 2 arrived.
    limiter.observe(snapshot({ requests: { limit: 4, remaining: 3, resetMs: 1_000 } }));
    await limiter.acquire();
    await limiter.acquire();
    const since = clock.now();
    await limiter.acquire();
    // The third is refused: ours might all have been counted, so the headers alone prove no more
    // than the 1 already learned; the refusal proves one more.
    limiter.observe(snapshot({ requests: { limit: 4, remaining: 0, resetMs: 1_000 } }), { since, refused: true });
    expect(limiter.stats().requests[0]?.used).toBe(5);
    // The room stays while the share does (at most a tenth of the limit, here one), and goes with it.
    limiter.observe(snapshot({ requests: { limit: 4, remaining: 0, resetMs: 1_000 } }), { since, refused: true });
    expect(limiter.stats().requests[0]?.used).toBe(5);
    await clock.advance(2_000);
    expect(limiter.stats().requests[0]?.used).toBe(0);
    // A refusal for another reason (tokens) leaves a request window with room alone.
    const other = new Limiter({ requests: { limit: 4, windowMs: 1_000 }, clock });
    other.observe(snapshot({ requests: { limit: 4, remaining: 3, resetMs: 1_000 } }), { refused: true });
    expect(other.stats().requests[0]?.used).toBe(1);
    expect(() => limiter.observe(snapshot({}), { refused: 'yes' as never })).toThrow(
      /`refused` to be true or false, got `"yes"` \(string\)/,
    );
  });

  it('a learned share follows the server down: back to the full limit as soon as the server shows nobody else, within its reset', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 60, windowMs: 60_000 }, clock });
    // Someone else used 50 of 60; the server is back to full in 30 s.
    limiter.observe(snapshot({ requests: { limit: 60, remaining: 10, resetMs: 30_000, windowMs: 60_000 } }));
    expect(limiter.stats().requests[0]?.used).toBe(50);
    await clock.advance(10_000);
    expect(limiter.stats().requests[0]?.used).toBe(50);
    // Then the server shows nobody at all: the others' 50 are gone, 20 s before the reset.
    limiter.observe(snapshot({ requests: { limit: 60, remaining: 60, resetMs: 0, windowMs: 60_000 } }));
    expect(limiter.stats().requests[0]).toMatchObject({ used: 0, remaining: 60 });
    for (let i = 0; i < 60; i++) expect(limiter.tryAcquire()).toBeDefined();
  });

  it('a learned share lapses when the server stops showing it, however often small shares are seen', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 60, windowMs: 60_000 }, clock });
    limiter.observe(snapshot({ requests: { limit: 60, remaining: 10, resetMs: 30_000, windowMs: 60_000 } }));
    expect(limiter.stats().requests[0]?.used).toBe(50);
    // From then on the server shows one request of someone else's now and then, every 10 s: the
    // share is what it shows now (one), not the 50 of before.
    for (let t = 10_000; t <= 90_000; t += 10_000) {
      await clock.advance(10_000);
      limiter.observe(snapshot({ requests: { limit: 60, remaining: 59, resetMs: 1_000, windowMs: 60_000 } }));
      expect(limiter.stats().requests[0]?.used).toBe(1);
    }
    // The last one seen holds one window beyond its reset, and not a moment longer.
    await clock.advance(61_000);
    expect(limiter.stats().requests[0]).toMatchObject({ used: 0, remaining: 60 });
  });

  it("a limit of the server's own (another window) tightens only until its reset: the user's limit is never replaced", async () => {
    const clock = new FakeClock();
    // The user allows 360 a minute; the server enforces 60 per 10 s, which its headers cannot say.
    const limiter = new Limiter({ requests: { limit: 360, windowMs: 60_000 }, clock });
    for (let i = 0; i < 60; i++) limiter.tryAcquire()?.release();
    limiter.observe(snapshot({ requests: { limit: 60, remaining: 0, resetMs: 10_000 } }));
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.limits.requests).toEqual([{ limit: 360, windowMs: 60_000 }]);
    // Back to full at the server's reset, not a minute later: the next 60 go at once.
    await clock.advance(10_000);
    for (let i = 0; i < 60; i++) expect(limiter.tryAcquire()).toBeDefined();
    expect(limiter.stats().requests[0]).toMatchObject({ used: 120, remaining: 240 });
  });

  it('rejects a snapshot that is not an object', () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    expect(() => limiter.observe(null as never)).toThrow(/`snapshot`/);
  });
});

describe('restamp: counting a request from when its response arrived', () => {
  it('moves the start (and its tokens) to now', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      requests: { limit: 1, windowMs: 1_000 },
      tokens: { limit: 100, windowMs: 1_000 },
      clock,
    });
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
