import { describe, expect, it } from 'vitest';
import {
  AcquireTimeoutError,
  type AdmitResult,
  type BatchRequest,
  type Cost,
  type Lease,
  Limiter,
  type LimiterOptions,
  type LimiterStore,
  MemoryStore,
  type ResolvedLimits,
  type StoreEntry,
  type StoreUsage,
} from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import { SlowStore } from './helpers/slow-store.js';

/** One macrotask turn: the scripted store's answers arrive. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

/**
 * An asynchronous store scripted by the test: it admits against a `MemoryStore` when asked (as a
 * remote store takes slots when the request arrives) and answers a macrotask later, or when the
 * test lets the held answers go. Counts every admission round trip and what each batch asked.
 */
class ScriptedStore implements LimiterStore {
  readonly inner = new MemoryStore();
  /** `admit` calls. */
  admits = 0;
  /** The tokens of each request of every `admitMany` call, in the order given. */
  readonly batches: number[][] = [];
  /** Leases held when each `admitMany` call was made (set by the test when it needs it). */
  readonly heldAtBatch: number[] = [];
  held: (() => number) | undefined = undefined;
  cancels = 0;
  /** Answers at most this many of a batch (all admitted), as a store that stops early. */
  answerAtMost = Number.POSITIVE_INFINITY;
  /** Replaces the store's own batch answer (a broken store). */
  answerWith: ((requests: readonly BatchRequest[], now: number) => unknown) | undefined = undefined;
  /** When set, every `admitMany` round trip fails with it. */
  failWith: Error | undefined = undefined;
  /** While true, answers wait for `letGo()`. */
  hold = false;
  readonly #held: (() => void)[] = [];

  configure(limits: ResolvedLimits): void {
    this.inner.configure(limits);
  }

  admit(cost: Cost, now: number): Promise<AdmitResult> {
    this.admits++;
    return this.#later(this.inner.admit(cost, now));
  }

  admitMany(requests: readonly BatchRequest[], now: number): Promise<readonly AdmitResult[]> {
    this.batches.push(requests.map((r) => r.cost.input + r.cost.output));
    if (this.held !== undefined) this.heldAtBatch.push(this.held());
    const failure = this.failWith;
    if (failure !== undefined) return this.#later(undefined).then(() => Promise.reject(failure));
    if (this.answerWith !== undefined) return this.#later(this.answerWith(requests, now) as AdmitResult[]);
    const answers: AdmitResult[] = [];
    for (const { cost } of requests) {
      if (answers.length >= this.answerAtMost) break;
      const answer = this.inner.admit(cost, now);
      answers.push(answer);
      if (typeof answer === 'number') break;
    }
    return this.#later(answers);
  }

  /** Delivers every answer held so far. */
  letGo(): void {
    for (const deliver of this.#held.splice(0)) deliver();
  }

  earliest(cost: Cost, now: number): number {
    return this.inner.earliest(cost, now);
  }

  reconcile(entry: StoreEntry, cost: Cost, now: number): Promise<void> {
    this.inner.reconcile(entry, cost, now);
    return Promise.resolve();
  }

  cancel(entry: StoreEntry, now: number): Promise<void> {
    this.cancels++;
    this.inner.cancel(entry, now);
    return Promise.resolve();
  }

  release(entry: StoreEntry): Promise<void> {
    this.inner.release(entry);
    return Promise.resolve();
  }

  pause(until: number, now: number): Promise<void> {
    this.inner.pause(until, now);
    return Promise.resolve();
  }

  usage(now: number): StoreUsage {
    return this.inner.usage(now);
  }

  #later<T>(value: T): Promise<T> {
    return new Promise((resolve) => {
      const deliver = (): void => void setImmediate(() => resolve(value));
      if (this.hold) this.#held.push(deliver);
      else deliver();
    });
  }
}

function setup(options: LimiterOptions = {}) {
  const clock = new FakeClock();
  const store = new ScriptedStore();
  const limiter = new Limiter({ requests: { limit: 1_000, windowMs: 60_000 }, ...options, clock, store });
  return { clock, store, limiter };
}

