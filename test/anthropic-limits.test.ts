import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { LimiterRegistry, createLimitedFetch } from '../src/index.js';
import { startMockServer } from '../src/testing/index.js';
import { eventually } from './helpers/eventually.js';
import { startMockProcess } from './helpers/mock-process.js';

/** The real SDK, its own retries off, through a limited fetch on `registry`. */
function throughForestall(registry: LimiterRegistry, baseURL: string, retry = false): Anthropic {
  return new Anthropic({
    apiKey: 'sk-ant-test',
    baseURL,
    maxRetries: 0,
    fetch: createLimitedFetch({ limiter: registry, provider: 'anthropic', retry }),
  });
}

describe('Anthropic as it limits', () => {
  // The README recipe's shape (requests, input and output tokens apart), its minute scaled to 2 s
  // so the test stays short: requests bind (150 of 50 per window), the token budgets nearly.
  it('the recipe at the limit, against the mock in its own process: 0 429s and >= 90% of the allowed rate', async () => {
    const windowMs = 2_000;
    const limits = {
      requests: { limit: 50, windowMs },
      inputTokens: { limit: 30_000, windowMs },
      outputTokens: { limit: 8_000, windowMs },
    };
    const server = await startMockProcess({
      provider: 'anthropic',
      algorithm: 'sliding-window',
      ...limits,
      latencyMs: { min: 5, max: 20 },
      tokenizer: 'fast',
    });
    const registry = new LimiterRegistry({ providers: { anthropic: { default: limits } } });
    try {
      const anthropic = throughForestall(registry, server.url);
      const total = 150;
      await Promise.all(
        Array.from({ length: total }, (_, i) =>
          anthropic.messages.create({
            model: 'claude-sonnet-5-5',
            max_tokens: 150,
            messages: [{ role: 'user', content: `Request ${i}: ${'say something about rate limits. '.repeat(20)}` }],
          }),
        ),
      );
      const stats = await server.stats();
      expect(stats.rejected429).toBe(0);
      const arrivals = stats.requestsSeen.map((r) => r.arrivedAt);
      const span = Math.max(...arrivals) - Math.min(...arrivals);
      // Beyond the first window, at most 50 per window: the ideal span of 150 is two windows.
      const ideal = (Math.ceil(total / limits.requests.limit) - 1) * windowMs;
      console.log(`Anthropic recipe at the limit: ${((100 * ideal) / span).toFixed(1)}% of the allowed rate, 0 429s`);
      expect(ideal / span).toBeGreaterThanOrEqual(0.9);
    } finally {
      await registry.close();
      await server.close();
    }
  }, 20_000);

  it("with limits: 'auto', learns requests, input and output tokens apart from the headers, and fills a window without a 429", async () => {
    const minute = 60_000;
    const server = await startMockProcess({
      provider: 'anthropic',
      algorithm: 'sliding-window',
      requests: { limit: 20, windowMs: minute },
      inputTokens: { limit: 30_000, windowMs: minute },
      outputTokens: { limit: 3_000, windowMs: minute },
      latencyMs: { min: 5, max: 20 },
      tokenizer: 'fast',
    });
    const registry = new LimiterRegistry({ providers: { anthropic: { default: 'auto' } } });
    try {
      const anthropic = throughForestall(registry, server.url);
      // 24 requests of 150 output tokens: the 20 the minute allows go, the other 4 wait for it.
      const sent = Array.from({ length: 24 }, (_, i) =>
        anthropic.messages.create({
          model: 'claude-sonnet-5-5',
          max_tokens: 150,
          messages: [{ role: 'user', content: `Request ${i}: ${'tell me about limits. '.repeat(10)}` }],
        }),
      );
      const limiter = registry.get('anthropic', 'claude-sonnet-5-5');
      const settled = Promise.allSettled(sent);
      await eventually(() => limiter.stats().queued === 4 && limiter.stats().inFlight === 0, { timeoutMs: 10_000 });
      expect(limiter.limits).toMatchObject({
        requests: [{ limit: 20, windowMs: minute }],
        inputTokens: [{ limit: 30_000, windowMs: minute }],
        outputTokens: [{ limit: 3_000, windowMs: minute }],
      });
      // No combined budget from the tokens-* headers (the tightest of the two, here the 3,000).
      expect(limiter.limits.tokens ?? []).toEqual([]);
      const stats = await server.stats();
      expect(stats.rejected429).toBe(0);
      expect(stats.requestsSeen.filter((r) => r.status === 200)).toHaveLength(20);
      expect(limiter.stats().queued).toBe(4);
      await registry.close();
      // Closing rejects the four still waiting for the minute: none was sent.
      expect((await settled).filter((r) => r.status === 'rejected')).toHaveLength(4);
      expect((await server.stats()).requestsSeen).toHaveLength(20);
    } finally {
      await registry.close();
      await server.close();
    }
  }, 20_000);

  it('the README recipe sends a request that fits both real budgets: the combined tokens-* headers make no budget', async () => {
    const limits = {
      requests: { limit: 50, windowMs: 60_000 },
      inputTokens: { limit: 30_000, windowMs: 60_000 },
      outputTokens: { limit: 8_000, windowMs: 60_000 },
    };
    const server = await startMockServer({ provider: 'anthropic', ...limits, tokenizer: 'fast' });
    const registry = new LimiterRegistry({ providers: { anthropic: { default: limits } } });
    try {
      const anthropic = throughForestall(registry, server.url, true);
      const ask = (content: string, maxTokens: number) =>
        anthropic.messages.create({
          model: 'claude-sonnet-5-5',
          max_tokens: maxTokens,
          messages: [{ role: 'user', content }],
        });
      // The first answer brings the headers, tokens-* (8,000: the output limit) among them.
      await ask('Say hello', 16);
      const limiter = registry.get('anthropic', 'claude-sonnet-5-5');
      expect(limiter.limits.tokens).toBeUndefined();
      // About 12k input tokens and 1,024 output: over 8,000 together, within each real limit.
      const long = 'The limiter waits before it sends. '.repeat(1_700);
      const message = await ask(long, 1_024);
      expect(message.content.length).toBeGreaterThan(0);
      expect(limiter.stats().inputTokens[0]?.used).toBeGreaterThan(10_000);
      expect(server.stats().rejected429).toBe(0);
    } finally {
      await registry.close();
      await server.close();
    }
  });
});
