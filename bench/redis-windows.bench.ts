/**
 * Long windows in Redis: the server time of one admission (from `INFO commandstats`) when a
 * day's window holds N admissions, for a per-minute budget beside a daily one (TPM + TPD, the
 * minute far from its limit, the day farther), and for a daily budget close to its limit (the
 * admission must find when room comes); and the Redis memory each admission of a daily window
 * leaves. Starts its own throwaway redis-server. The window is filled with the store's own
 * write-back script (RESTORE), as admissions spread over the last 12 hours.
 */
import { spawnSync } from 'node:child_process';
import { createClient } from 'redis';
import { Limiter, type WindowLimit } from '../src/index.js';
import { resolveLimits } from '../src/limiter/limits.js';
import { type NodeRedisClientLike, RedisStore } from '../src/redis/index.js';
import { writeBackArgs } from '../src/redis/recent-admissions.js';
import { RESTORE } from '../src/redis/scripts.js';
import { layoutOf } from '../src/redis/window-layout.js';
import { SLACK_US } from '../src/redis/wire.js';
import { redisServerAvailable, startRedisServer } from '../test/helpers/redis-server.js';
import { fixed, table, verdict } from './core-util.js';
import { evalshaTime } from './redis-server-time.js';

const TITLE = 'Redis store: long windows';
const DAY = 86_400_000;
const SIZES = [10_000, 100_000, 300_000];
const ADMISSIONS = 100;

/** A node-redis client: the store's, and the one the figures are read with. */
type Client = NodeRedisClientLike & { sendCommand(args: string[]): Promise<unknown> };

/** Writes back `n` admissions of 10 input tokens each, spread over the last 12 hours (a minute ago at the latest). */
async function fill(client: Client, store: RedisStore, tokens: WindowLimit[], n: number): Promise<void> {
  const layout = layoutOf(resolveLimits({ tokens }));
  const head = [...layout.groups, layout.keep, layout.longest, '30000000', String(SLACK_US)];
  const now = performance.now();
  const entries = Array.from({ length: n }, (_, j) => ({
    id: `fill.${j}`,
    at: now - 60_000 - (12 * 3_600_000 * (n - j)) / n,
    cost: { input: 10, output: 0 },
    generation: 0,
  }));
  const { log, conc, state } = store.keys;
  for (const call of writeBackArgs(entries, [], now, head)) {
    await client.sendCommand(['EVAL', RESTORE.source, '3', log, conc, state, ...call.args]);
  }
}

/** Bytes of memory the server uses (`INFO memory`). */
async function usedMemory(client: Client): Promise<number> {
  const info = String(await client.sendCommand(['INFO', 'memory']));
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** Server time per admission, and the memory each of the `n` admissions written back left in Redis. */
async function measure(
  client: Client,
  n: number,
  tokens: WindowLimit[],
  admissions: number,
): Promise<{ usec: number; bytes: number }> {
  const key = `bench-long-${n}-${tokens.length}-${Date.now()}`;
  // A walk of a long log can outlast the default second: no outage is wanted here.
  const store = new RedisStore({ client, key, commandTimeoutMs: 60_000 });
  const limiter = new Limiter({ tokens, store });
  // Creates the keys and caches the script.
  (await limiter.acquire({ tokens: 10 })).release();
  const before = await usedMemory(client);
  await fill(client, store, tokens, n);
  // Redis finishes growing its tables in the background (incremental rehashing): not the script's cost.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const bytes = ((await usedMemory(client)) - before) / n;
  const time = await evalshaTime(
    (...args) => client.sendCommand(args),
    async () => {
      for (let i = 0; i < admissions; i++) {
        // Near the limit the answer is a booked slot far ahead: refused at once (timeoutMs 0), not awaited.
        (await limiter.acquire({ tokens: 10, timeoutMs: 0 }).catch(() => undefined))?.release();
      }
    },
  );
  if (time.calls === 0) throw new Error('no EVALSHA in INFO commandstats');
  const usec = time.usec / time.calls;
  await limiter.close();
  await client.sendCommand(['DEL', ...Object.values(store.keys)]);
  return { usec, bytes };
}

export default async function redisWindows(): Promise<{ title: string; markdown: string }> {
  if (!redisServerAvailable) return { title: TITLE, markdown: 'Skipped: no `redis-server` on this machine.' };
  const server = await startRedisServer();
  const redis = createClient({ socket: { host: '127.0.0.1', port: server.port } });
  redis.on('error', () => {});
  await redis.connect();
  const client = redis as unknown as Client;
  const rows: string[][] = [];
  const both: Record<number, number> = {};
  const near: Record<number, number> = {};
  const bytes: Record<number, number> = {};
  try {
    for (const n of SIZES) {
      both[n] = (
        await measure(
          client,
          n,
          [
            { limit: 1_000_000, windowMs: 60_000 },
            { limit: 1e12, windowMs: DAY },
          ],
          ADMISSIONS,
        )
      ).usec;
      // The day's budget a hair above what the window holds: every admission must find when room comes.
      const daily = await measure(client, n, [{ limit: 10 * n + 15, windowMs: DAY }], 5);
      near[n] = daily.usec;
      bytes[n] = daily.bytes;
      rows.push([
        fixed(n, 0),
        `${fixed(both[n] as number, 0)} µs`,
        `${fixed(near[n] as number, 0)} µs`,
        `${fixed(bytes[n] as number, 2)} B`,
      ]);
    }
  } finally {
    redis.destroy();
    await server.stop();
  }
  const version = /v=(\S+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1];
  const goals = [
    [
      'any admission with TPM + TPD at 100,000 entries <= 1 ms of server time',
      `${fixed(both[100_000] as number, 0)} µs`,
      verdict((both[100_000] as number) <= 1_000),
    ],
    [
      'an admission that must wait on a daily budget with 300,000 entries <= 1 ms of server time',
      `${fixed(near[300_000] as number, 0)} µs`,
      verdict((near[300_000] as number) <= 1_000),
    ],
    [
      'Redis memory per admission of a daily window (300,000 admissions over 12 hours) <= 32 bytes',
      `${fixed(bytes[300_000] as number, 2)} B`,
      verdict((bytes[300_000] as number) <= 32),
    ],
  ];
  const markdown = [
    table(['goal', 'measured', 'result'], goals),
    '',
    `Server time per admission (\`INFO commandstats\`, EVALSHA usec / calls over ${ADMISSIONS} admissions, 5 near the limit), and Redis memory (\`used_memory\` growth / admissions) of the daily budget, by admissions in the day, redis-server ${version ?? '(unknown)'}:`,
    '',
    table(
      [
        'admissions in the day',
        'TPM + TPD (minute far from its limit)',
        'daily budget near its limit',
        'memory per admission, daily budget',
      ],
      rows,
    ),
    '',
    "A window of an hour or more is kept in Redis as 100 buckets (the memory store's rule): an admission, or the wait for room, reads a bucket or at most the window's hundred, whatever the number of admissions, and the memory is the buckets'. Before the buckets (session 5, commit 3328e63 and after): a daily budget near its limit cost 326-358 ms per admission at 300,000 entries, TPM + TPD 156-234 µs at 100,000 (and 158 ms before the minute's budget read only the minute's entries), and each admission kept 178 bytes in Redis. The log still keeps every admission of the last `keep` (the longest window under an hour, or 10 s when every window is bucketed), about 110 bytes each: a bound by the rate, not by the day.",
  ].join('\n');
  return { title: TITLE, markdown };
}
