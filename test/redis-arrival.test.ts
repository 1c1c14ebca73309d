import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Limiter, createLimitedFetch } from '../src/index.js';
import { RedisStore } from '../src/redis/index.js';
import { startMockProcess } from './helpers/mock-process.js';
import {
  describeWithRedis,
  nodeRedisClient,
  startRedisServer,
  uniqueKey,
  type RedisServer,
} from './helpers/redis-server.js';

describeWithRedis('Redis: counting a request from when it left', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('two limiters on one Redis key, slow answers, a strict 20-per-2-s server: no 429, the windows used', async () => {
    const requests = { limit: 20, windowMs: 2_000 };
    const server = await startMockProcess({
      provider: 'openai',
      algorithm: 'sliding-window',
      requests,
      latencyMs: 1_000,
    });
    const clients = [await nodeRedisClient(redis.port), await nodeRedisClient(redis.port)];
    const key = uniqueKey('arrival');
    const limiters = clients.map((client) => new Limiter({ requests, store: new RedisStore({ client, key }) }));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(limiters[0]?.capabilities.arrivalTime).toBe(true);
      const sdks = limiters.map(
        (limiter) =>
          new OpenAI({
            apiKey: 'sk-test',
            baseURL: server.url,
            maxRetries: 0,
            // The mock shares two cores with the test, Redis and a second client: its arrival stamps
            // can lag a send by more than the default 75 ms margin, which no network here causes.
            fetch: createLimitedFetch({ limiter, provider: 'openai', sync: false, sentMarginMs: 150 }),
          }),
      );
      const total = 60;
      const settled = await Promise.allSettled(
        Array.from({ length: total }, (_, i) =>
          (sdks[i % 2] as OpenAI).chat.completions.create({
            model: 'gpt-4o-mini',
            max_tokens: 5,
            messages: [{ role: 'user', content: `request ${i}` }],
          }),
        ),
      );
      const stats = await server.stats();
      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
      expect(failures).toEqual([]);
      expect(stats.rejected429).toBe(0);
      expect(stats.maxArrivalsInWindow).toBeLessThanOrEqual(20);
      // Counted from admission, each slot would stay taken for its 1 s answer as well: 2 s of 3, 67%.
      const arrivals = stats.requestsSeen.map((r) => r.arrivedAt).sort((a, b) => a - b);
      const span = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);
      console.log(`Redis, two limiters, 1 s answers: ${((100 * 4_000) / span).toFixed(1)}% of the allowed rate`);
      expect(4_000 / span).toBeGreaterThanOrEqual(0.85);
      expect(warnings.filter((m) => /restamp/.test(m))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await Promise.all(limiters.map((l) => l.close()));
      await Promise.all(clients.map((c) => c.quit()));
      await server.close();
    }
  }, 30_000);
});
