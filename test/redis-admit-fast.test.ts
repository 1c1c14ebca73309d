import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LimitOptions } from '../src/core/vocabulary.js';
import { resolveLimits } from '../src/limiter/limits.js';
import { admitArgs, parseAdmitReply } from '../src/redis/admit-protocol.js';
import { FAST_ADMIT } from '../src/redis/lua/admit-fast.js';
import { BATCH, BATCH_FROM } from '../src/redis/lua/admit-parts.js';
import { script } from '../src/redis/lua/prelude.js';
import { type QuotaKeys, quotaKeys } from '../src/redis/options.js';
import { ADMIT, ADMIT_STATUS, FORGET, RECONCILE, type RedisScript } from '../src/redis/scripts.js';
import { layoutOf, type WindowLayout } from '../src/redis/window-layout.js';
import {
  describeWithRedis,
  nodeRedisClient,
  type RedisServer,
  startRedisServer,
  uniqueKey,
} from './helpers/redis-server.js';

/*
 * The admit script runs a fast path first (src/redis/lua/admit-fast.ts): one new request far from
 * every limit, admitted in few steps. It must leave exactly what the general path leaves and answer
 * as it answers. On random operations (admissions near and far from the limits, resends, time
 * passing, reconciles, cancels) against two copies of a quota, one driven by the script and one by
 * the script without its fast path, every reply, the state hash, the log and the keys' expiry agree
 * after every step; a third script, the fast path alone, tells on a copy which path each
 * admission took, so the run is known to have taken both. Beside it: the state is a hash table from
 * its creation, and the clock the fast path records on Redis's own time.
 */

const PREFIX = 'forestall:test';
const OPTIONS = { confirmBookings: false, leaseTtlMs: 30_000, pollMs: 50 } as const;

const SHAPES: readonly LimitOptions[] = [
  // The common shape: two request windows and a token budget (one exact window shorter than the log).
  {
    requests: [
      { limit: 4, windowMs: 1_000 },
      { limit: 9, windowMs: 10_000 },
    ],
    tokens: { limit: 900, windowMs: 10_000 },
  },
  // Limits a steady stream does not reach: the log's oldest entries leave while it flows.
  {
    requests: [
      { limit: 50, windowMs: 1_000 },
      { limit: 400, windowMs: 3_000 },
    ],
    tokens: { limit: 1e6, windowMs: 3_000 },
  },
  // One request window: the log's count is the window's.
  { requests: { limit: 3, windowMs: 2_000 } },
  // Input, output and spend budgets apart.
  {
    inputTokens: { limit: 500, windowMs: 5_000 },
    outputTokens: { limit: 300, windowMs: 5_000 },
    spend: { limit: 2.5, windowMs: 5_000 },
  },
  // A concurrency limit: never the fast path, and still alike.
  { requests: { limit: 5, windowMs: 1_000 }, concurrency: 2 },
];

type Op =
  | { kind: 'admit'; input: number; output: number; spend: number; resend: boolean }
  | { kind: 'wait'; ms: number }
  | { kind: 'reconcile'; input: number; output: number }
  | { kind: 'forget' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      input: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
      output: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 })),
      spend: fc.oneof(fc.constant(0), fc.constantFrom(0.1, 0.25, 1)),
      resend: fc.boolean(),
    }),
  },
  // Short waits make a steady stream, whose oldest entries leave one or two at a time.
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 12_000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reconcile' as const),
      input: fc.integer({ min: 0, max: 300 }),
      output: fc.integer({ min: 0, max: 300 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const) }) },
);

/** The admit script's arguments for one new request of 10 input tokens, no concurrency limit, no peer count. */
function freshArgs(layout: WindowLayout, id: string): string[] {
  const ask = { id, cost: { input: 10, output: 0 }, mayBook: false, replace: false, fresh: true };
  return admitArgs([ask], { concurrency: undefined, peer: '' }, OPTIONS, layout);
}

type NodeClient = Awaited<ReturnType<typeof nodeRedisClient>>;

