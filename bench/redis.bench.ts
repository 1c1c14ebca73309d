/**
 * The Redis store over loopback: how long an acquire takes and how many admissions per second a
 * quota sustains, from one process and from eight, and how many Redis calls each admission costs
 * (uncontended, and at the limit where most callers get a booked slot); rate-limiter-flexible's
 * `RateLimiterRedis` on the same server in the same run; and the admit script's server time.
 * A goals table comes first.
 *
 * Starts its own throwaway redis-server (the tests' helper); skipped with a note when there is none.
 * Eight-process rows fork `test/fixtures/redis-worker.ts` (under tsx), so they include no start-up.
 * A measurement that fails (or hangs) gives a row with its error in the note; the others still run.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { Limiter } from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import { SCRIPTS } from '../src/redis/scripts.js';
import type { WorkerConfig, WorkerReport } from '../test/fixtures/redis-worker.js';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { QUICK, checkWindows, fixed, ms, percent, percentile, table, verdict } from './core-util.js';
import {
  RLF,
  attempt,
  bounded,
  checkServer,
  ioredis,
  messageOf,
  rateLimiterFlexible,
  type Row,
  watchOutages,
} from './redis-peers.js';
import { callgrindMissing, type Instructions, scriptInstructions } from './redis-instructions.js';
import {
  admitServerTime,
  evalshaTime,
  type Pace,
  type PeerTime,
  peerServerTimes,
  type ServerTime,
} from './redis-server-time.js';

const WORKER = fileURLToPath(new URL('../test/fixtures/redis-worker.ts', import.meta.url));
const TITLE = 'Redis store (loopback)';
/** Far above anything a run reaches, so nobody waits: the cost of the store itself. */
const HIGH = { requests: { limit: 1_000_000_000, windowMs: 1_000 }, tokens: { limit: 1e15, windowMs: 1_000 } };

const UNCONTENDED = 'uncontended';
const UNCONTENDED_IOREDIS = 'uncontended, ioredis client';
const AT_LIMIT = 'at the limit (20/s, 5,000 tokens/s)';

/** A client for the store that counts the commands it sends (reconciles aside), node-redis or ioredis. */
async function countingClient(
  server: RedisServer,
  kind: 'node-redis' | 'ioredis',
): Promise<{ client: object; calls: () => number; reset: () => void; close: () => void }> {
  let calls = 0;
  const names = new Map(SCRIPTS.map((s) => [s.sha, s.name]));
  const counted = (args: readonly string[]): void => {
    if (names.get(args[1] as string) !== 'reconcile') calls++;
  };
  const common = {
    calls: () => calls,
    reset: () => {
      calls = 0;
    },
  };
  if (kind === 'ioredis') {
    const client = await ioredis(server);
    const call = client.call.bind(client) as (...args: string[]) => Promise<unknown>;
    (client as unknown as { call: typeof call }).call = (...args: string[]) => {
      counted(args);
      return call(...args);
    };
    return { client, ...common, close: () => client.disconnect() };
  }
  const client = createClient({ socket: { host: '127.0.0.1', port: server.port }, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  const send = client.sendCommand.bind(client) as (args: string[]) => Promise<unknown>;
  (client as unknown as { sendCommand: typeof send }).sendCommand = (args: string[]) => {
    counted(args);
    return send(args);
  };
  return { client, ...common, close: () => client.destroy() };
}

/** One process: `callers` loops of acquire + release for `durationMs`, commands counted at the client. */
async function inProcess(
  server: RedisServer,
  callers: number,
  durationMs: number,
  kind: 'node-redis' | 'ioredis' = 'node-redis',
): Promise<Row> {
  const { client, calls, reset, close } = await countingClient(server, kind);
  const store = new RedisStore({ client: client as never, key: `bench-${kind}-${callers}-${Date.now()}` });
  const outages = watchOutages(store);
  const limiter = new Limiter({ ...HIGH, store });
  // Warm-up: script cache, JIT, connection.
  for (let i = 0; i < 200; i++) (await limiter.acquire({ tokens: 100 })).release();
  // The server's time for the admissions of this run, however many each call made.
  const raw = (...args: string[]): Promise<unknown> =>
    kind === 'ioredis'
      ? (client as { call(...a: string[]): Promise<unknown> }).call(...args)
      : (client as { sendCommand(a: string[]): Promise<unknown> }).sendCommand(args);
  const latencies: number[] = [];
  let elapsed = 0;
  const time = await evalshaTime(raw, async () => {
    reset();
    const end = performance.now() + durationMs;
    const started = performance.now();
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        const asked = performance.now();
        const lease = await limiter.acquire({ tokens: 100 });
        latencies.push(performance.now() - asked);
        lease.release();
      }
    };
    await Promise.all(Array.from({ length: callers }, loop));
    elapsed = performance.now() - started;
  });
  const sent = calls();
  const serverUs = time.usec / latencies.length;
  await limiter.close();
  close();
  // Figures that are not Redis's (a store admitting from memory) are shown, but flagged and never pass.
  const invalid = outages.verdict() ?? (sent === 0 ? 'no Redis command was sent during the run' : undefined);
  return {
    scenario: kind === 'ioredis' ? UNCONTENDED_IOREDIS : UNCONTENDED,
    processes: 1,
    callers,
    admissions: latencies.length,
    perSecond: (latencies.length / elapsed) * 1_000,
    latencies,
    callsPerAdmission: sent / latencies.length,
    note: invalid ?? `server ${fixed(serverUs, 1)} µs per admission`,
    ...(invalid === undefined ? {} : { failed: true as const }),
  };
}

