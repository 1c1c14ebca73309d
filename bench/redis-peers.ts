/**
 * Helpers of the Redis benchmark (bench/redis.bench.ts): its row shape, a guard that turns a
 * failed measurement into a row with the error in its note, rate-limiter-flexible's
 * `RateLimiterRedis` measured the way the store's in-process rows are, and the admit script's
 * server time (from `INFO commandstats`, per script from `SLOWLOG` when other scripts ran too).
 */
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createClient } from 'redis';
import { Limiter } from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import { ADMIT, SCRIPTS } from '../src/redis/scripts.js';
import type { RedisServer } from '../test/helpers/redis-server.js';
import { fixed, sleep } from './core-util.js';

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
export async function ioredis(server: RedisServer): Promise<Redis> {
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

export interface ServerTime {
  /** Server microseconds per admit script run. */
  readonly usecPerCall: number;
  /** Server microseconds of admit script per admission (the same as per call when each call admits one). */
  readonly usecPerAdmission: number;
  readonly admitCalls: number;
  readonly admissions: number;
  /** How the figure was read, and what else ran. */
  readonly note: string;
}

/**
 * The admit script's server time for the common shape: two request windows and a token budget,
 * all far from their limits, no concurrency (so no release, renew or forget calls) and no
 * reconcile; one caller, 100 tokens per acquire, paced under 2,000 admissions/s (a fifth of the
 * tighter window). EVALSHA's `usec / calls` from `INFO commandstats` after `CONFIG RESETSTAT`; if
 * the store sent any other script meanwhile (counted at the client), the admit script's own figure
 * from `SLOWLOG` (every command logged during the phase) instead.
 */
export async function admitServerTime(server: RedisServer, admissions: number): Promise<ServerTime> {
  const socket = { host: '127.0.0.1', port: server.port };
  const client = createClient({ socket, disableOfflineQueue: true });
  const admin = createClient({ socket });
  client.on('error', () => {});
  admin.on('error', () => {});
  await Promise.all([client.connect(), admin.connect()]);
  const names = new Map(SCRIPTS.flatMap((s) => [[s.sha, s.name] as const, [s.source, s.name] as const]));
  const scripts: Record<string, number> = {};
  const send = client.sendCommand.bind(client) as (args: string[]) => Promise<unknown>;
  (client as unknown as { sendCommand: typeof send }).sendCommand = (args: string[]) => {
    if (args[0] === 'EVALSHA' || args[0] === 'EVAL') {
      const name = names.get(args[1] as string) ?? 'other-script';
      scripts[name] = (scripts[name] ?? 0) + 1;
    }
    return send(args);
  };
  const cmd = (...args: string[]): Promise<unknown> => admin.sendCommand(args);
  const saved = (await cmd('CONFIG', 'GET', 'slowlog-*')) as string[];
  const store = new RedisStore({ client, key: `bench-admit-${Date.now()}` });
  const outages = watchOutages(store);
  const limiter = new Limiter({
    requests: [
      { limit: 10_000, windowMs: 1_000 },
      { limit: 1_000_000, windowMs: 60_000 },
    ],
    tokens: { limit: 1e12, windowMs: 60_000 },
    store,
  });
  try {
    for (let i = 0; i < 200; i++) (await limiter.acquire({ tokens: 100 })).release();
    // The warm-up's entries leave the 1 s window: the measured phase starts far from it.
    await sleep(1_100);
    for (const k of Object.keys(scripts)) delete scripts[k];
    await cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0', 'slowlog-max-len', String(admissions * 20 + 10_000));
    await cmd('SLOWLOG', 'RESET');
    await cmd('CONFIG', 'RESETSTAT');
    for (let i = 0; i < admissions; i += 100) {
      const paceUntil = performance.now() + 50;
      for (let j = i; j < Math.min(admissions, i + 100); j++) (await limiter.acquire({ tokens: 100 })).release();
      await sleep(paceUntil - performance.now());
    }
    const info = String(await cmd('INFO', 'commandstats'));
    const slowlog = (await cmd('SLOWLOG', 'GET', String(admissions * 20 + 10_000))) as [
      unknown,
      unknown,
      number,
      string[],
    ][];
    const line = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
    if (line === null) throw new Error('no EVALSHA in INFO commandstats');
    const [serverCalls, serverUsec] = [Number(line[1]), Number(line[2])];
    const admitCalls = scripts[ADMIT.name] ?? 0;
    const others = Object.entries(scripts).filter(([name]) => name !== ADMIT.name);
    let usec = serverUsec;
    let calls = serverCalls;
    let how = `INFO commandstats: ${fixed(serverCalls, 0)} EVALSHA, all of them admit`;
    if (others.length > 0 || serverCalls !== admitCalls) {
      const admit = slowlog.filter((e) => e[3]?.[0]?.toUpperCase() === 'EVALSHA' && e[3]?.[1] === ADMIT.sha);
      usec = admit.reduce((sum, e) => sum + Number(e[2]), 0);
      calls = admit.length;
      const sent = others.map(([name, n]) => `${n} ${name}`).join(', ') || 'none';
      how =
        `SLOWLOG, admit script only (${fixed(calls, 0)} runs): other scripts sent: ${sent}; ` +
        `all EVALSHA from INFO commandstats: ${fixed(serverUsec / serverCalls, 1)} µs over ${fixed(serverCalls, 0)}`;
    }
    const outage = outages.verdict();
    if (outage !== undefined) throw new Error(outage);
    if (calls === 0) throw new Error('no admit script run was seen');
    return {
      usecPerCall: usec / calls,
      usecPerAdmission: usec / admissions,
      admitCalls,
      admissions,
      note: `${how}; ${fixed(admissions / admitCalls, 2)} admissions per admit call (client count)`,
    };
  } finally {
    // Best effort: a server left busy must not hide the error that got us here.
    const restore = async (): Promise<void> => {
      await limiter.close();
      for (let i = 0; i + 1 < saved.length; i += 2) {
        await cmd('CONFIG', 'SET', saved[i] as string, saved[i + 1] as string);
      }
      await cmd('SLOWLOG', 'RESET');
    };
    await bounded(restore(), 2_000).catch(() => {});
    client.destroy();
    admin.destroy();
  }
}
