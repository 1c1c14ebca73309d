/**
 * Server time per script call, for the Redis benchmark (bench/redis.bench.ts): forestall's admit
 * script through a real limiter, and, in the same run and measured alike, rate-limiter-flexible's
 * `RateLimiterRedis` script and a minimal sliding-window script (the floor a script of this kind
 * costs). The figure is EVALSHA's `usec / calls` from `INFO commandstats` after `CONFIG RESETSTAT`;
 * if the store sent another script during the phase (counted at the client), the phase runs again
 * with every command logged and the admit script's own figure comes from `SLOWLOG` (which costs
 * about a microsecond per command inside a script, so it reads high).
 *
 * Two paces: back to back (each call right after the last answer, as on a busy server: the
 * figure the 45-65 µs for the old script was measured by) and paced (2,000 calls a second
 * in bursts of 100 with pauses, so the server idles between them and its caches go cold).
 */
import { createHash } from 'node:crypto';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createClient } from 'redis';
import { Limiter } from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import { ADMIT, SCRIPTS } from '../src/redis/scripts.js';
import type { RedisServer } from '../test/helpers/redis-server.js';
import { fixed, sleep } from './core-util.js';
import { ioredis, watchOutages } from './redis-peers.js';

/**
 * How the calls come: from 8 limiters on 8 keys with one caller each (the server kept busy, each call
 * still one admission), from one caller back to back, or from one caller paced.
 */
export type Pace = 'busy' | 'back to back' | 'paced';

export interface ServerTime {
  /** Server microseconds per admit script run (under another meter, what it counts). */
  readonly perCall: number;
  /** The same per admission (the same as per call when each call admits one). */
  readonly perAdmission: number;
  readonly admitCalls: number;
  readonly admissions: number;
  /** How the figure was read, and what else ran. */
  readonly note: string;
}

/** The same figure for another library's script, or for the minimal script. */
export interface PeerTime {
  readonly name: string;
  /** Server microseconds per call (under another meter, what it counts). */
  readonly perCall: number;
  readonly calls: number;
}

/** A command sent to the measured server. */
export type Command = (...args: string[]) => Promise<unknown>;

/**
 * EVALSHA's calls and microseconds while `phase` runs (the server's statistics reset first); no
 * EVALSHA ran: 0 calls, NaN microseconds.
 */
export async function evalshaTime(cmd: Command, phase: () => Promise<void>): Promise<{ calls: number; usec: number }> {
  await cmd('CONFIG', 'RESETSTAT');
  await phase();
  const line = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(String(await cmd('INFO', 'commandstats')));
  return line === null ? { calls: 0, usec: Number.NaN } : { calls: Number(line[1]), usec: Number(line[2]) };
}

/**
 * What a phase cost the server in EVALSHA: its calls and their total (microseconds from INFO
 * commandstats by default; instructions under bench/redis-instructions.ts).
 */
export type Meter = (cmd: Command, phase: () => Promise<void>) => Promise<{ calls: number; total: number }>;

/** EVALSHA's server microseconds, from INFO commandstats. */
export const timeMeter: Meter = async (cmd, phase) => {
  const { calls, usec } = await evalshaTime(cmd, phase);
  return { calls, total: usec };
};

/** Runs `one` `n` times at `pace`. */
async function paced(n: number, pace: Pace, one: () => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    const until = performance.now() + 50;
    for (let j = i; j < Math.min(n, i + 100); j++) await one();
    if (pace === 'paced') await sleep(until - performance.now());
  }
}

/**
 * The admit script's server time for the common shape: two request windows and a token budget,
 * all far from their limits (requests 100,000/s and 10,000,000 per WINDOW_MS, tokens 1e12 per
 * WINDOW_MS), no concurrency (so no release, renew or forget calls) and no reconcile; 100 tokens
 * per acquire, in the steady state (warmed up until the log's oldest entries leave on every call).
 */
