import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, acquireAny, type Lease, Limiter, type LimiterOptions } from '../src/index.js';
import { FakeClock } from '../src/testing/fake-clock.js';
import { SlowStore } from './helpers/slow-store.js';

/** Lets promise callbacks and a slow store's macrotasks run. */
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

function limiters(clock: FakeClock, ...options: LimiterOptions[]): Limiter[] {
  return options.map((o) => new Limiter({ clock, ...o }));
}

describe('acquireAny', () => {
  it('takes the first candidate that admits, says which, and charges nothing to the others', async () => {
    const clock = new FakeClock();
    const [a, b] = limiters(
      clock,
      { requests: { limit: 1, windowMs: 1_000 } },
      { requests: { limit: 5, windowMs: 1_000 } },
    );
    const first = await acquireAny([a as Limiter, b as Limiter]);
    expect(first.limiter).toBe(a);
    // a is full: b admits, and a keeps no waiter and no charge.
    const second = await acquireAny([a as Limiter, { limiter: b as Limiter, tokens: 0 }]);
    expect(second.limiter).toBe(b);
    expect(a?.stats()).toMatchObject({ queued: 0, requests: [{ used: 1 }] });
    expect(b?.stats()).toMatchObject({ queued: 0, requests: [{ used: 1 }] });
  });

  it('waits in every queue at once and is withdrawn from the others when one admits', async () => {
    const clock = new FakeClock();
    const [a, b] = limiters(
      clock,
      { requests: { limit: 1, windowMs: 1_000 } },
      { requests: { limit: 1, windowMs: 600 } },
    );
    (await (a as Limiter).acquire()).release();
    (await (b as Limiter).acquire()).release();
    let won: Lease | undefined;
    const reasons: string[] = [];
    a?.on('rejected', ({ reason }) => reasons.push(reason));
    void acquireAny([a as Limiter, b as Limiter]).then((lease) => {
      won = lease;
    });
    await turns();
    expect(a?.stats().queued).toBe(1);
    expect(b?.stats().queued).toBe(1);
    await clock.advance(600);
    expect(won?.limiter).toBe(b);
    expect(a?.stats().queued).toBe(0);
    // Not the caller's abort: another candidate admitted.
    expect(reasons).toEqual(['withdrawn']);
    await clock.advance(400);
    // When a frees, nothing of the withdrawn waiter is charged there.
    expect(a?.stats().requests[0]?.used).toBe(0);
  });

  it('preferFirstMs: a more preferred candidate that frees within it is waited for; one that frees later is not', async () => {
    const clock = new FakeClock();
    const [a, b] = limiters(
      clock,
      { requests: { limit: 1, windowMs: 100 } },
      { requests: { limit: 10, windowMs: 1_000 } },
    );
    (await (a as Limiter).acquire()).release();
    const start = clock.now();
    let won: Lease | undefined;
    void acquireAny([a as Limiter, b as Limiter], { preferFirstMs: 200 }).then((lease) => {
      won = lease;
    });
    await turns();
    expect(won).toBeUndefined();
    await clock.advance(100);
    expect(won?.limiter).toBe(a);
    expect(clock.now() - start).toBe(100);
    // b's lease, held meanwhile, was given back.
    expect(b?.stats()).toMatchObject({ inFlight: 0, requests: [{ used: 0 }] });

    // a frees only in 100 ms more, beyond a preferFirstMs of 50: b at once.
    const quick = await acquireAny([a as Limiter, b as Limiter], { preferFirstMs: 50 });
    expect(quick.limiter).toBe(b);
  });

  it('an abort withdraws it everywhere; when every candidate times out, the first one says so', async () => {
    const clock = new FakeClock();
    const [a, b] = limiters(clock, { concurrency: 1 }, { concurrency: 1 });
    const held = [await (a as Limiter).acquire(), await (b as Limiter).acquire()];
    const controller = new AbortController();
    const aborted = acquireAny([a as Limiter, b as Limiter], { signal: controller.signal });
    await turns();
    controller.abort(new Error('left'));
    await expect(aborted).rejects.toThrow('left');
    expect([a?.stats().queued, b?.stats().queued]).toEqual([0, 0]);
    const timed = acquireAny([a as Limiter, b as Limiter], { timeoutMs: 50 });
    const caught = timed.catch((e: unknown) => e);
    await clock.advance(50);
    expect(await caught).toBeInstanceOf(AcquireTimeoutError);
    for (const lease of held) lease.release();
    expect([a?.stats().inFlight, b?.stats().inFlight]).toEqual([0, 0]);
  });

  it('rejects bad input at once, naming it, with nothing queued', async () => {
    const clock = new FakeClock();
    const [a] = limiters(clock, { concurrency: 1 });
    const cases: [unknown, unknown, RegExp][] = [
      [[], undefined, /`candidates` to be a non-empty array/],
      [[{}], undefined, /`candidates\[0\]` to be a Limiter or \{ limiter, tokens\?, spend\? \}/],
      [[a, 'b'], undefined, /`candidates\[1\]`/],
      [[a], { preferFirstMs: -1 }, /preferFirstMs/],
      [[a], { preferFirstMs: Number.POSITIVE_INFINITY }, /preferFirstMs/],
      [[a], { preferFirstMs: Number.NaN }, /preferFirstMs/],
      [[a], { afterMs: 3 }, /afterMs/],
      [[{ limiter: a, tokens: -5 }], undefined, /tokens/],
    ];
    for (const [candidates, options, message] of cases) {
      await expect(acquireAny(candidates as never, options as never)).rejects.toThrow(message);
    }
    expect(a?.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });

  it('with asynchronous stores: one lease, and the candidate that lost keeps no charge', async () => {
    const stores = [new SlowStore(), new SlowStore()];
    const [a, b] = stores.map((store) => new Limiter({ requests: { limit: 5, windowMs: 60_000 }, store }));
    const lease = await acquireAny([a as Limiter, b as Limiter]);
    await turns(10);
    const used = [a, b].map((l) => l?.stats().requests[0]?.used);
    expect(used.filter((u) => u === 1)).toHaveLength(1);
    expect(used.reduce((s, u) => (s as number) + (u as number), 0)).toBe(1);
    expect(lease.limiter).toBe(used[0] === 1 ? a : b);
  });
});

const anyOp = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('any' as const),
      picks: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
      timeoutMs: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
      preferFirstMs: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      abortable: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 150 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
);