/** Acquires that record the order and time they start in. */
function acquireAll(limiter: Limiter, options: readonly { tokens?: number; priority?: number }[]) {
  const started: { index: number; at: number; lease: Lease }[] = [];
  const all = options.map((o, index) =>
    limiter.acquire(o).then((lease) => {
      started.push({ index, at: lease.acquiredAt, lease });
      return lease;
    }),
  );
  return { started, all };
}

/** `n` callers of 1 token each (their tokens tell them apart in the store's batches: 1, 2, ...). */
const numbered = (n: number, from = 1): { tokens: number }[] =>
  Array.from({ length: n }, (_, i) => ({ tokens: from + i }));

describe('a store with admitMany: several admissions per round trip', () => {
  it('64 callers queued at once are admitted in one admitMany call, not 64 round trips', async () => {
    const { clock, store, limiter } = setup({ tokens: { limit: 1_000_000, windowMs: 60_000 } });
    limiter.pause(10);
    const { started, all } = acquireAll(limiter, numbered(64));
    await turns();
    // The first is asked alone as it arrives (the pause answers "at 10"); the rest queue behind it.
    expect(store.admits).toBe(1);
    await clock.advance(10);
    await Promise.all(all);
    expect(store.admits).toBe(1);
    expect(store.batches).toEqual([numbered(64).map((o) => o.tokens)]);
    expect(started.map((s) => s.index)).toEqual(numbered(64).map((o) => o.tokens - 1));
    expect(started.every((s) => s.at === 10)).toBe(true);
  });

  it('more than 64: ceil(n / 64) calls of at most 64, one on the wire at a time', async () => {
    const { clock, store, limiter } = setup({ tokens: { limit: 1_000_000, windowMs: 60_000 } });
    limiter.pause(10);
    const { started, all } = acquireAll(limiter, numbered(150));
    await clock.advance(10);
    await Promise.all(all);
    expect(store.batches.map((b) => b.length)).toEqual([64, 64, 22]);
    expect(store.batches.flat()).toEqual(numbered(150).map((o) => o.tokens));
    expect(started.map((s) => s.index)).toEqual([...Array(150).keys()]);
  });

  it('keeps priority then arrival: with a window of N, the first N in queue order start', async () => {
    const { clock, store, limiter } = setup({ requests: { limit: 5, windowMs: 1_000 } });
    limiter.pause(10);
    const priorities = [0, 1, 0, 2, 1, 0, 2, 0, 1, 0];
    const { started, all } = acquireAll(
      limiter,
      priorities.map((priority, i) => ({ priority, tokens: i + 1 })),
    );
    await clock.advance(10);
    await turns();
    // Asked in queue order: priority 2 (4th, 7th), then 1 (2nd, 5th, 9th), then 0 in arrival order.
    const queueOrder = [3, 6, 1, 4, 8, 0, 2, 5, 7, 9];
    expect(store.batches[0]).toEqual(queueOrder.map((i) => i + 1));
    expect(started.map((s) => s.index)).toEqual(queueOrder.slice(0, 5));
    await clock.advance(1_000);
    await Promise.all(all);
    expect(started.map((s) => s.index)).toEqual(queueOrder);
    expect(started.map((s) => s.at)).toEqual([10, 10, 10, 10, 10, 1_010, 1_010, 1_010, 1_010, 1_010]);
  });

  it('a big head that does not fit is not overtaken by the small ones behind it', async () => {
    const { clock, store, limiter } = setup({ tokens: { limit: 100, windowMs: 1_000 } });
    limiter.pause(10);
    const { started, all } = acquireAll(limiter, [{ tokens: 60 }, { tokens: 50 }, { tokens: 10 }, { tokens: 10 }]);
    await clock.advance(10);
    expect(started.map((s) => s.index)).toEqual([0]);
    await clock.advance(999);
    expect(started.map((s) => s.index)).toEqual([0]);
    expect(limiter.stats().tokens[0]?.used).toBe(60);
    await clock.advance(1);
    await Promise.all(all);
    expect(started.map((s) => [s.index, s.at])).toEqual([
      [0, 10],
      [1, 1_010],
      [2, 1_010],
      [3, 1_010],
    ]);
    // Asked together both times: the store's answer stopped at the 50 and never reached the 10s.
    expect(store.batches).toEqual([
      [60, 50, 10, 10],
      [50, 10, 10],
    ]);
  });

  it('a store that answers a prefix: the rest are asked again in the next call', async () => {
    const { clock, store, limiter } = setup();
    store.answerAtMost = 3;
    limiter.pause(10);
    const { started, all } = acquireAll(limiter, numbered(10));
    await clock.advance(10);
    await Promise.all(all);
    expect(store.batches).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [4, 5, 6, 7, 8, 9, 10],
      [7, 8, 9, 10],
    ]);
    // The last one left alone goes to admit.
    expect(store.admits).toBe(2);
    expect(started.map((s) => s.index)).toEqual([...Array(10).keys()]);
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 10 });
  });

  it('an abort and timeouts while a batch is on the wire: nobody hangs and no slot is lost', async () => {
    const { clock, store, limiter } = setup({ requests: { limit: 3, windowMs: 1_000 } });
    store.hold = true;
    const first = limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire({ signal: controller.signal });
    const kept = limiter.acquire({ timeoutMs: 50 });
    const toldLater = limiter.acquire({ timeoutMs: 50 }).catch((error: unknown) => error);
    const unanswered = limiter.acquire({ timeoutMs: 50 }).catch((error: unknown) => error);
    await turn();
    store.letGo();
    await first;
    await turns();
    // The other four are on the wire in one call: the store took two slots and said "at 1000" to the 3rd.
    expect(store.batches).toHaveLength(1);
    expect(store.batches[0]).toHaveLength(4);
    controller.abort(new Error('left'));
    await expect(aborted).rejects.toThrow('left');
    // Their deadlines pass while the answer is on the wire: the answer judges them, not the round trip.
    await clock.advance(100);
    expect(limiter.stats().queued).toBe(3);
    store.letGo();
    await turns();
    // Admitted by the answer: it starts (its deadline waited for the store).
    await expect(kept).resolves.toBeDefined();
    // Told "at 1000", beyond its deadline; and one the answer left out, whose deadline has passed.
    expect(await toldLater).toBeInstanceOf(AcquireTimeoutError);
    expect(await unanswered).toBeInstanceOf(AcquireTimeoutError);
    expect(limiter.stats().queued).toBe(0);
    // The entry admitted for the caller that left was cancelled: its slot is free for the next.
    expect(store.cancels).toBe(1);
    expect(store.inner.usage(clock.now())).toMatchObject({ inFlight: 2, requests: [{ used: 2 }] });
    store.hold = false;
    const next = limiter.acquire();
    await turns();
    await expect(next).resolves.toBeDefined();
    expect(store.inner.usage(clock.now()).requests[0]?.used).toBe(3);
  });

  it('close() while a batch is on the wire rejects everyone and gives every admitted slot back', async () => {
    const { clock, store, limiter } = setup();
    limiter.pause(10);
    store.hold = true;
    const all = Array.from({ length: 5 }, () => limiter.acquire().catch((error: unknown) => error));
    store.letGo();
    await clock.advance(10);
    expect(store.batches).toHaveLength(1);
    await limiter.close();
    store.letGo();
    await turns();
    expect((await Promise.all(all)).every((e) => e instanceof Error && e.name === 'LimiterClosedError')).toBe(true);
    expect(store.cancels).toBe(5);
    expect(store.inner.usage(clock.now())).toMatchObject({ inFlight: 0, requests: [{ used: 0 }] });
  });
});