export async function admitServerTime(
  server: Pick<RedisServer, 'port'>,
  admissions: number,
  pace: Pace,
  meter: Meter = timeMeter,
): Promise<ServerTime> {
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
  const cmd: Command = (...args) => admin.sendCommand(args);
  const saved = (await cmd('CONFIG', 'GET', 'slowlog-*')) as string[];
  const stamp = Date.now();
  const limiters = Array.from({ length: pace === 'busy' ? BUSY_LIMITERS : 1 }, (_, k) => {
    const store = new RedisStore({ client, key: `bench-admit-${stamp}-${k}` });
    return {
      outages: watchOutages(store),
      limiter: new Limiter({
        requests: [
          { limit: 100_000, windowMs: 1_000 },
          { limit: 10_000_000, windowMs: WINDOW_MS },
        ],
        tokens: { limit: 1e12, windowMs: WINDOW_MS },
        store,
      }),
    };
  });
  // One admission from each limiter at once (one caller each: a call never carries two).
  const acquire = async (): Promise<void> => {
    await Promise.all(limiters.map(async ({ limiter }) => (await limiter.acquire({ tokens: 100 })).release()));
  };
  const rounds = Math.ceil(admissions / limiters.length);
  try {
    // Warm-up at the measured pace until the log is full: its oldest entries then leave as new ones
    // come, the steady state of a quota in use (each call drops what left since the last).
    const warm = performance.now() + WINDOW_MS * 1.5;
    while (performance.now() < warm) await paced(100, pace, acquire);
    for (const k of Object.keys(scripts)) delete scripts[k];
    const { calls: serverCalls, total: serverUsec } = await meter(cmd, () => paced(rounds, pace, acquire));
    const admitCalls = scripts[ADMIT.name] ?? 0;
    const others = Object.entries(scripts).filter(([name]) => name !== ADMIT.name);
    let usec = serverUsec;
    let calls = serverCalls;
    let how = `INFO commandstats: ${fixed(serverCalls, 0)} EVALSHA, all of them admit`;
    if (others.length > 0 || serverCalls !== admitCalls) {
      // Others ran: again, every command logged, and the admit script's own runs summed.
      const sent = others.map(([name, n]) => `${n} ${name}`).join(', ') || 'none';
      if (meter !== timeMeter) throw new Error(`other scripts ran beside admit (${sent}): their cost is in the count`);
      await cmd(
        'CONFIG',
        'SET',
        'slowlog-log-slower-than',
        '0',
        'slowlog-max-len',
        String(rounds * limiters.length * 20 + 10_000),
      );
      await cmd('SLOWLOG', 'RESET');
      await paced(rounds, pace, acquire);
      const slowlog = (await cmd('SLOWLOG', 'GET', String(rounds * limiters.length * 20 + 10_000))) as [
        unknown,
        unknown,
        number,
        string[],
      ][];
      const admit = slowlog.filter((e) => e[3]?.[0]?.toUpperCase() === 'EVALSHA' && e[3]?.[1] === ADMIT.sha);
      usec = admit.reduce((sum, e) => sum + Number(e[2]), 0);
      calls = admit.length;
      how =
        `SLOWLOG, admit script only (${fixed(calls, 0)} runs; the log adds its own cost): other scripts sent: ${sent}; ` +
        `all EVALSHA from INFO commandstats: ${fixed(serverUsec / serverCalls, 1)} µs over ${fixed(serverCalls, 0)}`;
    }
    for (const { outages } of limiters) {
      const outage = outages.verdict();
      if (outage !== undefined) throw new Error(outage);
    }
    if (calls === 0) throw new Error('no admit script run was seen');
    // Its keys go, so the next phase finds the server as this one did.
    for (const key of (await cmd('KEYS', `*bench-admit-${stamp}-*`)) as string[]) await cmd('DEL', key);
    const made = rounds * limiters.length;
    return {
      perCall: usec / calls,
      perAdmission: usec / made,
      admitCalls,
      admissions: made,
      note: `${pace}; ${how}; ${fixed(made / admitCalls, 2)} admissions per admit call (client count)`,
    };
  } finally {
    // Best effort: a server left busy must not hide the error that got us here.
    const restore = async (): Promise<void> => {
      for (const { limiter } of limiters) await limiter.close();
      for (let i = 0; i + 1 < saved.length; i += 2) {
        await cmd('CONFIG', 'SET', saved[i] as string, saved[i + 1] as string);
      }
      await cmd('SLOWLOG', 'RESET');
    };
    await Promise.race([restore(), sleep(2_000)]).catch(() => {});
    client.destroy();
    admin.destroy();
  }
}

/**
 * A minimal sliding-window script: drop what left the window, count, add, expire. The floor of a
 * script that keeps a log in a sorted set.
 */
/** The longer windows of the measured limiter: short, so the warm-up reaches the steady state soon. */
const WINDOW_MS = 2_000;

/** Limiters (each on its own key, one caller each) that keep the server busy at the 'busy' pace. */
const BUSY_LIMITERS = 8;

const MINIMAL = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000000)
local n = redis.call('ZCARD', KEYS[1])
if n < 1000000000 then redis.call('ZADD', KEYS[1], now, ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], 2000)
return n
`;

/** rate-limiter-flexible's script and the minimal one, one caller at `pace`, measured as the admit script is. */
export async function peerServerTimes(
  server: Pick<RedisServer, 'port'>,
  calls: number,
  pace: Pace,
  meter: Meter = timeMeter,
): Promise<PeerTime[]> {
  const client = await ioredis(server);
  const cmd: Command = (...args) => client.call(args[0] as string, ...args.slice(1)) as Promise<unknown>;
  try {
    const rlf = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `bench-rlf-time-${Date.now()}`,
      points: 1_000_000_000,
      duration: 1,
    });
    // As many keys as the admit script's limiters at this pace, one call on each at once.
    const lanes = Array.from({ length: pace === 'busy' ? BUSY_LIMITERS : 1 }, (_, k) => k);
    const rounds = Math.ceil(calls / lanes.length);
    const consume = async (): Promise<void> => {
      await Promise.all(lanes.map((k) => rlf.consume(`quota-${k}`, 1)));
    };
    for (let i = 0; i < 200; i++) await consume();
    const theirs = await meter(cmd, () => paced(rounds, pace, consume));
    const sha = createHash('sha1').update(MINIMAL).digest('hex');
    await cmd('SCRIPT', 'LOAD', MINIMAL);
    const key = `bench-minimal-${Date.now()}`;
    let n = 0;
    const minimal = async (): Promise<void> => {
      await Promise.all(
        lanes.map((k) => cmd('EVALSHA', sha, '1', `${key}-${k}`, String(Date.now() * 1_000), `m.${n++}`)),
      );
    };
    for (let i = 0; i < 200; i++) await minimal();
    const floor = await meter(cmd, () => paced(rounds, pace, minimal));
    return [
      {
        name: 'rate-limiter-flexible RateLimiterRedis (consume)',
        perCall: theirs.total / theirs.calls,
        calls: theirs.calls,
      },
      {
        name: 'a minimal sliding-window script (ZREMRANGEBYSCORE, ZCARD, ZADD, PEXPIRE)',
        perCall: floor.total / floor.calls,
        calls: floor.calls,
      },
    ];
  } finally {
    client.disconnect();
  }
}