describeWithRedis('the admit script takes a fast path that leaves what the general path leaves', () => {
  let server: RedisServer;
  let client: NodeClient;
  const send = (args: string[]): Promise<unknown> => client.sendCommand(args) as Promise<unknown>;
  const run = (s: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> =>
    send(['EVALSHA', s.sha, String(keys.length), ...keys, ...args]);
  const admitKeys = (keys: QuotaKeys): string[] => [keys.log, keys.conc, keys.state, keys.peers, keys.others];

  const at = ADMIT.source.indexOf(FAST_ADMIT);
  const GENERAL = script('admit-general', ADMIT.source.slice(0, at) + ADMIT.source.slice(at + FAST_ADMIT.length));
  // The fast path alone: an answer when it admits, 0 when it hands over.
  const FAST_ONLY = script('admit-fast-only', `${ADMIT.source.slice(0, at + FAST_ADMIT.length)}\nreturn 0\n`);

  beforeAll(async () => {
    server = await startRedisServer();
    client = await nodeRedisClient(server.port);
    for (const s of [ADMIT, GENERAL, FAST_ONLY, RECONCILE, FORGET]) await send(['SCRIPT', 'LOAD', s.source]);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  /** What a quota's keys hold, for comparison: the state, the log and the leases. */
  async function contents(keys: QuotaKeys): Promise<unknown> {
    const state = (await send(['HGETALL', keys.state])) as unknown;
    const log = await send(['ZRANGE', keys.log, '0', '-1', 'WITHSCORES']);
    const conc = await send(['ZRANGE', keys.conc, '0', '-1']);
    return { state, log, conc };
  }
  /** The keys' expiry in milliseconds (negative: none, or no key). */
  const ttls = async (keys: QuotaKeys): Promise<number[]> =>
    Promise.all([keys.state, keys.log].map(async (key) => Number(await send(['PTTL', key]))));
  /** Set in the same step a few milliseconds apart, the expiries agree within a second. */
  function expectSameExpiry(a: readonly number[], b: readonly number[], step: string): void {
    for (const [k, ms] of a.entries()) {
      const other = b[k] as number;
      expect(ms < 0 ? ms : 'set', step).toBe(other < 0 ? other : 'set');
      expect(Math.abs(ms - other), step).toBeLessThanOrEqual(1_000);
    }
  }

  const taken = { fast: 0, general: 0 };

  /** Runs `ops` on both copies; the keys are compared after every step from `keysFrom` on (the replies always). */
  async function compare(limits: LimitOptions, ops: readonly Op[], keysFrom = 0): Promise<void> {
    const layout: WindowLayout = layoutOf(resolveLimits(limits));
    const name = uniqueKey('fast');
    const both = [quotaKeys(PREFIX, `${name}-a`), quotaKeys(PREFIX, `${name}-b`)] as const;
    const scratch = quotaKeys(PREFIX, `${name}-c`);
    const [seconds] = (await send(['TIME'])) as string[];
    let now = (Number(seconds) + 30 * 86_400) * 1_000_000;
    const ids: string[] = [];
    let n = 0;
    for (const [index, o] of ops.entries()) {
      if (o.kind === 'wait') {
        now += o.ms * 1_000;
        continue;
      }
      let args: string[];
      let scriptOf: (fastPath: boolean) => RedisScript;
      let keysOf: (keys: QuotaKeys) => string[];
      if (o.kind === 'admit') {
        const id = o.resend && ids.length > 0 ? (ids[ids.length - 1] as string) : `q.${n++}`;
        if (id !== ids[ids.length - 1]) ids.push(id);
        const cost = { input: o.input, output: o.output, spend: o.spend };
        const concurrency = resolveLimits(limits).concurrency;
        const call = { concurrency: Number.isFinite(concurrency) ? concurrency : undefined, peer: '' };
        args = admitArgs([{ id, cost, mayBook: false, replace: false, fresh: true }], call, OPTIONS, layout);
        scriptOf = (fastPath) => (fastPath ? ADMIT : GENERAL);
        keysOf = admitKeys;
        // Which path would take it, told on a copy of the quota.
        for (const k of ['log', 'state'] as const) {
          await send(['DEL', scratch[k]]);
          if (Number(await send(['EXISTS', both[1][k]])) === 1) await send(['COPY', both[1][k], scratch[k]]);
        }
        await send(['HSET', scratch.state, 'clock', String(now)]);
        const fast = await run(FAST_ONLY, admitKeys(scratch), args);
        taken[fast === 0 ? 'general' : 'fast']++;
      } else {
        const id = ids[Math.floor(ids.length / 2)];
        if (id === undefined) continue;
        const belief = ['-1', '0', '0', '0'];
        if (o.kind === 'reconcile') {
          args = [...layout.groups, layout.keep, id, String(o.input), String(o.output), '0', ...belief, '1'];
          scriptOf = () => RECONCILE;
          keysOf = (keys) => [keys.log, keys.state];
        } else {
          args = [...layout.groups, layout.keep, '1', id, ...belief];
          scriptOf = () => FORGET;
          keysOf = (keys) => [keys.log, keys.conc, keys.state];
        }
      }
      const replies = [];
      for (const [k, keys] of both.entries()) {
        await send(['HSET', keys.state, 'clock', String(now)]);
        replies.push(await run(scriptOf(k === 0), keysOf(keys), args));
      }
      expect(replies[0], `${o.kind} at ${now}`).toEqual(replies[1]);
      const step = `after ${o.kind} at ${now}`;
      if (index < keysFrom && index % 100 !== 0) continue;
      expect(await contents(both[0]), step).toEqual(await contents(both[1]));
      expectSameExpiry(await ttls(both[0]), await ttls(both[1]), step);
    }
  }

  it('on random operations, for each shape of windows, the replies and the keys agree after every step', async () => {
    for (const limits of SHAPES) {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 80, size: 'max' }), (ops) => compare(limits, ops)),
        { numRuns: 15 },
      );
    }
    // Both paths ran, many times each.
    expect(taken.fast).toBeGreaterThan(30);
    expect(taken.general).toBeGreaterThan(30);
  }, 120_000);

  it('with a log long enough to drop its entries in batches, the replies and the keys agree after every step', async () => {
    const before = { ...taken };
    // Far from its limits: a steady stream of requests a few milliseconds apart through a log of
    // BATCH_FROM and more, whose oldest entries leave a few at a time and are dropped a batch at a time.
    const limits: LimitOptions = {
      requests: [
        { limit: 100_000, windowMs: 1_000 },
        { limit: 1_000_000, windowMs: 2_000 },
      ],
      tokens: { limit: 1e9, windowMs: 2_000 },
    };
    const admit: Op = { kind: 'admit', input: 100, output: 0, spend: 0, resend: false };
    // 3 ms apart for 2.25 s: the log reaches 666 entries, and its oldest leave as the stream goes on.
    const fill = Array.from({ length: 750 }, (): Op[] => [admit, { kind: 'wait', ms: 3 }]).flat();
    const stream = fc.array(
      fc.oneof(
        { weight: 8, arbitrary: op.filter((o) => o.kind === 'admit') },
        { weight: 8, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 4 }) }) },
        // Enough time for more than a batch to leave, or more than the fast path drops.
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 20, max: 150 }) }),
        },
        { weight: 1, arbitrary: op.filter((o) => o.kind === 'reconcile' || o.kind === 'forget') },
      ),
      { minLength: 150, maxLength: 250, size: 'max' },
    );
    await fc.assert(
      fc.asyncProperty(stream, (ops) => compare(limits, [...fill, ...ops], fill.length)),
      { numRuns: 3, endOnFailure: true },
    );
    expect(taken.fast - before.fast).toBeGreaterThan(500);
    expect(taken.general - before.general).toBeGreaterThan(3);
  }, 120_000);

  it('a long log keeps fewer than BATCH entries that have left, and decides at its limit as if it kept none', async () => {
    const limit = BATCH_FROM + 44;
    const layout = layoutOf(
      resolveLimits({ requests: { limit, windowMs: 10_000 }, tokens: { limit: 1e9, windowMs: 10_000 } }),
    );
    const keys = quotaKeys(PREFIX, uniqueKey('batch'));
    const [seconds] = (await send(['TIME'])) as string[];
    const t0 = (Number(seconds) + 30 * 86_400) * 1_000_000;
    let n = 0;
    const admitAt = async (now: number): Promise<ReturnType<typeof parseAdmitReply>> => {
      await send(['HSET', keys.state, 'clock', String(now)]);
      const args = freshArgs(layout, `b.${n++}`);
      return parseAdmitReply(await run(ADMIT, admitKeys(keys), args), 1);
    };
    // The window full, one admission a millisecond.
    for (let k = 0; k < limit; k++)
      expect((await admitAt(t0 + k * 1_000)).answers[0]?.status).toBe(ADMIT_STATUS.admitted);
    expect((await admitAt(t0 + limit * 1_000)).answers[0]?.status).toBe(ADMIT_STATUS.wait);
    const live = async (now: number): Promise<number> =>
      Number(await send(['ZCOUNT', keys.log, `(${now - 10_000_000}`, '+inf']));
    const held = async (): Promise<number> => Number(await send(['ZCARD', keys.log]));
    for (let gone = 1; gone <= 3 * BATCH; gone++) {
      // `gone` of the oldest have left: each frees a place at once, kept in the log or not.
      const now = t0 + 10_000_000 + (gone - 1) * 1_000;
      const reply = await admitAt(now);
      expect(reply.answers[0]?.status, `${gone} gone`).toBe(ADMIT_STATUS.admitted);
      const inWindow = await live(now);
      expect(inWindow).toBe(limit);
      // Fewer than BATCH that left are still held (and counted in the reported use).
      expect((await held()) - inWindow, `${gone} gone`).toBeLessThan(BATCH);
      expect((reply.usage[0] as number) - inWindow).toBeLessThan(BATCH);
      expect(reply.usage[0]).toBeGreaterThanOrEqual(inWindow);
      // Full again: the next one at the same time waits.
      expect((await admitAt(now)).answers[0]?.status, `${gone} gone`).toBe(ADMIT_STATUS.wait);
    }
  });

  it('the state is a hash table from its first admission: no field read or added scans a listpack of entries', async () => {
    const layout = layoutOf(resolveLimits(SHAPES[0] as LimitOptions));
    const keys = quotaKeys(PREFIX, uniqueKey('encoding'));
    const args = freshArgs(layout, 'e.0');
    await run(ADMIT, admitKeys(keys), args);
    // A handful of fields: a listpack by the server's defaults, but for the one made too long for it.
    expect(Number(await send(['HLEN', keys.state]))).toBeLessThan(20);
    expect(await send(['OBJECT', 'ENCODING', keys.state])).toBe('hashtable');
  });

  it("on Redis's own clock, the fast path records it as the general path does: the state's clock is the answer's now", async () => {
    const layout = layoutOf(resolveLimits(SHAPES[0] as LimitOptions));
    for (const s of [ADMIT, GENERAL]) {
      const keys = quotaKeys(PREFIX, uniqueKey('clock'));
      const nows: number[] = [];
      // The first admission sets the keys' expiry (the general path); those after it find it set.
      for (let k = 0; k < 3; k++) {
        const args = freshArgs(layout, `c.${k}`);
        const reply = parseAdmitReply(await run(s, admitKeys(keys), args), 1);
        expect(reply.answers[0]?.status).toBe(ADMIT_STATUS.admitted);
        nows.push(reply.now);
        expect(Number(await send(['HGET', keys.state, 'clock'])), `${s.name}, admission ${k}`).toBe(reply.now);
      }
      expect(nows[2]).toBeGreaterThan(nows[0] as number);
    }
  });
});
