import { describe, expect, it } from 'vitest';
import { Limiter, SlidingWindowLimiter } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import { maxInAnyWindow } from './helpers/windows.js';

describe('sliding request windows', () => {
  it('admits up to the limit at once and the next exactly one window after the first', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 3, windowMs: 1_000 }, clock });
    const starts: number[] = [];
    const all = Array.from({ length: 4 }, () => limiter.acquire().then(() => starts.push(clock.now())));
    await clock.advance(999);
    expect(starts).toEqual([0, 0, 0]);
    await clock.advance(1);
    await Promise.all(all);
    expect(starts).toEqual([0, 0, 0, 1_000]);
  });

  it("keeps the peers' boundary case to the limit: 1 call at 0, 30 at 900 ms", async () => {
    const clock = new FakeClock();
    const limiter = SlidingWindowLimiter.perSecond(10, { clock });
    const starts: number[] = [];
    const record = (p: Promise<unknown>) => p.then(() => starts.push(clock.now()));
    const first = record(limiter.acquire());
    await clock.advance(900);
    const rest = Array.from({ length: 30 }, () => record(limiter.acquire()));
    while (starts.length < 31) await clock.next();
    await Promise.all([first, ...rest]);
    expect(maxInAnyWindow(starts, 1_000)).toBe(10);
    // 1 at 0, 9 at 900; the 11th start waits for the one at 0 to leave: exactly t = 1000.
    expect(starts.slice(0, 11)).toEqual([0, 900, 900, 900, 900, 900, 900, 900, 900, 900, 1_000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('adds marginMs to every window', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, marginMs: 25, clock });
    await limiter.acquire();
    let at = -1;
    const second = limiter.acquire().then(() => (at = clock.now()));
    await clock.advance(1_024);
    expect(at).toBe(-1);
    await clock.advance(1);
    await second;
    expect(at).toBe(1_025);
  });

  it('enforces several windows at once (3 per second and 5 per 10 seconds)', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({
      requests: [
        { limit: 3, windowMs: 1_000 },
        { limit: 5, windowMs: 10_000 },
      ],
      clock,
    });
    const starts: number[] = [];
    const all = Array.from({ length: 8 }, () => limiter.acquire().then(() => starts.push(clock.now())));
    while (starts.length < 8) await clock.next();
    await Promise.all(all);
    expect(starts).toEqual([0, 0, 0, 1_000, 1_000, 10_000, 10_000, 10_000]);
    expect(maxInAnyWindow(starts, 1_000)).toBeLessThanOrEqual(3);
    expect(maxInAnyWindow(starts, 10_000)).toBeLessThanOrEqual(5);
  });

  it('counts a start from when it was admitted, not when it was released', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 100 }, clock });
    const lease = await limiter.acquire();
    await clock.advance(50);
    lease.release();
    let at = -1;
    const next = limiter.acquire().then(() => (at = clock.now()));
    await clock.advance(50);
    await next;
    expect(at).toBe(100);
  });

  it('works as `await using` and `using`', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ concurrency: 1, clock });
    {
      await using lease = await limiter.acquire();
      expect(lease.released).toBe(false);
      expect(limiter.stats().inFlight).toBe(1);
    }
    expect(limiter.stats().inFlight).toBe(0);
    {
      using lease = await limiter.acquire();
      expect(limiter.stats().inFlight).toBe(1);
      lease.release();
    }
    expect(limiter.stats().inFlight).toBe(0);
  });
});