function startWorker(config: WorkerConfig): ChildProcess {
  return fork(WORKER, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string; message?: string }): void => {
      if (m.type === 'error') reject(new Error(m.message));
      else if (m.type === type) {
        child.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.on('message', onMessage);
    // A worker that dies first (a crash at start, say) fails the row at once instead of hanging it.
    // ('close' comes after the IPC channel's last message, unlike 'exit'.)
    child.once('close', (code, signal) => reject(new Error(`a worker exited (${signal ?? code}) before '${type}'`)));
  });
}

/** Eight worker processes on one quota, started together; reports merged. */
async function eightProcesses(
  server: RedisServer,
  config: Omit<WorkerConfig, 'mode' | 'port' | 'key' | 'client'>,
): Promise<{ reports: WorkerReport[]; elapsedMs: number }> {
  const key = `bench-8-${Date.now()}`;
  const workers = Array.from({ length: 8 }, (_, i) =>
    startWorker({
      mode: 'contend',
      port: server.port,
      key,
      client: i % 2 === 0 ? 'node-redis' : 'ioredis',
      seed: i + 1,
      ...config,
    }),
  );
  try {
    await Promise.all(workers.map((w) => message(w, 'ready')));
    const reports = workers.map((w) => message<WorkerReport>(w, 'report'));
    const startAt = Date.now() + 300;
    for (const w of workers) w.send({ startAt });
    const all = await Promise.all(reports);
    const elapsedMs = Date.now() - startAt;
    await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)));
    return { reports: all, elapsedMs };
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  }
}

function callsPerAdmission(reports: readonly WorkerReport[]): number {
  let calls = 0;
  let granted = 0;
  for (const r of reports) {
    granted += r.granted;
    for (const [name, n] of Object.entries(r.commands)) if (name !== 'reconcile') calls += n;
  }
  return calls / granted;
}

