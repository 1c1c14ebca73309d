import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Cost,
  createLimitedFetch,
  Lease,
  Limiter,
  type LimiterStore,
  MemoryStore,
  type ResolvedLimits,
  type StoreEntry,
  storeCapabilities,
} from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';

/** A plain object, not a class, that forwards to a MemoryStore and says it answers at once. */
function forwardingStore(inner = new MemoryStore(), synchronous = true): LimiterStore {
  return {
    synchronous,
    configure: (limits: ResolvedLimits) => inner.configure(limits),
    admit: (cost: Cost, now: number) => inner.admit(cost, now),
    reconcile: (entry: StoreEntry, cost: Cost, now: number) => inner.reconcile(entry, cost, now),
    cancel: (entry: StoreEntry, now: number) => inner.cancel(entry, now),
    release: (entry: StoreEntry) => inner.release(entry),
    pause: (until: number, now: number) => inner.pause(until, now),
    usage: (now: number) => inner.usage(now),
  };
}

const warnings: string[] = [];
const onWarning = (warning: Error & { code?: string }): void => {
  if (warning.code === 'FORESTALL_STORE_CAPABILITY') warnings.push(warning.message);
};
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

/** Process warnings are emitted on the next tick. */
const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('stores declare what they can do', () => {
  it('a plain-object store that says synchronous gets the fast path and leases from tryAcquire', async () => {
    const clock = new FakeClock();
    const limiter = new Limiter({ requests: { limit: 2, windowMs: 1_000 }, clock, store: forwardingStore() });
    expect(limiter.capabilities.synchronous).toBe(true);
    expect(limiter.tryAcquire()).toBeInstanceOf(Lease);
    expect(limiter.tryAcquire()).toBeInstanceOf(Lease);
    expect(limiter.tryAcquire()).toBeUndefined();
    // The fast path: an acquire that need not wait is admitted without a timer.
    await clock.advance(1_000);
    const lease = limiter.acquire();
    expect(limiter.stats().inFlight).toBe(3);
    await lease;
    await nextTick();
    expect(warnings).toEqual([]);
  });

  it('capabilities follow the declaration and the optional methods, not the class', () => {
    expect(storeCapabilities(new MemoryStore())).toEqual({
      synchronous: true,
      limiterClock: true,
      earlyTimeout: true,
      bookings: false,
      arrivalTime: true,
      othersShare: true,
      windowTimes: true,
      batchAdmit: false,
    });
    expect(storeCapabilities(forwardingStore(new MemoryStore(), false))).toEqual({
      synchronous: false,
      limiterClock: true,
      earlyTimeout: false,
      bookings: false,
      arrivalTime: false,
      othersShare: false,
      windowTimes: false,
      batchAdmit: false,
    });
  });

  it('admitMany is the batchAdmit capability, and must be a function when present', () => {
    const inner = new MemoryStore();
    const batching: LimiterStore = {
      ...forwardingStore(inner, false),
      admitMany: (requests, now) => requests.map(({ cost }) => inner.admit(cost, now)),
    };
    expect(storeCapabilities(batching).batchAdmit).toBe(true);
    expect(() => new Limiter({ store: { ...forwardingStore(), admitMany: 5 } as never })).toThrow(/`store\.admitMany`/);
  });

  it('tryAcquire on a store that answers later says so once, and returns undefined', async () => {
    const limiter = new Limiter({ store: forwardingStore(new MemoryStore(), false) });
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    await nextTick();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/tryAcquire\(\) needs a store with `synchronous`/);
  });

  it('restamp and learned shares on a store without them are reported once each, not ignored silently', async () => {
    const limiter = new Limiter({ requests: { limit: 10, windowMs: 60_000 }, store: forwardingStore() });
    const lease = await limiter.acquire();
    lease.restamp();
    lease.restamp();
    limiter.observe({ provider: 'openai', requests: { limit: 10, remaining: 3, resetMs: 1_000 } });
    limiter.observe({ provider: 'openai', requests: { limit: 10, remaining: 3, resetMs: 1_000 } });
    await nextTick();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/restamp\(\) needs a store with `arrivalTime`.*count from their admission/);
    expect(warnings[1]).toMatch(/needs a store with `othersShare`/);
    // Only what the server says remains needs the capability: a limit alone says nothing.
    limiter.observe({ provider: 'openai', requests: { limit: 10 } });
    await nextTick();
    expect(warnings).toHaveLength(2);
  });
});

describe('a store that breaks its word', () => {
  it('is refused at construction when a method is missing, naming it', () => {
    const { usage: _usage, ...noUsage } = forwardingStore();
    expect(() => new Limiter({ store: noUsage as LimiterStore })).toThrow(
      /Expected `store\.usage` to be a function, got `undefined`/,
    );
    expect(() => new Limiter({ store: { ...forwardingStore(), restamp: 5 } as never })).toThrow(/`store\.restamp`/);
    expect(() => new Limiter({ store: { ...forwardingStore(), synchronous: 'yes' } as never })).toThrow(
      /`store\.synchronous` to be a boolean/,
    );
    expect(() => new Limiter({ store: null as never })).toThrow(/Expected `store` to be an object/);
  });

  it('that says synchronous and answers with a promise: the caller gets a TypeError, never a hang', async () => {
    const inner = new MemoryStore();
    const liar: LimiterStore = { ...forwardingStore(inner), admit: async (cost, now) => inner.admit(cost, now) };
    const rejected = vi.fn();
    const limiter = new Limiter({ store: liar });
    limiter.on('rejected', rejected);
    await expect(limiter.acquire()).rejects.toThrow(/declares `synchronous: true`, but its `admit` returned a promise/);
    expect(rejected).toHaveBeenCalledWith(expect.objectContaining({ reason: 'store' }));
    expect(() => limiter.tryAcquire()).toThrow(TypeError);
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });

  it('a queued waiter of such a store is rejected when its turn comes', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    let lie = false;
    const store: LimiterStore = {
      ...forwardingStore(inner),
      admit: (cost, now) => (lie ? Promise.resolve(inner.admit(cost, now)) : inner.admit(cost, now)),
    };
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock, store });
    await limiter.acquire();
    const waiting = limiter.acquire();
    expect(limiter.stats().queued).toBe(1);
    lie = true;
    const rejected = expect(waiting).rejects.toThrow(TypeError);
    await clock.advance(1_000);
    await rejected;
    expect(limiter.stats().queued).toBe(0);
  });

  it('a synchronous write that answers with a promise is reported as a storeError', async () => {
    const inner = new MemoryStore();
    const store: LimiterStore = {
      ...forwardingStore(inner),
      release: (entry) => Promise.resolve(inner.release(entry)),
    };
    const storeError = vi.fn();
    const limiter = new Limiter({ store });
    limiter.on('storeError', storeError);
    (await limiter.acquire()).release();
    expect(storeError).toHaveBeenCalledWith({ operation: 'release', error: expect.any(TypeError) });
  });
});

describe('options that need a capability the store lacks', () => {
  it("createLimitedFetch refuses an explicit countFrom: 'response' on a store that cannot restamp", () => {
    const limiter = new Limiter({ store: forwardingStore() });
    expect(() => createLimitedFetch({ limiter, provider: 'openai', countFrom: 'response' })).toThrow(
      /`countFrom: 'response'` needs a store that can restamp/,
    );
    expect(() => createLimitedFetch({ limiter, provider: 'openai', countFrom: 'admission' })).not.toThrow();
    expect(() =>
      createLimitedFetch({ limiter: new Limiter(), provider: 'openai', countFrom: 'response' }),
    ).not.toThrow();
  });
});
