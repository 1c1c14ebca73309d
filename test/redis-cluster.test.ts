import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { quotaKeys } from '../src/redis/options.js';
import { runWorkers, strictServer } from './helpers/fetch-workers.js';
import { type RedisCluster, startRedisCluster3 } from './helpers/redis-cluster.js';
import { describeWithRedis, uniqueKey } from './helpers/redis-server.js';
import { sleep } from './helpers/sleep.js';

/*
 * A real 3-master Redis Cluster (no replicas), 4 workers at the limit (two on node-redis's
 * cluster client, two on ioredis's), and the master serving the quota's slot killed mid-run for
 * 3 s, then restarted empty as the same node. Measured at the server and from the stores' events.
 */

const requests = { limit: 40, windowMs: 2_000 };

describeWithRedis('Redis Cluster, the master of the quota killed mid-run', () => {
  let cluster: RedisCluster;
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    cluster = await startRedisCluster3();
  }, 30_000);
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await cluster?.stop();
  });

  it("'local' takes over once per death, without repeated timeouts, recovers by itself, and no window goes over by more than 10%", async () => {
    const server = await strictServer(requests);
    const key = uniqueKey('cluster');
    const owner = cluster.nodes[await cluster.ownerOf(quotaKeys('forestall:v1', key).log)];
    try {
      const result = await runWorkers(
        Array.from({ length: 4 }, (_, i) => ({
          store: i % 2 === 0 ? ('node-redis' as const) : ('ioredis' as const),
          ports: cluster.ports,
          cluster: true,
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
          await owner?.kill();
          await sleep(3_000);
          await owner?.restart();
        },
      );
      const events = result.reports.map((r) => r.events.map((e) => e.type));
      console.log(
        `cluster master killed 3 s: ${result.rejected429} 429s, most in a window ${result.maxArrivalsInWindow} of ${requests.limit}, ` +
          `${(result.wallMs / 1_000).toFixed(2)} s, events ${JSON.stringify(result.reports.map((r) => r.events))}`,
      );
      expect(result.reports.flatMap((r) => r.failures)).toEqual([]);
      expect(result.maxArrivalsInWindow).toBeLessThanOrEqual(requests.limit * 1.1);
      for (const e of events) expect(e).toEqual(['outage', 'recovered']);
    } finally {
      await server.close();
    }
  }, 90_000);
});
