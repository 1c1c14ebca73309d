import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, type Lease, Limiter } from '../src/index.js';
import { SlowStore } from './helpers/slow-store.js';

/*
 * `acquire({ timeoutMs: 0 })` is how a store that answers later is asked "only if it can start now"
 * (the README recommends it where `tryAcquire()` cannot work): the store's answer, not the round
 * trip to it, decides.
 */
describe('timeouts on an asynchronous store', () => {
  it('timeoutMs 0 starts when the store admits now, and is rejected when the store says later', async () => {
    const store = new SlowStore();
    const limiter = new Limiter({ requests: { limit: 2, windowMs: 60_000 }, store });
    const first = await limiter.acquire({ timeoutMs: 0 });
    const second = await limiter.acquire({ timeoutMs: 0 });
    expect(store.admits).toBe(2);
    const error = await limiter.acquire({ timeoutMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    // The store's earliest already said "in a minute": rejected at once, without an admission.
    expect(store.admits).toBe(2);
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 2, requests: [{ used: 2 }] });
    first.release();
    second.release();
    await limiter.close();
  });

  it('a short timeout behind a waiting head still runs out on time, and takes nothing', async () => {
    const store = new SlowStore();
    const limiter = new Limiter({ concurrency: 1, store });
    const held = await limiter.acquire();
    const head = limiter.acquire();
    const started = performance.now();
    const error = await limiter.acquire({ timeoutMs: 30 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_000);
    held.release();
    (await head).release();
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
    await limiter.close();
  });
});

describe('room made while an asynchronous store is answering', () => {
  it('a release sent while the head is asked wakes it, though the answer said "not before a release"', async () => {
    const store = new SlowStore();
    const limiter = new Limiter({ concurrency: 1, store });
    const first = await limiter.acquire();
    let second: Lease | undefined;
    // Asked now; the store answers a macrotask later, before the release below reaches it.
    void limiter.acquire().then((lease) => {
      second = lease;
    });
    first.release();
    for (let i = 0; i < 20 && second === undefined; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBeDefined();
    second?.release();
    await limiter.close();
  });
});
