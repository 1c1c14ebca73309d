import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveLimits } from '../src/limiter/limits.js';
import { type AdmitReply, admitArgs, parseAdmitReply } from '../src/redis/admit-protocol.js';
import { type QuotaKeys, quotaKeys } from '../src/redis/options.js';
import { writeBackArgs } from '../src/redis/recent-admissions.js';
import { ADMIT, ADMIT_STATUS, FORGET, RECONCILE, RESTAMP, RESTORE, type RedisScript } from '../src/redis/scripts.js';
import { type WindowLayout, layoutOf } from '../src/redis/window-layout.js';
import { SLACK_US } from '../src/redis/wire.js';
import {
  describeWithRedis,
  ioredisClient,
  nodeRedisClient,
  type RedisServer,
  startRedisServer,
  uniqueKey,
} from './helpers/redis-server.js';

/*
 * The Redis store's windows of an hour or more, kept as 100 buckets in the quota's state hash (see
 * src/redis/lua/prelude.ts), driven through the scripts themselves on a real server:
 * - against an exact log on random operations (admit, time passing, reconcile, cancel, restamp):
 *   never over the limit, never holding back more than the part of one bucket that has left the
 *   exact window, and a wait no later than one bucket width past the exact answer;
 * - with a day of admissions in it, an admission reads a bounded number of rows and the state keeps
 *   a hundred buckets at most, not an entry per admission.
 * Redis's clock is driven by the state's `clock` (the scripts never go below it), set far ahead of
 * the real clock before every script call.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;
const PREFIX = 'forestall:test';
const OPTIONS = { confirmBookings: false, leaseTtlMs: 30_000, pollMs: 50 } as const;

type NodeClient = Awaited<ReturnType<typeof nodeRedisClient>>;

describeWithRedis('the Redis store buckets windows of an hour or more', () => {
  let server: RedisServer;
  let client: NodeClient;
  const send = (args: string[]): Promise<unknown> => client.sendCommand(args) as Promise<unknown>;
  const run = (script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> =>
    send(['EVALSHA', script.sha, String(keys.length), ...keys, ...args]);
  /** Redis's time now, in microseconds. */
  const serverNow = async (): Promise<number> => {
    const [seconds, micros] = (await send(['TIME'])) as string[];
    return Number(seconds) * 1_000_000 + Number(micros);
  };
  const admitKeys = (keys: QuotaKeys): string[] => [keys.log, keys.conc, keys.state, keys.peers, keys.others];

  beforeAll(async () => {
    server = await startRedisServer();
    client = await nodeRedisClient(server.port);
    for (const script of [ADMIT, RECONCILE, FORGET, RESTAMP, RESTORE]) await send(['SCRIPT', 'LOAD', script.source]);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  /** An entry as the store believes it: its start on the server's clock (microseconds) and its charge. */
  interface Entry {
    readonly id: string;
    start: number;
    input: number;
    output: number;
  }

  /** A fresh quota whose Redis clock the test sets (`now`, server microseconds) before every script call. */
  async function quota(layout: WindowLayout) {
    const keys = quotaKeys(PREFIX, uniqueKey('buckets'));
    const t0 = (await serverNow()) + 30 * DAY * 1_000;
    const q = {
      keys,
      t0,
      now: t0,
      clock: () => send(['HSET', keys.state, 'clock', String(q.now)]),
      async admit(id: string, input: number, output: number): Promise<AdmitReply> {
        await q.clock();
        const args = admitArgs(
          [{ id, cost: { input, output }, mayBook: false, replace: false, fresh: true }],
          { concurrency: undefined, peer: '' },
          OPTIONS,
          layout,
        );
        return parseAdmitReply(await run(ADMIT, admitKeys(keys), args), 1);
      },
      /** RECONCILE to a new charge, `sure`. */
      async reconcile(e: Entry, input: number, output: number): Promise<unknown> {
        await q.clock();
        const charge = [
          String(input),
          String(output),
          '0',
          String(e.start),
          String(e.input),
          String(e.output),
          '0',
          '1',
        ];
        return run(RECONCILE, [keys.log, keys.state], [...layout.groups, layout.keep, e.id, ...charge]);
      },
      /** FORGET the entry (cancelled). */
      async forget(e: Entry): Promise<unknown> {
        await q.clock();
        const belief = [e.id, String(e.start), String(e.input), String(e.output), '0'];
        return run(FORGET, [keys.log, keys.conc, keys.state], [...layout.groups, layout.keep, '1', ...belief]);
      },
      /** RESTAMP the entry to start at `to` (no later than now). */
      async restamp(e: Entry, to: number): Promise<unknown> {
        await q.clock();
        const head = [...layout.groups, layout.keep, layout.longest, String(SLACK_US)];
        const belief = [String(e.start), String(e.input), String(e.output), '0'];
        return run(RESTAMP, [keys.log, keys.state], [...head, e.id, String(q.now - to), ...belief]);
      },
    };
    return q;
  }

  describe('a daily budget against the exact log', () => {
    const cost = { input: fc.integer({ min: 0, max: 400 }), output: fc.integer({ min: 0, max: 200 }) };
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('admit' as const), ...cost }) },
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.oneof(
            { weight: 2, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
            { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 * HOUR }) },
            { weight: 1, arbitrary: fc.integer({ min: DAY, max: DAY + 3 * HOUR }) },
          ),
        }),
      },
      // Asks again at the time a refusal named (when the refusal was the operation just before).
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('reconcile' as const), pick: fc.nat(), ...cost }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const), pick: fc.nat() }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('restamp' as const),
          pick: fc.nat(),
          ms: fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: DAY / 20 })),
        }),
      },
    );
    type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

    /** One run: a fresh quota, `ops` applied in order, every admission checked against the exact model. */
    async function check(ops: readonly Op[], tokenLimit: number, requestLimit: number | null): Promise<void> {
      const limits = resolveLimits({
        tokens: { limit: tokenLimit, windowMs: DAY },
        requests: requestLimit === null ? undefined : { limit: requestLimit, windowMs: DAY },
      });
      const layout = layoutOf(limits);
      const width = Number(layout.groups[1]);
      const span = Number(layout.groups[2]);
      expect(layout.groups).toEqual(['1', String(DAY * 10), String(DAY * 1_000)]);
      const q = await quota(layout);
      const { keys, t0 } = q;
      const entries: Entry[] = [];
      let serial = 0;
      let lastWait: { at: number; input: number; output: number } | undefined;
      const trace: string[] = [`token limit ${tokenLimit}, request limit ${requestLimit ?? 'none'}`];
      const rel = (t: number): string => `${(t - t0) / 1_000_000}s`;
      const fail = (message: string): never => {
        throw new Error(`${message}\ntrace (times from the start):\n  ${trace.join('\n  ')}`);
      };

      // The exact log: an entry counts while start + span > t.
      const used = (t: number): { tokens: number; requests: number } => {
        let tokens = 0;
        let requests = 0;
        for (const e of entries) {
          if (e.start + span > t) {
            tokens += e.input + e.output;
            requests++;
          }
        }
        return { tokens, requests };
      };
      // What has left the exact window but whose bucket still counts.
      const heldBack = (t: number): { tokens: number; requests: number } => {
        const from = Math.floor((t - span) / width) * width;
        let tokens = 0;
        let requests = 0;
        for (const e of entries) {
          if (e.start >= from && e.start + span <= t) {
            tokens += e.input + e.output;
            requests++;
          }
        }
        return { tokens, requests };
      };
      const fits = (t: number, need: number): boolean => {
        const u = used(t);
        return (
          (need === 0 || u.tokens + need <= tokenLimit) && (requestLimit === null || u.requests + 1 <= requestLimit)
        );
      };
      const exactEarliest = (need: number): number => {
        const now = q.now;
        const times = [now, ...entries.map((e) => e.start + span).filter((t) => t > now)].sort((a, b) => a - b);
        return times.find((t) => fits(t, need)) ?? Number.POSITIVE_INFINITY;
      };

      async function admit(input: number, output: number): Promise<void> {
        const need = input + output;
        const id = `e.${++serial}`;
        const now = q.now;
        const reply = await q.admit(id, input, output);
        const answer = reply.answers[0]!;
        trace.push(
          `at ${rel(now)}: admit ${id} (${input},${output}) -> status ${answer.status} at ${rel(answer.at)}, usage [${reply.usage.join(', ')}]`,
        );
        if (reply.now !== now) fail(`the script saw ${reply.now}, not the clock set (${now})`);
        const before = used(now);
        const back = heldBack(now);
        const usedTokens = reply.usage[reply.usage.length - 1]!;
        const usedRequests = requestLimit === null ? undefined : reply.usage[0]!;
        if (answer.status === ADMIT_STATUS.admitted) {
          if (answer.at !== now) fail(`${id} admitted at ${answer.at}, not now (${now})`);
          if (need > 0 && before.tokens + need > tokenLimit)
            fail(`${id} admitted over the token limit: exact use ${before.tokens} + ${need} > ${tokenLimit}`);
          if (requestLimit !== null && before.requests + 1 > requestLimit)
            fail(`${id} admitted over the request limit: exact count ${before.requests} + 1 > ${requestLimit}`);
          entries.push({ id, start: now, input, output });
          lastWait = undefined;
          // The usage reported includes the new entry.
          if (usedTokens < before.tokens + need - 1e-6 || usedTokens > before.tokens + need + back.tokens + 1e-6)
            fail(`token usage ${usedTokens} outside [${before.tokens + need}, ${before.tokens + need + back.tokens}]`);
          if (
            usedRequests !== undefined &&
            (usedRequests < before.requests + 1 || usedRequests > before.requests + 1 + back.requests)
          )
            fail(
              `request usage ${usedRequests} outside [${before.requests + 1}, ${before.requests + 1 + back.requests}]`,
            );
          return;
        }
        if (answer.status !== ADMIT_STATUS.wait) fail(`unexpected status ${answer.status}`);
        // Counted no less than the exact log, and beyond it only what has left it from the oldest live bucket.
        if (usedTokens < before.tokens - 1e-6 || usedTokens > before.tokens + back.tokens + 1e-6)
          fail(`token usage ${usedTokens} outside [${before.tokens}, ${before.tokens + back.tokens}]`);
        if (
          usedRequests !== undefined &&
          (usedRequests < before.requests || usedRequests > before.requests + back.requests)
        )
          fail(`request usage ${usedRequests} outside [${before.requests}, ${before.requests + back.requests}]`);
        // Refused: it does not fit even without what one bucket holds back.
        const tokensFull = need > 0 && before.tokens + need > tokenLimit - back.tokens;
        const requestsFull = requestLimit !== null && before.requests + 1 > requestLimit - back.requests;
        if (!tokensFull && !requestsFull)
          fail(
            `${id} refused though it fits beside what the oldest bucket holds back: tokens ${before.tokens} + ${need} ` +
              `(held back ${back.tokens}) of ${tokenLimit}, requests ${before.requests} (held back ${back.requests}) of ${requestLimit ?? 'none'}`,
          );
        // The time it names: the exact log fits then, and it is no more than one bucket width late.
        const exact = exactEarliest(need);
        if (answer.at <= now) fail(`${id} told to wait until ${answer.at}, not after now (${now})`);
        if (!fits(answer.at, need)) fail(`${id} would not fit the exact log at the time named (${rel(answer.at)})`);
        if (answer.at > exact + width + 2)
          fail(`${id} told to wait until ${rel(answer.at)}, over one bucket past the exact time ${rel(exact)}`);
        lastWait = { at: answer.at, input, output };
      }

      for (const o of ops) {
        if (o.kind === 'admit') {
          await admit(o.input, o.output);
          continue;
        }
        if (o.kind === 'retry') {
          const wait = lastWait;
          if (wait === undefined) continue;
          q.now = wait.at;
          await admit(wait.input, wait.output);
          if (lastWait !== undefined) fail('refused again at the time it named, with nothing changed');
          continue;
        }
        lastWait = undefined;
        if (o.kind === 'advance') {
          q.now += o.ms * 1_000;
          continue;
        }
        if (entries.length === 0) continue;
        const index = o.pick % entries.length;
        const e = entries[index]!;
        const at = rel(q.now);
        if (o.kind === 'reconcile') {
          const reply = await q.reconcile(e, o.input, o.output);
          trace.push(
            `at ${at}: reconcile ${e.id} (start ${rel(e.start)}, ${e.input},${e.output}) to (${o.input},${o.output}): ${reply}`,
          );
          if (reply !== 1) fail(`reconcile of ${e.id} answered ${reply}: the entry still counts`);
          e.input = o.input;
          e.output = o.output;
        } else if (o.kind === 'forget') {
          const reply = await q.forget(e);
          trace.push(`at ${at}: forget ${e.id} (start ${rel(e.start)}, ${e.input},${e.output}): ${reply}`);
          entries.splice(index, 1);
        } else {
          const to = Math.min(q.now, e.start + o.ms * 1_000);
          if (to <= e.start) continue;
          const reply = await q.restamp(e, to);
          trace.push(`at ${at}: restamp ${e.id} from ${rel(e.start)} to ${rel(to)}: ${reply}`);
          // Moved, unless even from its new start it has left the window (then nothing changes).
          const counts = to + span > q.now;
          if (reply !== (counts ? 1 : 0)) fail(`restamp of ${e.id} answered ${reply}, counting from there: ${counts}`);
          if (counts) e.start = to;
        }
      }
      await send(['DEL', ...Object.values(keys)]);
    }

    it('never admits over the limit, holds back at most one bucket, and names a time at most one width late', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 30, maxLength: 60 }),
          fc.integer({ min: 1_000, max: 8_000 }),
          fc.option(fc.integer({ min: 5, max: 40 })),
          (ops, tokenLimit, requestLimit) => check(ops, tokenLimit, requestLimit),
        ),
        // A failure is shrunk against the server too: bounded, so the counterexample is reported in time.
        { numRuns: 50, interruptAfterTimeLimit: 10_000 },
      );
    }, 30_000);

    it('reconciles an entry restamped after the log dropped it (a counterexample the property found)', async () => {
      const layout = layoutOf(resolveLimits({ tokens: { limit: 1_000, windowMs: DAY } }));
      const q = await quota(layout);
      const a: Entry = { id: 'a.1', start: q.now, input: 100, output: 0 };
      expect((await q.admit(a.id, 100, 0)).answers[0]!.status).toBe(ADMIT_STATUS.admitted);
      // Ten seconds on (the log's span when every window is bucketed) the next admission drops a.1
      // from the log; its bucket still counts it.
      q.now += 10_000_000;
      expect((await q.admit('b.1', 0, 0)).answers[0]!.status).toBe(ADMIT_STATUS.admitted);
      expect(await send(['ZSCORE', q.keys.log, a.id])).toBeNull();
      // The request reached the provider only now: counted from now.
      expect(await q.restamp(a, q.now)).toBe(1);
      a.start = q.now;
      // Its answer: it used 900 tokens, not 100.
      q.now += 1_000_000;
      expect(await q.reconcile(a, 900, 0)).toBe(1);
      a.input = 900;
      // 900 of the day's 1,000 are used: 800 more must wait.
      const c = await q.admit('c.1', 800, 0);
      expect(c.usage).toEqual([900]);
      expect(c.answers[0]!.status).toBe(ADMIT_STATUS.wait);
      await send(['DEL', ...Object.values(q.keys)]);
    });
  });

  describe('TPM + TPD with a day of admissions', () => {
    const N = [1_000, 30_000] as const;
    /** Admissions in the last minute, the same for every N: the rest are spread over the 12 hours before. */
    const RECENT = 20;
    const layout: WindowLayout = layoutOf(
      resolveLimits({
        tokens: [
          { limit: 1_000_000, windowMs: 60_000 },
          { limit: 1e12, windowMs: DAY },
        ],
      }),
    );
    const width = layout.groups[1]!;
    const quotas = new Map<number, QuotaKeys>();
    let watcher: Redis;
    let monitor: Redis;

    /** Writes back `n` admissions of 10 input tokens each with the store's RESTORE script. */
    async function fill(keys: QuotaKeys, n: number): Promise<void> {
      const head = [...layout.groups, layout.keep, layout.longest, '30000000', String(SLACK_US)];
      // On a clock whose now is 0: `at` is minus how long ago, in milliseconds.
      const entries = Array.from({ length: n }, (_, j) => ({
        id: `fill.${j}`,
        at: j < n - RECENT ? -(60_000 + (12 * HOUR * (n - RECENT - j)) / (n - RECENT)) : -1_500 * (n - j),
        cost: { input: 10, output: 0 },
        generation: 0,
      }));
      for (const call of writeBackArgs(entries, [], 0, head)) {
        await run(RESTORE, [keys.log, keys.conc, keys.state], call.args);
      }
    }

    beforeAll(async () => {
      for (const n of N) {
        const keys = quotaKeys(PREFIX, uniqueKey(`day-${n}`));
        await fill(keys, n);
        quotas.set(n, keys);
      }
      watcher = await ioredisClient(server.port);
      monitor = await watcher.monitor();
    });
    afterAll(() => {
      monitor?.disconnect();
      watcher?.disconnect();
    });

    /** The commands the scripts ran while `action` did, as MONITOR shows them ("[0 lua]" lines). */
    async function luaCommands(action: () => Promise<unknown>): Promise<{ result: unknown; commands: string[][] }> {
      const marker = uniqueKey('marker');
      const seen: string[][] = [];
      let recording = false;
      let resolveDone: () => void = () => {};
      let resolveStarted: () => void = () => {};
      const started = new Promise<void>((r) => {
        resolveStarted = r;
      });
      const done = new Promise<void>((r) => {
        resolveDone = r;
      });
      const listener = (_time: string, args: string[], source: string): void => {
        if (args[0]?.toUpperCase() === 'ECHO' && args[1] === `${marker}-start`) {
          recording = true;
          resolveStarted();
        } else if (args[0]?.toUpperCase() === 'ECHO' && args[1] === `${marker}-end`) {
          recording = false;
          resolveDone();
        } else if (recording && source === 'lua') seen.push(args);
      };
      monitor.on('monitor', listener);
      try {
        await send(['ECHO', `${marker}-start`]);
        await started;
        const result = await action();
        await send(['ECHO', `${marker}-end`]);
        await done;
        return { result, commands: seen };
      } finally {
        monitor.off('monitor', listener);
      }
    }

    const READS = new Set(['HMGET', 'HGET', 'ZRANGE', 'ZREVRANGE', 'ZRANGEBYSCORE', 'ZCOUNT', 'ZSCORE', 'HGETALL']);
    const probes = new Map<number, { reads: number; commands: string[][] }>();

    it.each(N)('keeps the day in buckets, not per entry (N = %i)', async (n) => {
      const keys = quotas.get(n)!;
      const zcard = await send(['ZCARD', keys.log]);
      const hlen = Number(await send(['HLEN', keys.state]));
      // The minute's entries, in the log and with their charges in the state; the rest only in buckets.
      expect(zcard).toBe(RECENT);
      expect(hlen).toBeLessThan(300);
      expect(hlen).toBeLessThan(RECENT + 101 + 16);
    });

    it('the state is the same size for both N', async () => {
      const sizes = await Promise.all(N.map((n) => send(['HLEN', quotas.get(n)!.state])));
      // The same minute's entries and scalars; the buckets of 12 hours, give or take one at an edge.
      expect(Math.abs(Number(sizes[0]) - Number(sizes[1]))).toBeLessThanOrEqual(1);
    });

    it.each(N)('one admission reads a bounded number of rows (N = %i)', async (n) => {
      const keys = quotas.get(n)!;
      const now = await serverNow();
      const args = admitArgs(
        [{ id: `probe.${n}`, cost: { input: 100, output: 0 }, mayBook: false, replace: false, fresh: true }],
        { concurrency: undefined, peer: '' },
        OPTIONS,
        layout,
      );
      const { result, commands } = await luaCommands(() => run(ADMIT, admitKeys(keys), args));
      const reply = parseAdmitReply(result, 1);
      expect(reply.answers[0]!.status).toBe(ADMIT_STATUS.admitted);
      // The minute: its 20 entries and the new one; the day: every entry written back and the new one.
      expect(reply.usage).toEqual([RECENT * 10 + 100, n * 10 + 100]);
      expect(commands.length).toBeGreaterThan(0);
      let reads = 0;
      const keep = Number(layout.keep);
      for (const [name, ...rest] of commands) {
        const command = name!.toUpperCase();
        if (!READS.has(command)) continue;
        reads += rest.length;
        // Never the whole state, nor a range reaching back over the day.
        if (command === 'HGETALL') expect(rest[0]).not.toBe(keys.state);
        if (command === 'ZRANGEBYSCORE' || command === 'ZCOUNT') {
          const min = rest[1]!.replace('(', '');
          expect(min).not.toBe('-inf');
          expect(Number(min)).toBeGreaterThanOrEqual(now - keep - 10_000_000);
        }
        if (command === 'ZRANGE' || command === 'ZREVRANGE') {
          const [start, stop] = [Number(rest[1]), Number(rest[2])];
          expect(rest.some((a) => /^BYSCORE$/i.test(a))).toBe(false);
          if (start >= 0) {
            expect(stop).toBeGreaterThanOrEqual(0);
            expect(stop - start).toBeLessThan(100);
          } else expect(stop - start).toBeLessThan(100);
        }
      }
      expect(reads).toBeLessThan(200);
      probes.set(n, { reads, commands });
    });

    it('reads as much with 30,000 admissions in the day as with 1,000', () => {
      const [small, large] = N.map((n) => probes.get(n));
      expect(small).toBeDefined();
      expect(large).toBeDefined();
      expect(Math.abs(small!.reads - large!.reads)).toBeLessThanOrEqual(8);
      expect(large!.commands.map((c) => c[0]!.toUpperCase())).toEqual(small!.commands.map((c) => c[0]!.toUpperCase()));
    });

    it('a daily window of 30,000 admissions takes at most a hundred buckets of memory', async () => {
      const keys = quotas.get(30_000)!;
      const flat = (await send(['HGETALL', keys.state])) as unknown;
      const fields =
        flat instanceof Map
          ? [...flat.keys()].map(String)
          : Array.isArray(flat)
            ? flat.filter((_, i) => i % 2 === 0).map(String)
            : Object.keys(flat as object);
      const bucket = new RegExp(`^${width}:\\d+$`);
      const buckets = fields.filter((f) => bucket.test(f));
      expect(buckets.length).toBeGreaterThan(0);
      expect(buckets.length).toBeLessThanOrEqual(101);
      // Per entry only the minute's (and the probe's): ids have a '.'.
      expect(fields.filter((f) => f.includes('.')).length).toBeLessThanOrEqual(RECENT + 1);
      const bytes = async (key: string): Promise<number> =>
        Number((await send(['MEMORY', 'USAGE', key, 'SAMPLES', '0'])) ?? 0);
      const total = (await bytes(keys.state)) + (await bytes(keys.log));
      expect(total).toBeLessThan(30_000 * 32);
      expect(total).toBeLessThan(32_000);
    });
  });
});
