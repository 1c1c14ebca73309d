import { afterAll, beforeAll, expect, it } from 'vitest';
import { Limiter, type LimiterStore, createLimitedFetch, preloadTokenizer } from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import { startMockProcess } from './helpers/mock-process.js';
import {
  describeWithRedis,
  nodeRedisClient,
  startRedisServer,
  uniqueKey,
  type RedisServer,
} from './helpers/redis-server.js';

/*
 * Another client, outside forestall, uses a quarter of a strict quota. Header sync tells
 * forestall what it leaves; through Redis every limiter of the key holds that share, as one
 * limiter in memory does.
 */

const requests = { limit: 40, windowMs: 1_000 };
const OURS = 120;

/** Ours (through `limiters`, in turn) against a strict mock while the other client sends 10 a second. */
async function run(limiters: readonly Limiter[]): Promise<{ rejected: number; succeeded: number }> {
  const server = await startMockProcess({ provider: 'openai', algorithm: 'sliding-window', requests, latencyMs: 5 });
  const post = (fetchFn: typeof fetch, id: string) =>
    fetchFn(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forestall-id': id },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: id }] }),
    }).then((r) => r.arrayBuffer());
  const fetches = limiters.map(
    (limiter) => createLimitedFetch({ limiter, provider: 'openai', retry: { maxAttempts: 10 } }) as typeof fetch,
  );
  let n = 0;
  const other = setInterval(() => void post(fetch, `other-${n++}`).catch(() => undefined), 100);
  try {
    // The other client runs steadily before ours start.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await Promise.all(
      Array.from({ length: OURS }, (_, i) => post(fetches[i % fetches.length] as typeof fetch, `ours-${i}`)),
    );
  } finally {
    clearInterval(other);
  }
  const ours = (await server.stats()).requestsSeen.filter((r) => r.id?.startsWith('ours-'));
  await server.close();
  return {
    rejected: ours.filter((r) => r.status === 429).length,
    succeeded: ours.filter((r) => r.status === 200).length,
  };
}

describeWithRedis("Redis: others' share learned from the headers, across processes", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
    await preloadTokenizer({ model: 'gpt-4o-mini' });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('two limiters on one key against a strict server with another client on a quarter: no more 429s than one limiter in memory, plus 2', async () => {
    const memory = new Limiter({ requests });
    const inMemory = await run([memory]);
    await memory.close();

    const clients = [await nodeRedisClient(redis.port), await nodeRedisClient(redis.port)];
    const key = uniqueKey('others');
    const stores: LimiterStore[] = clients.map((client) => new RedisStore({ client, key }));
    const shared = stores.map((store) => new Limiter({ requests, store }));
    expect(shared[0]?.capabilities.othersShare).toBe(true);
    const onRedis = await run(shared);
    await Promise.all(shared.map((l) => l.close()));
    for (const client of clients) client.destroy();

    console.log(`another client on a quarter: 429s in memory ${inMemory.rejected}, through Redis ${onRedis.rejected}`);
    expect(inMemory.succeeded).toBe(OURS);
    expect(onRedis.succeeded).toBe(OURS);
    expect(onRedis.rejected).toBeLessThanOrEqual(inMemory.rejected + 2);
  }, 60_000);
});
