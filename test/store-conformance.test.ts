import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdmitResult,
  type Cost,
  Limiter,
  type LimiterStore,
  MemoryStore,
  type ResolvedLimits,
  type StoreUsage,
  storeCapabilities,
} from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import { type StoreConformanceCase, storeConformance } from '../src/testing/index.js';
import {
  describeWithRedis,
  nodeRedisClient,
  type RedisServer,
  startRedisServer,
  uniqueKey,
} from './helpers/redis-server.js';
import { BatchSlowStore, SlowStore } from './helpers/slow-store.js';

/** The way the suite's documentation says to register it. */
function register(cases: readonly StoreConformanceCase[]): void {
  for (const c of cases) (c.skip ? it.skip : it)(c.name, c.run);
}

/** Runs every case that is not skipped; the message of each that rejects, by case name. */
async function failures(cases: readonly StoreConformanceCase[]): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  for (const c of cases) {
    if (c.skip !== undefined) continue;
    try {
      await c.run();
    } catch (error) {
      failed.set(c.name, error instanceof Error ? error.message : String(error));
    }
  }
  return failed;
}

function caseNamed(cases: readonly StoreConformanceCase[], prefix: string): StoreConformanceCase {
  const found = cases.find((c) => c.name.startsWith(prefix));
  if (found === undefined) throw new Error(`no case starts with "${prefix}"`);
  return found;
}

/** A synchronous store as a plain object, forwarding to a memory store. */
function plainStore(): LimiterStore {
  const inner = new MemoryStore();
  return {
    synchronous: true,
    configure: (limits) => inner.configure(limits),
    admit: (cost, now) => inner.admit(cost, now),
    earliest: (cost, now) => inner.earliest(cost, now),
    reconcile: (entry, cost, now) => inner.reconcile(entry, cost, now),
    cancel: (entry, now) => inner.cancel(entry, now),
    release: (entry) => inner.release(entry),
    restamp: (entry, at, now) => inner.restamp(entry, at, now),
    learnOthersShare: (report, now) => inner.learnOthersShare(report, now),
    pause: (until, now) => inner.pause(until, now),
    usage: (now) => inner.usage(now),
  };
}

describe('storeConformance on MemoryStore (fake clock)', () => {
  const cases = storeConformance(() => new MemoryStore());

  it('lists what the memory store lacks as skipped by declaration, and their runs resolve at once', async () => {
    const skipped = cases.filter((c) => c.skip !== undefined);
    expect(Object.fromEntries(skipped.map((c) => [c.name, c.skip]))).toEqual({
      'withdraw: a slot booked for a waiter that left goes to the next one': expect.stringMatching(/no `withdraw`/),
      'asynchronous store: one admit at a time': expect.stringMatching(/declares `synchronous: true`/),
      'admitMany: admits a prefix in queue order, never one behind a request that waits':
        expect.stringMatching(/declares `synchronous: true`/),
    });
    for (const c of skipped) await expect(c.run()).resolves.toBeUndefined();
  });

  register(cases);
});

describe('storeConformance on an asynchronous store answering a macrotask later (fake clock)', () => {
  register(storeConformance(() => new SlowStore()));
});

describe('storeConformance on an asynchronous store with admitMany (fake clock)', () => {
  const cases = storeConformance(() => new BatchSlowStore());

  it('runs the admitMany case, which a store without admitMany skips', () => {
    const name = 'admitMany: admits a prefix in queue order, never one behind a request that waits';
    expect(caseNamed(cases, name).skip).toBeUndefined();
    expect(
      caseNamed(
        storeConformance(() => new SlowStore()),
        name,
      ).skip,
    ).toMatch(/no `admitMany`/);
  });

  register(cases);
});

describe('storeConformance on a synchronous plain-object store (fake clock)', () => {
  it('is synchronous: tryAcquire() returns a lease at once', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, store: plainStore() });
    expect(limiter.capabilities.synchronous).toBe(true);
    const lease = limiter.tryAcquire();
    expect(lease?.acquiredAt).toBeTypeOf('number');
    expect(limiter.tryAcquire()).toBeUndefined();
    await limiter.close();
  });

  register(storeConformance(() => plainStore()));
});