describe('acquireAny, property: a waiter in several queues', () => {
  it('never holds two leases, settles every call, and withdraws aborted and timed-out callers everywhere (memory and asynchronous stores)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyOp, { minLength: 1, maxLength: 40 }), fc.boolean(), async (ops, slow) => {
        const clock = new FakeClock();
        const all = [0, 1, 2].map(
          (i) =>
            new Limiter({
              clock,
              concurrency: 1 + (i % 2),
              requests: { limit: 3, windowMs: 200 },
              ...(slow && i !== 1 ? { store: new SlowStore() } : {}),
            }),
        );
        const held: Lease[] = [];
        const calls: { settled: boolean; controller: AbortController }[] = [];
        for (const o of ops) {
          if (o.kind === 'any') {
            const controller = new AbortController();
            const call = { settled: false, controller };
            calls.push(call);
            acquireAny(
              o.picks.map((p) => all[p] as Limiter),
              {
                ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
                ...(o.preferFirstMs === undefined ? {} : { preferFirstMs: o.preferFirstMs }),
                ...(o.abortable ? { signal: controller.signal } : {}),
              },
            ).then(
              (lease) => {
                call.settled = true;
                held.push(lease);
              },
              () => {
                call.settled = true;
              },
            );
          } else if (o.kind === 'advance') await clock.advance(o.ms);
          else if (o.kind === 'release' && held.length > 0) held.splice(o.pick % held.length, 1)[0]?.release();
          else if (o.kind === 'abort' && calls.length > 0)
            calls[o.pick % calls.length]?.controller.abort(new Error('x'));
          await turns(3);
          // Every lease a caller holds is counted where it was granted; beyond those, a call still
          // waiting holds at most one (for a more preferred candidate, under preferFirstMs).
          const pending = calls.filter((c) => !c.settled).length;
          let counted = 0;
          for (const limiter of all) {
            const inFlight = limiter.stats().inFlight;
            expect(inFlight).toBeGreaterThanOrEqual(held.filter((l) => l.limiter === limiter).length);
            counted += inFlight;
          }
          expect(counted).toBeLessThanOrEqual(held.length + pending);
        }
        // Everyone gives up or is served: free everything, let time pass, and every call settles.
        // Calls that cannot be aborted are served one after another, each once the last is released.
        for (const call of calls) call.controller.abort(new Error('end'));
        for (let round = 0; round <= calls.length && (held.length > 0 || calls.some((c) => !c.settled)); round++) {
          for (const lease of held.splice(0)) lease.release();
          await clock.advance(1_000);
          await turns(10);
        }
        for (const lease of held.splice(0)) lease.release();
        await turns(10);
        expect(calls.filter((c) => !c.settled)).toEqual([]);
        for (const limiter of all) expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
      }),
      { numRuns: 120 },
    );
  });
});