export default async function (): Promise<{ title: string; markdown: string }> {
  if (!redisServerAvailable) {
    return {
      title: TITLE,
      markdown:
        '> Skipped: `redis-server` is not installed (`apt-get install -y --no-install-recommends redis-server`).',
    };
  }
  const server = await startRedisServer();
  const durationMs = QUICK ? 1_000 : 3_000;
  const inProcessLimit = durationMs + 15_000;
  const rows: Row[] = [];
  let contended = '';
  let atLimitMax = Number.NaN;
  /** The admit script's server time at each pace (a string: why it was not measured), and the peers' alike. */
  const serverTime = new Map<Pace, ServerTime | string>();
  const peerTimes = new Map<Pace, PeerTime[] | string>();
  const restarts: string[] = [];
  /** A row, on a server that answers (restarted if the row before left it wedged). */
  const row = async (
    shape: Pick<Row, 'scenario' | 'processes' | 'callers'>,
    limitMs: number,
    fn: () => Promise<Row>,
  ) => {
    const restarted = await checkServer(server, `"${shape.scenario}", ${shape.processes} x ${shape.callers}`);
    if (restarted !== undefined) restarts.push(restarted);
    rows.push(await attempt(shape, limitMs, fn));
  };
  try {
    const one = { processes: 1, scenario: UNCONTENDED };
    await row({ ...one, callers: 1 }, inProcessLimit, () => inProcess(server, 1, durationMs));
    await row({ ...one, callers: 16 }, inProcessLimit, () => inProcess(server, 16, durationMs));
    await row({ ...one, callers: 64 }, inProcessLimit, () => inProcess(server, 64, durationMs));
    await row({ ...one, scenario: UNCONTENDED_IOREDIS, callers: 64 }, inProcessLimit, () =>
      inProcess(server, 64, durationMs, 'ioredis'),
    );
    for (const callers of [1, 64]) {
      await row({ scenario: RLF, processes: 1, callers }, inProcessLimit, () =>
        rateLimiterFlexible(server, callers, durationMs),
      );
    }

    for (const pace of ['back to back', 'paced', 'busy'] as const) {
      const calls = QUICK ? 500 : 2_000;
      try {
        const restarted = await checkServer(server, `the admit script server time (${pace})`);
        if (restarted !== undefined) restarts.push(restarted);
        serverTime.set(pace, await bounded(admitServerTime(server, calls, pace), 60_000));
      } catch (error) {
        serverTime.set(pace, `failed: ${messageOf(error)}`);
      }
      try {
        peerTimes.set(pace, await bounded(peerServerTimes(server, calls, pace), 60_000));
      } catch (error) {
        peerTimes.set(pace, `failed: ${messageOf(error)}`);
      }
    }

    await row({ scenario: UNCONTENDED, processes: 8, callers: 1 }, durationMs + 30_000, async () => {
      const { reports, elapsedMs } = await eightProcesses(server, {
        ...HIGH,
        callers: 1,
        durationMs,
        holdMs: 0,
        measure: true,
      });
      const latencies = reports.flatMap((r) => r.latencies);
      return {
        scenario: UNCONTENDED,
        processes: 8,
        callers: 1,
        admissions: latencies.length,
        perSecond: (latencies.length / elapsedMs) * 1_000,
        latencies,
        callsPerAdmission: callsPerAdmission(reports),
        note: '',
      };
    });

    // The test's shape: 20 requests and 5,000 tokens per second, three callers in each of eight.
    const runMs = QUICK ? 3_000 : 5_000;
    await row({ scenario: AT_LIMIT, processes: 8, callers: 3 }, runMs + 30_000, async () => {
      const { reports } = await eightProcesses(server, {
        requests: { limit: 20, windowMs: 1_000 },
        tokens: { limit: 5_000, windowMs: 1_000 },
        callers: 3,
        durationMs: runMs,
        measure: true,
      });
      const entries = reports.flatMap((r) => r.entries);
      const starts = entries.map((e) => e.at / 1_000);
      const first = Math.min(...starts);
      const inRun = starts.filter((s) => s < first + runMs).length;
      const fill = inRun / (20 * (runMs / 1_000));
      const windows = checkWindows(starts, 1_000, 20);
      atLimitMax = windows.max;
      const statuses: Record<string, number> = {};
      for (const r of reports) for (const [k, n] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
      contended =
        `At the limit, ${statuses.booked ?? 0} of ${(statuses.booked ?? 0) + (statuses.admitted ?? 0)} admissions were ` +
        `booked future slots (one call, no retry); acquire times there are queueing, not store cost.`;
      return {
        scenario: AT_LIMIT,
        processes: 8,
        callers: 3,
        admissions: entries.length,
        perSecond: (inRun / runMs) * 1_000,
        latencies: reports.flatMap((r) => r.latencies),
        callsPerAdmission: callsPerAdmission(reports),
        note: `fill ${percent(fill)}; most starts in any 1 s: ${windows.max}`,
      };
    });
  } finally {
    // A server busy in a script that never ends does not stop on SIGTERM.
    await bounded(server.stop(), 5_000).catch(() => server.kill());
  }

  // Alone on the machine, once the measured server has stopped: valgrind runs its own.
  const missing = callgrindMissing();
  let instructions: Instructions[] | string = `not measured: ${missing}`;
  if (missing === undefined) {
    try {
      instructions = await bounded(scriptInstructions(QUICK ? 300 : 1_000), 180_000);
    } catch (error) {
      instructions = `failed: ${messageOf(error)}`;
    }
  }

  const markdown = [
    goalsTable(rows, serverTime.get('back to back') ?? 'not measured', atLimitMax, instructions),
    '',
    table(
      [
        'scenario',
        'processes',
        'callers each',
        'admissions',
        'admissions/s',
        'acquire p50',
        'acquire p99',
        'Redis calls/admission',
        'note',
      ],
      rows.map((r) => [
        r.scenario,
        String(r.processes),
        String(r.callers),
        fixed(r.admissions, 0),
        fixed(r.perSecond, 0),
        r.latencies.length === 0 ? 'n/a' : ms(percentile(r.latencies, 50), 3),
        r.latencies.length === 0 ? 'n/a' : ms(percentile(r.latencies, 99), 3),
        fixed(r.callsPerAdmission, 3),
        r.note,
      ]),
    ),
    '',
    `redis-server ${serverVersion()} on 127.0.0.1; one-process \`${UNCONTENDED}\` rows use node-redis (one row ioredis), ` +
      `and node-redis and ioredis alternate across the eight processes. ` +
      `Calls per admission count every command the store sent (admit, release, renew, pause, script-cache misses) ` +
      `except reconciles, which callers ask for. ${contended}`,
    ...(restarts.length > 0 ? ['', ...restarts.map((r) => `> ${r}`)] : []),
    '',
    `${RLF} (rate-limiter-flexible's Redis limiter, same server, same run, same duration) runs over its own ioredis ` +
      `client, its default and fast path: its increment script is an ioredis \`defineCommand\`, sent as EVALSHA ` +
      `(with \`useRedisPackage: true\` on node-redis it sends the whole script with EVAL on every call). Each caller ` +
      `loops \`await limiter.consume(key, 1)\` on one key with 1,000,000,000 points per second (nobody refused); ` +
      `its acquire columns are consume times and its calls are every command its client sent. It only counts ` +
      `(fixed window, no waiting, no tokens): the comparison is the cost of one round trip's worth of work.`,
    '',
    serverTimeTable(serverTime, peerTimes),
    '',
    SERVER_TIME_NOTE,
    '',
    instructionsTable(instructions),
    '',
    INSTRUCTIONS_NOTE,
  ].join('\n');
  return { title: TITLE, markdown };
}

function find(rows: readonly Row[], scenario: string, processes: number, callers: number): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.processes === processes && r.callers === callers);
}