describe('storeConformance options', () => {
  it('needs every capability declared when makeStore returns a promise', () => {
    expect(() => storeConformance(async () => new MemoryStore())).toThrow(TypeError);
    expect(() => storeConformance(async () => new MemoryStore(), { declares: { synchronous: true } })).toThrow(
      /`options.declares` with `limiterClock`, `earlyTimeout`/,
    );
    const declares = storeCapabilities(new MemoryStore());
    expect(storeConformance(async () => new MemoryStore(), { declares })).toHaveLength(
      storeConformance(() => new MemoryStore()).length,
    );
  });

  it('reads what declares leaves out from a store made up front, and closes it', () => {
    let made = 0;
    let closed = 0;
    const cases = storeConformance(
      () => {
        made++;
        return Object.assign(new SlowStore(), { close: () => void closed++ });
      },
      { declares: { arrivalTime: false } },
    );
    expect([made, closed]).toEqual([1, 1]);
    expect(caseNamed(cases, 'restamp').skip).toMatch(/no `restamp`/);
    expect(caseNamed(cases, 'earliest').skip).toBeUndefined();
    expect(caseNamed(cases, 'synchronous store').skip).toMatch(/does not declare `synchronous: true`/);
  });

  it('rejects unknown options and bad values', () => {
    const make = () => new MemoryStore();
    expect(() => storeConformance(make, { window: 5 } as never)).toThrow(/Unknown option `window`/);
    expect(() => storeConformance(make, { windowMs: 10 })).toThrow(RangeError);
    expect(() => storeConformance(make, { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => storeConformance(make, { declares: { synchronous: 'yes' } as never })).toThrow(/declares.synchronous/);
  });

  it('a case that hangs rejects within timeoutMs, naming the step, and closes the store', async () => {
    let closed = 0;
    class NeverStore extends SlowStore {
      override admit(): Promise<AdmitResult> {
        return new Promise(() => {});
      }
      override close(): Promise<void> {
        closed++;
        return Promise.resolve();
      }
    }
    const declares = { ...storeCapabilities(new SlowStore()) };
    const [first] = storeConformance(() => new NeverStore(), { declares, timeoutMs: 300 });
    const started = performance.now();
    await expect(first?.run()).rejects.toThrow(/timed out after 300 ms while waiting for the 1st start/);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(closed).toBe(1);
  });
});

/*
 * The suite against stores with one bug each: at least one case must reject, and the one about
 * the contract broken among them.
 */

class NoCancelStore extends MemoryStore {
  override cancel(): void {}
}

class ShorteningPauseStore extends MemoryStore {
  #until = 0;
  override pause(until: number): void {
    this.#until = until;
  }
  override earliest(cost: Cost, now: number): number {
    return Math.max(super.earliest(cost, now), this.#until);
  }
  override usage(now: number): StoreUsage {
    return { ...super.usage(now), pausedUntil: this.#until > now ? this.#until : 0 };
  }
}

/** Sees its windows 1 ms ahead: a start is admitted 1 ms before the window holding it ends. */
class EarlyBoundaryStore extends MemoryStore {
  override earliest(cost: Cost, now: number): number {
    return super.earliest(cost, now + 1) - 1;
  }
}

/** Treats the window as closed at its end: a start at `t` still counts at `t + windowMs`. */
class ClosedEndStore extends MemoryStore {
  override admit(cost: Cost, now: number): AdmitResult {
    const at = this.earliest(cost, now - 1);
    return at > now - 1 ? at + 1 : super.admit(cost, now);
  }
}

class OneWindowStore extends MemoryStore {
  override configure(limits: ResolvedLimits): void {
    super.configure({ ...limits, requests: limits.requests.slice(0, 1) });
  }
}

/** Answers every request of a batch on its own: admits small ones behind a large one that waits. */
class OvertakingBatchStore extends BatchSlowStore {
  override admitMany(requests: readonly { cost: Cost }[], now: number): Promise<AdmitResult[]> {
    this.batches++;
    return new Promise((resolve) =>
      setImmediate(() => resolve(requests.map(({ cost }) => this.inner.admit(cost, now)))),
    );
  }
}

/** Says it is synchronous, then answers admit with a promise. */
class PromisingStore extends MemoryStore {
  override admit(cost: Cost, now: number): AdmitResult {
    return Promise.resolve(super.admit(cost, now)) as unknown as AdmitResult;
  }
}

describe('storeConformance catches a broken store', () => {
  it.each([
    ['a cancel that frees nothing', () => new NoCancelStore(), 'cancel: gives back the request slot and the tokens'],
    [
      'a pause that shortens a longer one',
      () => new ShorteningPauseStore(),
      'pause: a shorter pause never shortens a longer one, and a longer one extends it',
    ],
    [
      'a window that ends 1 ms early',
      () => new EarlyBoundaryStore(),
      'request window: the limit starts at once, the next exactly when the window ends',
    ],
    [
      'a window closed at its end',
      () => new ClosedEndStore(),
      'request window: the limit starts at once, the next exactly when the window ends',
    ],
    [
      'an admit that ignores a second request window',
      () => new OneWindowStore(),
      'several request windows: every one binds',
    ],
    [
      'an admitMany that admits behind a request that waits',
      () => new OvertakingBatchStore(),
      'admitMany: admits a prefix in queue order, never one behind a request that waits',
    ],
  ])('%s', async (_bug, make, expected) => {
    const failed = await failures(storeConformance(make));
    expect(failed.size).toBeGreaterThan(0);
    expect([...failed.keys()]).toContain(expected);
  });

  it('the messages name the contract broken', async () => {
    const boundary = caseNamed(
      storeConformance(() => new EarlyBoundaryStore()),
      'request window: the limit',
    );
    await expect(boundary.run()).rejects.toThrow(
      'window of 3 per 1000 ms (half-open: the 1st start leaves it at 1000 ms): the 4th start was admitted at 999 ms, before 1000 ms',
    );
    const cancel = caseNamed(
      storeConformance(() => new NoCancelStore()),
      'cancel',
    );
    await expect(cancel.run()).rejects.toThrow(/must free its slot and its tokens.*was still waiting at 0 ms/);
  });

  it('synchronous: true with a promise: the limiter rejects the waiter with a TypeError, and the suite fails', async () => {
    const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, store: new PromisingStore() });
    await expect(limiter.acquire()).rejects.toThrow(TypeError);
    expect(() => limiter.tryAcquire()).toThrow(/declares `synchronous: true`, but its `admit` returned a promise/);
    await limiter.close();
    const failed = await failures(storeConformance(() => new PromisingStore()));
    expect(failed.get('synchronous store: tryAcquire() returns leases, and no method answers with a promise')).toMatch(
      /tryAcquire\(\) for the 1st start threw TypeError/,
    );
  });
});

describeWithRedis('storeConformance on RedisStore (real time, Redis TIME)', () => {
  let server: RedisServer;
  let client: Awaited<ReturnType<typeof nodeRedisClient>>;
  beforeAll(async () => {
    server = await startRedisServer();
    client = await nodeRedisClient(server.port);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  // Read from a store that never connects: what the Redis store declares, not what it is assumed to.
  const declares = storeCapabilities(new RedisStore({ client: { send: () => Promise.resolve('OK') }, key: 'probe' }));
  const cases = storeConformance(async () => new RedisStore({ client, key: uniqueKey('conformance') }), { declares });

  it('runs on real timers and skips by declaration only what the Redis store cannot be: synchronous', () => {
    expect(declares).toMatchObject({ synchronous: false, limiterClock: false, bookings: true });
    const skipped = Object.fromEntries(cases.filter((c) => c.skip !== undefined).map((c) => [c.name, c.skip]));
    expect(skipped).toEqual({
      'synchronous store: tryAcquire() returns leases, and no method answers with a promise': expect.stringMatching(
        /does not declare `synchronous: true`/,
      ),
      // Until the Redis store admits several waiters per round trip.
      ...(declares.batchAdmit
        ? {}
        : {
            'admitMany: admits a prefix in queue order, never one behind a request that waits':
              expect.stringMatching(/no `admitMany`/),
          }),
    });
  });

  it('catches a Redis store whose withdraw gives nothing back', async () => {
    class KeepsBookings extends RedisStore {
      override withdraw(): void {}
    }
    const broken = storeConformance(async () => new KeepsBookings({ client, key: uniqueKey('broken') }), { declares });
    await expect(caseNamed(broken, 'withdraw').run()).rejects.toThrow(
      /booked for the 2 waiters that left must be given back/,
    );
  });

  it('catches a Redis store whose earliest ignores the slot it booked', async () => {
    class IgnoresBookings extends RedisStore {
      override earliest(_cost: Cost, now: number): number {
        return now;
      }
    }
    const broken = storeConformance(async () => new IgnoresBookings({ client, key: uniqueKey('broken') }), {
      declares,
    });
    await expect(caseNamed(broken, 'earliest').run()).rejects.toThrow(/not at once with AcquireTimeoutError/);
  });

  register(cases);
});
