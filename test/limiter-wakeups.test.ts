import { describe, expect, it } from 'vitest';
import { Limiter } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import { SlowStore } from './helpers/slow-store.js';

/** Lets `turns` macrotasks run (a slow store answers one macrotask later). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('whatever makes room wakes the head of the queue at once', () => {
  it('cancelling a lease after its release gives its window slot to a waiter', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock });
    const lease = await limiter.acquire();
    lease.release();
    let admitted = false;
    const waiting = limiter.acquire().then(() => {
      admitted = true;
    });
    await turns(2);
    expect(admitted).toBe(false);
    lease.cancel();
    await waiting;
    expect(clock.now()).toBe(0);
  });

  it('an asynchronous store that says "only a release makes room" is not asked again until one does', async () => {
    const clock = new FakeClock();
    const store = new SlowStore();
    const limiter = new Limiter({ concurrency: 1, clock, store });
    const held = await limiter.acquire();
    const before = store.admits;
    const waiting = limiter.acquire();
    await turns(50);
    expect(store.admits - before).toBe(1);
    held.release();
    await waiting;
    expect(store.admits - before).toBe(2);
  });

  it('on an asynchronous store, a raised limit wakes the head before the time it was given', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 10_000 }, clock, store: new SlowStore() });
    await limiter.acquire();
    const second = limiter.acquire();
    await turns(5);
    limiter.updateLimits({ requests: { limit: 2, windowMs: 10_000 } });
    await second;
    expect(clock.now()).toBe(0);
  });

  it('on an asynchronous store, a refund wakes the head before the time it was given', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ tokens: { limit: 100, windowMs: 10_000 }, clock, store: new SlowStore() });
    const first = await limiter.acquire({ tokens: 90 });
    const second = limiter.acquire({ tokens: 50 });
    await turns(5);
    first.reconcile(10);
    await second;
    expect(clock.now()).toBe(0);
  });
});
