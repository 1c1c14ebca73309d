/**
 * Helpers of the Redis benchmark (bench/redis.bench.ts): its row shape, a guard that turns a
 * failed measurement into a row with the error in its note, rate-limiter-flexible's
 * `RateLimiterRedis` measured the way the store's in-process rows are (the scripts' server time is
 * in bench/redis-server-time.ts).
 */
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createClient } from 'redis';
import type { RedisStore } from '../src/redis/index.js';
import type { RedisServer } from '../test/helpers/redis-server.js';
import { fixed } from './core-util.js';

export interface Row {
  readonly scenario: string;
  readonly processes: number;
  readonly callers: number;
  readonly admissions: number;
  readonly perSecond: number;
  readonly latencies: readonly number[];
  readonly callsPerAdmission: number;
  readonly note: string;
  /** Set when the measurement threw: its figures are NaN and the note holds the error. */
  readonly failed?: true;
}

/** An error's first line (a worker's error arrives as a whole stack), fit for a table cell. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').trim();
}

/** `promise`, or a rejection if it has not settled within `limitMs` (a wedged server hangs clients). */
export async function bounded<T>(promise: Promise<T>, limitMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${fixed(limitMs / 1_000, 1)} s`)), limitMs);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Before each measurement: the server must answer PING. One left busy by the measurement before
 * (a script that does not end answers BUSY to everyone else) or hung is restarted, so one broken
 * measurement does not fail every later one; the returned note says so.
 */
export async function checkServer(server: RedisServer, before: string): Promise<string | undefined> {
  const client = createClient({ socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: false } });
  client.on('error', () => {});
  let problem: string | undefined;
  try {
    const pong: unknown = await bounded(
      client.connect().then(() => client.sendCommand(['PING'])),
      2_000,
    );
    if (pong !== 'PONG') problem = `PING answered ${String(pong)}`;
  } catch (error) {
    problem = messageOf(error);
  } finally {
    client.destroy();
  }
  if (problem === undefined) return undefined;
  await server.restart();
  return `redis-server did not answer PING before ${before} (${problem}): restarted it (empty data and script cache).`;
}

/** Runs `measure`, bounded by `limitMs`; a throw or a hang becomes a row whose note says what happened. */
export async function attempt(
  shape: Pick<Row, 'scenario' | 'processes' | 'callers'>,
  limitMs: number,
  measure: () => Promise<Row>,
): Promise<Row> {
  try {
    return await bounded(measure(), limitMs);
  } catch (error) {
    process.stderr.write(`bench redis: ${shape.scenario} (${shape.callers} callers) failed: ${messageOf(error)}\n`);
    const nan = Number.NaN;
    return {
      ...shape,
      admissions: nan,
      perSecond: nan,
      latencies: [],
      callsPerAdmission: nan,
      note: `failed: ${messageOf(error)}`,
      failed: true,
    };
  }
}

/**
 * Watches a store for outages: under its default policy (`'local'`) it then admits from memory,
 * which would pass for a fast store. `verdict()` says why the figures are not Redis's, if so.
 */
export function watchOutages(store: RedisStore): { verdict: () => string | undefined } {
  let outages = 0;
  let first = '';
  store.on('outage', (event) => {
    if (outages++ === 0) first = messageOf(event.error);
  });
  return {
    verdict: () =>
      outages === 0
        ? undefined
        : `store outage during the run (${outages}x, first: ${first}): admissions came from its '${store.policy}' policy, not Redis`,
  };
}

/** An ioredis client as rate-limiter-flexible's documentation sets one up (no offline queue). */
export async function ioredis(server: Pick<RedisServer, 'port'>): Promise<Redis> {
  const client = new Redis({
    host: '127.0.0.1',
    port: server.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export const RLF = 'rate-limiter-flexible RateLimiterRedis';

/**
 * rate-limiter-flexible's `RateLimiterRedis` over its own ioredis client (its default client and
 * fast path: the increment script is a `defineCommand`, so EVALSHA), `callers` loops of
 * `await limiter.consume(key, 1)` for `durationMs`; points high enough that nobody is refused.
 * Commands are counted at the client (ioredis sends every one through `sendCommand`).
 */
export async function rateLimiterFlexible(server: RedisServer, callers: number, durationMs: number): Promise<Row> {
  const client = await ioredis(server);
  try {
    let calls = 0;
    const send = client.sendCommand.bind(client);
    client.sendCommand = (...args: Parameters<typeof send>) => {
      calls++;
      return send(...args);
    };
    const limiter = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `bench-rlf-${callers}-${Date.now()}`,
      points: 1_000_000_000,
      duration: 1,
    });
    const key = 'quota';
    // Warm-up: script cache (its first EVALSHA misses and falls back to EVAL), JIT, connection.
    for (let i = 0; i < 200; i++) await limiter.consume(key, 1);
    calls = 0;
    let refused = 0;
    const latencies: number[] = [];
    const started = performance.now();
    const end = started + durationMs;
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        const asked = performance.now();
        try {
          await limiter.consume(key, 1);
          latencies.push(performance.now() - asked);
        } catch (error) {
          // A refusal rejects with a RateLimiterRes (not an Error); a Redis error is an Error.
          if (error instanceof Error) throw error;
          refused++;
        }
      }
    };
    await Promise.all(Array.from({ length: callers }, loop));
    const elapsed = performance.now() - started;
    return {
      scenario: RLF,
      processes: 1,
      callers,
      admissions: latencies.length,
      perSecond: (latencies.length / elapsed) * 1_000,
      latencies,
      callsPerAdmission: calls / latencies.length,
      note: `ioredis${refused > 0 ? `; ${refused} refused (points too low?)` : ''}`,
    };
  } finally {
    client.disconnect();
  }
}
