import { describe, expect, it } from 'vitest';
import { Limiter, LimiterClosedError } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

const headers = { provider: 'openai' as const, requests: { limit: 100, remaining: 99, resetMs: 600 } };

describe('probeUntilObserved: one request first, the rest wait in the queue', () => {
  it('admits one, queues the rest visibly, and lets them go at the first observation', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 60_000 }, clock });
    limiter.probeUntilObserved();
    const first = await limiter.acquire();
    const rest = [limiter.acquire(), limiter.acquire()];
    expect(limiter.stats()).toMatchObject({ queued: 2, inFlight: 1 });
    await clock.advance(250);
    limiter.observe(headers);
    const leases = await Promise.all(rest);
    expect(leases.map((l) => l.waitedMs)).toEqual([250, 250]);
    expect(first.waitedMs).toBe(0);
    // Once observed, nothing more is held back, and asking again changes nothing.
    limiter.probeUntilObserved();
    expect(limiter.tryAcquire()).toBeDefined();
  });

  it('a probe that fails without an answer lets the next waiter be the probe', async () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    limiter.probeUntilObserved();
    const first = await limiter.acquire();
    const second = limiter.acquire();
    expect(limiter.stats().queued).toBe(1);
    first.release();
    await second;
    expect(limiter.stats().queued).toBe(0);
  });

  it('close() rejects the waiters behind the probe at once', async () => {
    const limiter = new Limiter({ clock: new FakeClock() });
    limiter.probeUntilObserved();
    await limiter.acquire();
    const waiting = limiter.acquire();
    const rejected = expect(waiting).rejects.toBeInstanceOf(LimiterClosedError);
    await limiter.close();
    await rejected;
  });
});
