import { describe, expect, it } from 'vitest';
import {
  Limiter,
  MemoryStore,
  type AdmitResult,
  type Cost,
  type LimiterStore,
  type ResolvedLimits,
  type StoreEntry,
  type StoreUsage,
} from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import { maxInAnyWindow } from './helpers/windows.js';

/** A store that answers every call a macrotask later, as a remote one would, and counts admits. */
class SlowStore implements LimiterStore {
  readonly inner = new MemoryStore();
  admits = 0;
  concurrentAdmits = 0;
  maxConcurrentAdmits = 0;
  failNext = false;

  configure(limits: ResolvedLimits): void {
    this.inner.configure(limits);
  }
  async admit(cost: Cost, now: number): Promise<AdmitResult> {
    this.admits++;
    this.concurrentAdmits++;
    this.maxConcurrentAdmits = Math.max(this.maxConcurrentAdmits, this.concurrentAdmits);
    await new Promise((r) => setImmediate(r));
    this.concurrentAdmits--;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('store unreachable');
    }
    return this.inner.admit(cost, now);
  }
  async reconcile(entry: StoreEntry, cost: Cost, now: number): Promise<void> {
    this.inner.reconcile(entry, cost, now);
  }
  async cancel(entry: StoreEntry, now: number): Promise<void> {
    this.inner.cancel(entry, now);
  }
  async release(entry: StoreEntry): Promise<void> {
    this.inner.release(entry);
  }
  async pause(until: number): Promise<void> {
    this.inner.pause(until);
  }
  usage(now: number): StoreUsage {
    return this.inner.usage(now);
  }
}

describe('an asynchronous store under the same scheduler', () => {
  it('keeps windows and order, asking the store one admission at a time', async () => {
    const clock = new FakeClock();
    const store = new SlowStore();
    const limiter = new Limiter({ requests: { limit: 3, windowMs: 1_000 }, clock, store });
    const order: number[] = [];
    const starts: number[] = [];
    const all = Array.from({ length: 9 }, (_, i) =>
      limiter.acquire().then((lease) => {
        order.push(i);
        starts.push(lease.acquiredAt);
      }),
    );
    for (let i = 0; i < 4; i++) await clock.advance(1_000);
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(maxInAnyWindow(starts, 1_000)).toBeLessThanOrEqual(3);
    expect(store.maxConcurrentAdmits).toBe(1);
    // Nine admissions plus one refused ask per window, not a poll loop.
    expect(store.admits).toBeLessThanOrEqual(12);
    expect(limiter.tryAcquire()).toBeUndefined();
  });

  it('gives back a slot admitted for a waiter that left meanwhile', async () => {
    const clock = new FakeClock();
    const store = new SlowStore();
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock, store });
    const controller = new AbortController();
    const gone = limiter.acquire({ signal: controller.signal });
    controller.abort(new Error('left'));
    await expect(gone).rejects.toThrow('left');
    await clock.flush();
    await clock.flush();
    expect(limiter.stats().requests[0]?.used).toBe(0);
    expect(store.inner.usage(clock.now()).inFlight).toBe(0);
    await expect(limiter.acquire()).resolves.toBeDefined();
  });

  it('a store failure rejects the waiter it was deciding, and the queue goes on', async () => {
    const clock = new FakeClock();
    const store = new SlowStore();
    const limiter = new Limiter({ requests: { limit: 5, windowMs: 1_000 }, clock, store });
    store.failNext = true;
    const first = limiter.acquire();
    const second = limiter.acquire();
    await expect(first).rejects.toThrow('store unreachable');
    await expect(second).resolves.toBeDefined();
  });
});
