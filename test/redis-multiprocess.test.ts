import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Limiter } from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import type { RecordedEntry, WorkerConfig, WorkerReport } from './fixtures/redis-worker.js';
import {
  describeWithRedis,
  nodeRedisClient,
  startRedisServer,
  uniqueKey,
  type RedisServer,
} from './helpers/redis-server.js';
import { nextMessage, startFixture } from './helpers/workers.js';
import { maxInAnyWindow, maxSumInAnyWindow } from './helpers/windows.js';

function startWorker(config: WorkerConfig): ChildProcess {
  return startFixture('redis-worker', config);
}

describeWithRedis('Redis store shared by processes', () => {
  let server: RedisServer;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server?.stop();
  });

  it('8 processes share 20 requests and 5,000 tokens per second: no window over, >= 90% used, ~1 call per admission', async () => {
    const key = uniqueKey('shared');
    const durationMs = 5_000;
    const base = {
      mode: 'contend',
      port: server.port,
      key,
      requests: { limit: 20, windowMs: 1_000 },
      tokens: { limit: 5_000, windowMs: 1_000 },
      callers: 3,
      durationMs,
    } as const;
    const workers = Array.from({ length: 8 }, (_, i) => {
      const child = startWorker({ ...base, client: i % 2 === 0 ? 'node-redis' : 'ioredis', seed: i + 1 });
      children.add(child);
      return child;
    });
    await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
    const reports = workers.map((w) => nextMessage<WorkerReport>(w, 'report'));
    const startAt = Date.now() + 300;
    for (const w of workers) w.send({ startAt });
    const all = await Promise.all(reports);
    await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)));

    const entries: RecordedEntry[] = all.flatMap((r) => r.entries);
    const granted = all.reduce((n, r) => n + r.granted, 0);
    // Every lease a caller got is one entry Redis recorded, and no entry went unused.
    expect(entries).toHaveLength(granted);
    expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);

    // Server-clock microseconds: one clock for all processes.
    const starts = entries.map((e) => e.at);
    expect(maxInAnyWindow(starts, 1_000_000)).toBeLessThanOrEqual(20);
    expect(
      maxSumInAnyWindow(
        entries.map((e) => ({ start: e.at, amount: e.tokens })),
        1_000_000,
      ),
    ).toBeLessThanOrEqual(5_000);

    const first = Math.min(...starts);
    const inRun = starts.filter((s) => s < first + durationMs * 1_000).length;
    const fill = inRun / (20 * (durationMs / 1_000));
    expect(fill).toBeGreaterThanOrEqual(0.9);

    const commands: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    for (const r of all) for (const [name, n] of Object.entries(r.commands)) commands[name] = (commands[name] ?? 0) + n;
    for (const r of all) for (const [name, n] of Object.entries(r.statuses)) statuses[name] = (statuses[name] ?? 0) + n;
    // Reconciles are the callers' own writes, not the price of admission.
    const perAdmission =
      Object.entries(commands)
        .filter(([name]) => name !== 'reconcile')
        .reduce((n, [, c]) => n + c, 0) / granted;
    console.info(
      `8 processes: ${granted} admissions, fill ${(fill * 100).toFixed(1)} %, ` +
        `${perAdmission.toFixed(3)} Redis calls per admission (${JSON.stringify(commands)}, ${JSON.stringify(statuses)})`,
    );
    expect(perAdmission).toBeLessThanOrEqual(1.2);
  }, 30_000);

  it('a process killed while holding a concurrency lease frees the slot after the lease ttl', async () => {
    const key = uniqueKey('crash');
    const leaseTtlMs = 600;
    const child = startWorker({
      mode: 'hold',
      port: server.port,
      key,
      client: 'node-redis',
      concurrency: 1,
      leaseTtlMs,
    });
    children.add(child);
    await nextMessage(child, 'holding');

    const client = await nodeRedisClient(server.port);
    const store = new RedisStore({ client, key, leaseTtlMs, pollMs: 25 });
    const limiter = new Limiter({ concurrency: 1, store });
    try {
      // The holder renews its lease: past one ttl the slot is still taken.
      await expect(limiter.acquire({ timeoutMs: leaseTtlMs * 1.5 })).rejects.toMatchObject({
        name: 'AcquireTimeoutError',
      });
      const killedAt = performance.now();
      child.kill('SIGKILL');
      await once(child, 'exit');
      const lease = await limiter.acquire({ timeoutMs: leaseTtlMs * 3 });
      const freedAfter = performance.now() - killedAt;
      // Expired at most one ttl after its last renewal; found by the next poll (25 ms).
      expect(freedAfter).toBeLessThanOrEqual(leaseTtlMs + 400);
      lease.release();
    } finally {
      await limiter.close();
      client.destroy();
    }
  }, 15_000);
});