function goalsTable(
  rows: readonly Row[],
  serverTime: ServerTime | string,
  atLimitMax: number,
  instructions: Instructions[] | string,
): string {
  // A row counts only if it measured Redis: not failed, not from memory, and Redis was asked.
  const ok = (r: Row | undefined): r is Row => r !== undefined && r.failed !== true && r.callsPerAdmission > 0;
  const perSecond = (r: Row | undefined): string =>
    `${fixed(r?.perSecond ?? Number.NaN, 0)} admissions/s${ok(r) ? '' : ' (not a Redis figure: see its note)'}`;
  const ours = find(rows, UNCONTENDED, 1, 64);
  const peer = find(rows, RLF, 1, 64);
  const ratio = ok(ours) && ok(peer) ? ours.perSecond / peer.perSecond : Number.NaN;
  const limit = find(rows, AT_LIMIT, 8, 3);
  const time = typeof serverTime === 'string' ? undefined : serverTime;
  const goals = [
    [
      'one limiter in one process, 64 callers, uncontended: >= 15,000 admissions/s',
      perSecond(ours),
      verdict(ok(ours) && ours.perSecond >= 15_000),
    ],
    [
      `64 callers in one process >= 0.35 x ${RLF} with 64 callers (same run)`,
      Number.isNaN(ratio)
        ? `n/a: the ${ok(ours) ? RLF : 'forestall'} row is not a Redis figure (see its note)`
        : `${fixed(ratio, 2)} x (${fixed(ours?.perSecond ?? 0, 0)} / ${fixed(peer?.perSecond ?? 0, 0)} admissions/s)`,
      verdict(ratio >= 0.35),
    ],
    [
      'admit script server time, 2 request windows + 1 token budget far from their limits, steady state, 1 caller back to back, 100 tokens: <= 25 µs per admission',
      time === undefined
        ? String(serverTime)
        : `${fixed(time.perCall, 1)} µs per call, ${fixed(time.perAdmission, 1)} µs per admission` +
          (typeof instructions === 'string'
            ? ''
            : ` (${fixed(instructions[0]?.perCall ?? Number.NaN, 0)} instructions per call, ` +
              `${fixed(overMinimal(instructions, 0), 2)} x the minimal script's)`),
      verdict(time !== undefined && time.perAdmission <= 25),
    ],
    [
      'at the limit, 8 processes: Redis calls per admission <= 1.05, no window over the limit (most starts in any 1 s <= 20)',
      `${fixed(limit?.callsPerAdmission ?? Number.NaN, 3)} calls; most in 1 s: ${fixed(atLimitMax, 0)}` +
        (ok(limit) ? '' : ' (not a Redis figure: see its note)'),
      verdict(ok(limit) && limit.callsPerAdmission <= 1.05 && atLimitMax <= 20),
    ],
  ];
  return table(['goal', 'measured', 'result'], goals);
}

