import { afterAll, beforeAll, expect, it } from 'vitest';
import { CapacityError, type Lease, Limiter } from '../src/index.js';
import { eventually } from './helpers/eventually.js';
import { RedisStore } from '../src/redis/index.js';
import {
  describeWithRedis,
  nodeRedisClient,
  startRedisServer,
  uniqueKey,
  type RedisServer,
} from './helpers/redis-server.js';

/*
 * Spend budgets kept in Redis: every limiter on the key shares them, a daily one in buckets and a
 * shorter one exact, reserved at the estimate and reconciled to the real cost, as in memory.
 */

const DAY = 86_400_000;

/** A lease for `spend` as soon as the budget has room for it (within 2 s). */
async function admitted(limiter: Limiter, spend: number): Promise<Lease> {
  let lease: Lease | undefined;
  await eventually(async () => {
    lease = await limiter.acquire({ spend, timeoutMs: 0 }).catch(() => undefined);
    return lease !== undefined;
  });
  return lease as Lease;
}

describeWithRedis('RedisStore spend budgets', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  for (const [name, windowMs] of [
    ['a daily budget (buckets)', DAY],
    ['a per-minute budget (exact)', 60_000],
  ] as const) {
    it(`${name}: shared by two limiters on one key, refunded by a reconcile, never over`, async () => {
      const clients = [await nodeRedisClient(redis.port), await nodeRedisClient(redis.port)];
      const key = uniqueKey('spend');
      const [a, b] = clients.map(
        (client) => new Limiter({ spend: { limit: 1, windowMs }, store: new RedisStore({ client, key }) }),
      ) as [Limiter, Limiter];
      try {
        const first = await a.acquire({ tokens: 100, spend: 0.4 });
        await b.acquire({ spend: 0.4 });
        expect(b.stats().spend[0]?.used).toBeCloseTo(0.8, 10);
        // 0.8 of 1 spent between them: 0.4 more does not fit, in either process.
        await expect(a.acquire({ spend: 0.4, timeoutMs: 0 })).rejects.toThrow();
        await expect(b.acquire({ spend: 0.4, timeoutMs: 0 })).rejects.toThrow();
        // The first cost less than reserved: the refund makes room, once the slots the refused
        // callers were booked are given back (each process tells Redis on its own connection).
        first.reconcile({ input: 80, output: 20 }, { spend: 0.1 });
        const third = await admitted(a, 0.4);
        expect(a.stats().spend[0]?.used).toBeCloseTo(0.9, 10);
        // A cancelled request gives its reservation back.
        third.cancel();
        const fourth = await admitted(a, 0.4);
        expect(a.stats().spend[0]?.used).toBeCloseTo(0.9, 10);
        fourth.release();
        // The other process sees the same budget: 0.1 left.
        await admitted(b, 0.05);
        expect(b.stats().spend[0]?.used).toBeCloseTo(0.95, 10);
        await expect(b.acquire({ spend: 0.1, timeoutMs: 0 })).rejects.toThrow();
        // One that could never fit fails at once.
        await expect(a.acquire({ spend: 2 })).rejects.toBeInstanceOf(CapacityError);
      } finally {
        await Promise.all([a.close(), b.close()]);
        await Promise.all(clients.map((c) => c.quit()));
      }
    });
  }
});
