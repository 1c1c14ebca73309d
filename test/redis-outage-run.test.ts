import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runWorkers, strictServer } from './helpers/fetch-workers.js';
import { describeWithRedis, type RedisServer, startRedisServer, uniqueKey } from './helpers/redis-server.js';
import { sleep } from './helpers/sleep.js';

/*
 * Redis killed for 3 s in the middle of a run at the limit, then restarted empty: the 4 workers
 * (two on node-redis, two on ioredis) go on from their local shares, each starting from its own
 * recent admissions, and write what they admitted back when Redis returns. Measured at the server.
 */

const requests = { limit: 40, windowMs: 2_000 };

describeWithRedis('Redis killed for 3 s mid-run, 4 processes at the limit', () => {
  let redis: RedisServer;
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await redis?.stop();
  });

  it('no window over its limit by more than 10%, every request answered, one outage and one recovery per process', async () => {
    const server = await strictServer(requests);
    const key = uniqueKey('outage-run');
    try {
      const result = await runWorkers(
        Array.from({ length: 4 }, (_, i) => ({
          store: i % 2 === 0 ? ('node-redis' as const) : ('ioredis' as const),
          ports: [redis.port],
          key,
          requests,
          count: 60,
          name: `worker-${i}`,
          commandTimeoutMs: 300,
        })),
        server,
        children,
        async (startAt) => {
          await sleep(startAt + 3_500 - Date.now());
          await redis.kill();
          await sleep(3_000);
          await redis.restart();
        },
      );
      const events = result.reports.map((r) => r.events.map((e) => e.type));
      console.log(
        `Redis killed 3 s: ${result.rejected429} 429s, most in a window ${result.maxArrivalsInWindow} of ${requests.limit}, ` +
          `${(result.wallMs / 1_000).toFixed(2)} s, events ${JSON.stringify(events)}`,
      );
      expect(result.reports.flatMap((r) => r.failures)).toEqual([]);
      expect(result.maxArrivalsInWindow).toBeLessThanOrEqual(requests.limit * 1.1);
      for (const e of events) expect(e).toEqual(['outage', 'recovered']);
    } finally {
      await server.close();
    }
  }, 60_000);
});