/** The admit script's server time at both paces, beside the peers' measured alike in the same run. */
function serverTimeTable(ours: Map<Pace, ServerTime | string>, peers: Map<Pace, PeerTime[] | string>): string {
  const rows: string[][] = [];
  for (const pace of ['back to back', 'paced', 'busy'] as const) {
    const time = ours.get(pace) ?? 'not measured';
    rows.push(
      typeof time === 'string'
        ? ['forestall admit (2 request windows + 1 token budget)', pace, time, '', '']
        : [
            'forestall admit (2 request windows + 1 token budget)',
            pace,
            `${fixed(time.perCall, 1)} µs`,
            fixed(time.admitCalls, 0),
            time.note,
          ],
    );
    const theirs = peers.get(pace) ?? 'not measured';
    if (typeof theirs === 'string') rows.push(['peers', pace, theirs, '', '']);
    else for (const p of theirs) rows.push([p.name, pace, `${fixed(p.perCall, 1)} µs`, fixed(p.calls, 0), '']);
  }
  return table(['script', 'pace', 'server time per call', 'calls', 'note'], rows);
}

/** The `k`-th script's instructions per call over the minimal script's (the last). */
function overMinimal(counts: readonly Instructions[], k: number): number {
  return (counts[k]?.perCall ?? Number.NaN) / (counts[counts.length - 1]?.perCall ?? Number.NaN);
}

/** Instructions per call of the admit script and the peers, with their ratio to the minimal script's. */
function instructionsTable(counts: Instructions[] | string): string {
  if (typeof counts === 'string') return `Instructions per script call: ${counts}`;
  return table(
    ['script', 'instructions per call', 'x the minimal script', 'calls', 'note'],
    counts.map((c, k) => [c.name, fixed(c.perCall, 0), fixed(overMinimal(counts, k), 2), fixed(c.calls, 0), c.note]),
  );
}

const INSTRUCTIONS_NOTE =
  'Instructions per call: callgrind (valgrind) counts every instruction redis-server runs for EVALSHA, in a ' +
  'server of its own, for the same three scripts run as above back to back (forestall warmed up to its steady ' +
  'state, the log a few thousand entries long as the slower server lets it grow). Unlike the microseconds, the ' +
  'count does not move with the machine or from run to run: it is what to compare when the machine is slower ' +
  'or faster than usual (on the machine where the admit script measured 26-29 µs back to back, its 215,000 ' +
  'instructions, the minimal script took 8-9 µs).';

const SERVER_TIME_NOTE =
  'Script server time: EVALSHA usec / calls from `INFO commandstats` after `CONFIG RESETSTAT` (no SLOWLOG, which ' +
  'adds about a microsecond per command inside a script). forestall: a limiter with requests 100,000/s and ' +
  '10,000,000 per 2 s and tokens 1e12 per 2 s (far from every limit), no concurrency (no release calls) and no ' +
  'reconcile, acquiring 100 tokens, warmed up for 3 s at the measured pace: the steady state of a quota in use, ' +
  "whose log's oldest entries leave on nearly every call (and are dropped eight at a time). Back to back: one " +
  "caller, each call right after the last answer (the pace the goal is judged at, and the one the issue's 45-65 µs for the old script matches: " +
  'the old script, commit 84a469e, measured so at 54 µs); paced: one caller, 2,000 calls a second in bursts of ' +
  '100 with pauses, so the server idles between calls and its caches go cold; busy: 8 limiters on 8 keys in one ' +
  'process, one caller each (each call still one admission). The peers run the same way on the same server ' +
  '(on 8 keys when busy): rate-limiter-flexible counts one key (a fixed window, no tokens); the minimal script ' +
  'keeps one log.';

function serverVersion(): string {
  const out = spawnSync(process.env.REDIS_SERVER ?? 'redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? '(unknown version)';
}
