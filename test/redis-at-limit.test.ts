import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { quotaKeys } from '../src/redis/options.js';
import { type RunResult, runWorkers, strictServer } from './helpers/fetch-workers.js';
import { type RedisCluster, startRedisCluster3 } from './helpers/redis-cluster.js';
import { describeWithRedis, type RedisServer, startRedisServer, uniqueKey } from './helpers/redis-server.js';
import { sleep } from './helpers/sleep.js';

/*
 * Workers as users run them: each a createLimitedFetch with default settings, 240 requests in all
 * against a strict sliding-window server (40 per 2 s) in its own process.
 * - One process in memory, then 4 sharing the quota through Redis (node-redis, then ioredis): as
 *   many 429s (none) and about the same wall time.
 * - Redis killed for 3 s mid-run, then restarted empty: the 4 workers (two on node-redis, two on
 *   ioredis) go on from their local shares, each starting from what it knew, and write what they
 *   admitted back when Redis returns.
 * - The same on a real 3-master Redis Cluster (no replicas), the master serving the quota's slot
 *   killed for 3 s and restarted empty as the same node.
 * Measured at the server and from the stores' events.
 */

const requests = { limit: 40, windowMs: 2_000 };
const TOTAL = 240;
/** The store's default longest wait between probes (`probeIntervalMs`). */
const PROBE_INTERVAL_MS = 2_000;
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** 4 workers (node-redis and ioredis in turn) at the limit; `down` kills the quota's server 3.5 s in, for 3 s. */
async function throughADeath(
  label: string,
  ports: readonly number[],
  key: string,
  down: { kill(): Promise<void>; restart(): Promise<void> },
  cluster = false,
): Promise<void> {
  const server = await strictServer(requests);
  let killedAt = 0;
  let restartedAt = 0;
  try {
    const result = await runWorkers(
      Array.from({ length: 4 }, (_, i) => ({
        store: i % 2 === 0 ? ('node-redis' as const) : ('ioredis' as const),
        ports,
        cluster,
        key,
        requests,
        count: TOTAL / 4,
        name: `worker-${i}`,
        commandTimeoutMs: 300,
      })),
      server,
      children,
      async (startAt) => {
        await sleep(startAt + 3_500 - Date.now());
        killedAt = Date.now();
        await down.kill();
        await sleep(3_000);
        await down.restart();
        restartedAt = Date.now();
      },
    );
    const events = result.reports.map((r) => r.events.map((e) => e.type));
    console.log(
      `${label}: ${result.rejected429} 429s, most in a window ${result.maxArrivalsInWindow} of ${requests.limit}, ` +
        `${(result.wallMs / 1_000).toFixed(2)} s, events ${JSON.stringify(events)}`,
    );
    expect(result.reports.flatMap((r) => r.failures)).toEqual([]);
    expect(result.maxArrivalsInWindow).toBeLessThanOrEqual(requests.limit * 1.1);
    // One outage and one recovery each, by themselves: no flapping, no repeated timeouts. Batches
    // let a worker take more of the first windows: one may be done before Redis dies, or before it
    // is back (then it saw the outage only); one still sending a while after it is back recovered.
    const through = result.reports.filter((r) => r.lastEnd > killedAt);
    expect(through.length).toBeGreaterThanOrEqual(2);
    for (const r of through) {
      const types = r.events.map((e) => e.type);
      const back = r.lastEnd > restartedAt + PROBE_INTERVAL_MS + 1_000;
      if (back) expect(types).toEqual(['outage', 'recovered']);
      else expect([['outage'], ['outage', 'recovered']]).toContainEqual(types);
    }
    expect(through.filter((r) => r.events.some((e) => e.type === 'recovered')).length).toBeGreaterThanOrEqual(1);
    for (const r of result.reports.filter((r) => r.lastEnd <= killedAt)) expect(r.events).toEqual([]);
  } finally {
    await server.close();
  }
}

describeWithRedis('Redis: 4 processes at the limit', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
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

  it('Redis killed for 3 s mid-run and restarted empty: no window over its limit by more than 10%, one outage and one recovery each', async () => {
    await throughADeath('Redis killed 3 s', [redis.port], uniqueKey('outage-run'), redis);
  }, 60_000);
});

describeWithRedis('Redis Cluster, the master of the quota killed mid-run', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster3();
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("'local' takes over once per death, without repeated timeouts, recovers by itself, and no window goes over by more than 10%", async () => {
    const key = uniqueKey('cluster');
    const owner = cluster.nodes[await cluster.ownerOf(quotaKeys('forestall:v2', key).log)] as RedisServer;
    await throughADeath('cluster master killed 3 s', cluster.ports, key, owner, true);
  }, 90_000);
});