describe("the limiter's own gates bound a batch", () => {
  it('while the first contact is awaited, callers are asked one at a time; after it, together', async () => {
    const { clock, store, limiter } = setup();
    limiter.probeUntilObserved();
    const { started, all } = acquireAll(limiter, numbered(6));
    await turns();
    expect(started).toHaveLength(1);
    started[0]?.lease.release();
    await turns();
    expect(started).toHaveLength(2);
    expect(store.batches).toEqual([]);
    limiter.observe({ provider: 'openai', requests: { limit: 1_000 } });
    await turns();
    await clock.flush();
    await Promise.all(all);
    expect(store.batches).toEqual([[3, 4, 5, 6]]);
  });

  it('while a pace spaces admissions, each is asked alone', async () => {
    const { clock, store, limiter } = setup({ requests: { limit: 10, windowMs: 1_000 } });
    const a = await limiter.acquire();
    await clock.advance(5);
    limiter.rateLimited({ admittedAt: a.acquiredAt });
    await clock.advance(1_000);
    const b = await limiter.acquire();
    await clock.advance(5);
    limiter.rateLimited({ admittedAt: b.acquiredAt });
    expect(limiter.stats().paceIntervalMs).toBe(125);
    await clock.advance(125);
    const { started, all } = acquireAll(limiter, numbered(4));
    for (let i = 0; i < 8; i++) await clock.advance(100);
    await Promise.all(all);
    expect(store.batches).toEqual([]);
    for (let i = 1; i < started.length; i++) {
      expect((started[i]?.at ?? 0) - (started[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(125);
    }
  });

  it('adaptive concurrency: a batch is at most the cap less the leases held', async () => {
    const { clock, store, limiter } = setup({ concurrency: { adaptive: true, max: 4, initial: 4 } });
    store.held = () => limiter.stats().inFlight;
    limiter.pause(10);
    const { started, all } = acquireAll(limiter, numbered(10));
    await clock.advance(10);
    expect(store.batches).toEqual([[1, 2, 3, 4]]);
    expect(limiter.stats()).toMatchObject({ inFlight: 4, queued: 6 });
    // Releases make room two slots at a time: never asked beyond the cap.
    for (let released = 0; released < 10; released += 2) {
      for (const s of started.slice(released, released + 2)) s.lease.release();
      await turns();
    }
    await Promise.all(all);
    expect(started).toHaveLength(10);
    for (const [i, batch] of store.batches.entries()) {
      expect(batch.length + (store.heldAtBatch[i] ?? 0)).toBeLessThanOrEqual(4);
    }
  });
});

describe('stores without admitMany, and stores that break its contract', () => {
  it('a store without admitMany is still asked one admit at a time', async () => {
    const store = new SlowStore();
    const limiter = new Limiter({ requests: { limit: 100, windowMs: 1_000 }, clock: new FakeClock(), store });
    await Promise.all(Array.from({ length: 10 }, () => limiter.acquire()));
    expect([store.admits, store.maxAdmitting]).toEqual([10, 1]);
  });

  it.each([
    ['no result', () => [], /`admitMany` answered no result for 4 requests/],
    ['a time before the last result', (entry: () => AdmitResult) => [entry(), 500, entry()], /a time for request 2/],
    [
      'more results than requests',
      (entry: () => AdmitResult) => [entry(), entry(), entry(), entry(), entry()],
      /answered 5 results for 4 requests/,
    ],
    ['not an array', () => 7, /answered `7` \(number\), not an array/],
  ])('an answer with %s fails every waiter asked with a TypeError naming the store', async (_what, answer, message) => {
    const { clock, store, limiter } = setup();
    const ZERO = { input: 0, output: 0 };
    store.answerWith = (_requests, now) => answer(() => store.inner.admit(ZERO, now));
    limiter.pause(10);
    const all = Array.from({ length: 4 }, () => limiter.acquire().catch((error: unknown) => error));
    await clock.advance(10);
    await turns();
    const errors = await Promise.all(all);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^The ScriptedStore's `admitMany` /);
      expect((error as Error).message).toMatch(message);
    }
    // Nobody hangs, and the entries of an answer nobody can trust are given back.
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
    expect(store.inner.usage(clock.now())).toMatchObject({ inFlight: 0, requests: [{ used: 0 }] });
    store.answerWith = undefined;
    await expect(limiter.acquire()).resolves.toBeDefined();
  });

  it('a failed round trip fails every waiter asked, and the queue goes on', async () => {
    const { clock, store, limiter } = setup();
    store.failWith = new Error('store unreachable');
    limiter.pause(10);
    const all = Array.from({ length: 3 }, () => limiter.acquire().catch((error: unknown) => error));
    await clock.advance(10);
    expect((await Promise.all(all)).map((e) => (e as Error).message)).toEqual(Array(3).fill('store unreachable'));
    store.failWith = undefined;
    await expect(limiter.acquire()).resolves.toBeDefined();
  });
});
