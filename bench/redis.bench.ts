/**
 * The Redis store over loopback: how long an acquire takes and how many admissions per second a
 * quota sustains, from one process and from eight, and how many Redis calls each admission costs
 * (uncontended, and at the limit where most callers get a booked slot).
 *
 * Starts its own throwaway redis-server (the tests' helper); skipped with a note when there is none.
 * Eight-process rows fork `test/fixtures/redis-worker.ts` (under tsx), so they include no start-up.
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
import { QUICK, checkWindows, fixed, ms, percent, percentile, table } from './core-util.js';

const WORKER = fileURLToPath(new URL('../test/fixtures/redis-worker.ts', import.meta.url));
const TITLE = 'Redis store (loopback)';
/** Far above anything a run reaches, so nobody waits: the cost of the store itself. */
const HIGH = { requests: { limit: 1_000_000_000, windowMs: 1_000 }, tokens: { limit: 1e15, windowMs: 1_000 } };

interface Row {
  readonly scenario: string;
  readonly processes: number;
  readonly callers: number;
  readonly admissions: number;
  readonly perSecond: number;
  readonly latencies: readonly number[];
  readonly callsPerAdmission: number;
  readonly note: string;
}

/** One process: `callers` loops of acquire + release for `durationMs`, commands counted at the client. */
async function inProcess(server: RedisServer, callers: number, durationMs: number): Promise<Row> {
  const client = createClient({ socket: { host: '127.0.0.1', port: server.port }, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  let calls = 0;
  const names = new Map(SCRIPTS.map((s) => [s.sha, s.name]));
  const send = client.sendCommand.bind(client) as (args: string[]) => Promise<unknown>;
  (client as unknown as { sendCommand: typeof send }).sendCommand = (args: string[]) => {
    if (names.get(args[1] as string) !== 'reconcile') calls++;
    return send(args);
  };
  const limiter = new Limiter({ ...HIGH, store: new RedisStore({ client, key: `bench-${callers}-${Date.now()}` }) });
  // Warm-up: script cache, JIT, connection.
  for (let i = 0; i < 200; i++) (await limiter.acquire({ tokens: 100 })).release();
  calls = 0;
  const latencies: number[] = [];
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
  const elapsed = performance.now() - started;
  await limiter.close();
  client.destroy();
  return {
    scenario: 'uncontended',
    processes: 1,
    callers,
    admissions: latencies.length,
    perSecond: (latencies.length / elapsed) * 1_000,
    latencies,
    callsPerAdmission: calls / latencies.length,
    note: '',
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
  const rows: Row[] = [];
  let contended = '';
  try {
    rows.push(await inProcess(server, 1, durationMs));
    rows.push(await inProcess(server, 16, durationMs));

    {
      const { reports, elapsedMs } = await eightProcesses(server, {
        ...HIGH,
        callers: 1,
        durationMs,
        holdMs: 0,
        measure: true,
      });
      const latencies = reports.flatMap((r) => r.latencies);
      rows.push({
        scenario: 'uncontended',
        processes: 8,
        callers: 1,
        admissions: latencies.length,
        perSecond: (latencies.length / elapsedMs) * 1_000,
        latencies,
        callsPerAdmission: callsPerAdmission(reports),
        note: '',
      });
    }

    {
      // The test's shape: 20 requests and 5,000 tokens per second, three callers in each of eight.
      const runMs = QUICK ? 3_000 : 5_000;
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
      const statuses: Record<string, number> = {};
      for (const r of reports) for (const [k, n] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
      const latencies = reports.flatMap((r) => r.latencies);
      rows.push({
        scenario: 'at the limit (20/s, 5,000 tokens/s)',
        processes: 8,
        callers: 3,
        admissions: entries.length,
        perSecond: (inRun / runMs) * 1_000,
        latencies,
        callsPerAdmission: callsPerAdmission(reports),
        note: `fill ${percent(fill)}; most starts in any 1 s: ${windows.max}`,
      });
      contended =
        `At the limit, ${statuses.booked ?? 0} of ${(statuses.booked ?? 0) + (statuses.admitted ?? 0)} admissions were ` +
        `booked future slots (one call, no retry); acquire times there are queueing, not store cost.`;
    }
  } finally {
    await server.stop();
  }

  const markdown = [
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
        ms(percentile(r.latencies, 50), 3),
        ms(percentile(r.latencies, 99), 3),
        fixed(r.callsPerAdmission, 3),
        r.note,
      ]),
    ),
    '',
    `redis-server ${serverVersion()} on 127.0.0.1; node-redis and ioredis alternate across the eight processes. ` +
      `Calls per admission count every command the store sent (admit, release, renew, pause, script-cache misses) ` +
      `except reconciles, which callers ask for. ${contended}`,
  ].join('\n');
  return { title: TITLE, markdown };
}

function serverVersion(): string {
  const out = spawnSync(process.env.REDIS_SERVER ?? 'redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? '(unknown version)';
}
