import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunResult, runWorkers, strictServer } from './helpers/fetch-workers.js';
import { describeWithRedis, type RedisServer, startRedisServer, uniqueKey } from './helpers/redis-server.js';

/*
 * Workers as users run them: each a createLimitedFetch with default settings, 240 requests in all
 * against a strict sliding-window server (40 per 2 s) in its own process. One process in memory,
 * then 4 sharing the quota through Redis (node-redis, then ioredis): as many 429s (none) and about
 * the same wall time.
 */

const requests = { limit: 40, windowMs: 2_000 };
const TOTAL = 240;

describeWithRedis('Redis: 4 processes at the limit, as one process in memory', () => {
  let redis: RedisServer;
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await redis?.stop();
  });

  it('240 requests at 40 per 2 s: 0 429s through Redis with node-redis and ioredis, wall time within 10% of memory', async () => {
    const results: Record<string, RunResult> = {};
    for (const store of ['memory', 'node-redis', 'ioredis'] as const) {
      const server = await strictServer(requests);
      try {
        const processes = store === 'memory' ? 1 : 4;
        const key = uniqueKey('at-limit');
        results[store] = await runWorkers(
          Array.from({ length: processes }, (_, i) => ({
            store,
            ports: [redis.port],
            key,
            requests,
            count: TOTAL / processes,
            name: `${store}-${i}`,
          })),
          server,
          children,
        );
      } finally {
        await server.close();
      }
    }
    const line = (name: string, r: RunResult) =>
      `${name}: ${r.rejected429} 429s, ${(r.wallMs / 1_000).toFixed(2)} s, most in a window ${r.maxArrivalsInWindow}`;
    console.log(
      Object.entries(results)
        .map(([name, r]) => line(name, r))
        .join('\n'),
    );
    const memory = results.memory as RunResult;
    for (const r of Object.values(results)) {
      expect(r.reports.flatMap((report) => report.failures)).toEqual([]);
      expect(r.ok).toBe(TOTAL);
      expect(r.rejected429).toBe(0);
      expect(r.maxArrivalsInWindow).toBeLessThanOrEqual(requests.limit);
    }
    for (const store of ['node-redis', 'ioredis']) {
      expect((results[store] as RunResult).wallMs, store).toBeLessThanOrEqual(memory.wallMs * 1.1);
    }
  }, 90_000);
});
