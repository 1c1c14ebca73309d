import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { LimiterRegistry, createLimitedFetch } from '../src/index.js';
import { startMockServer } from '../src/testing/index.js';

describe('Anthropic as it limits', () => {
  it('the README recipe sends a request that fits both real budgets: the combined tokens-* headers make no budget', async () => {
    const limits = {
      requests: { limit: 50, windowMs: 60_000 },
      inputTokens: { limit: 30_000, windowMs: 60_000 },
      outputTokens: { limit: 8_000, windowMs: 60_000 },
    };
    const server = await startMockServer({ provider: 'anthropic', ...limits, tokenizer: 'fast' });
    const registry = new LimiterRegistry({ providers: { anthropic: { default: limits } } });
    try {
      const anthropic = new Anthropic({
        apiKey: 'sk-ant-test',
        baseURL: server.url,
        maxRetries: 0,
        fetch: createLimitedFetch({ limiter: registry, provider: 'anthropic', retry: true }),
      });
      const ask = (content: string, maxTokens: number) =>
        anthropic.messages.create({
          model: 'claude-sonnet-4-5',
          max_tokens: maxTokens,
          messages: [{ role: 'user', content }],
        });
      // The first answer brings the headers, tokens-* (8,000: the output limit) among them.
      await ask('Say hello', 16);
      const limiter = registry.get('anthropic', 'claude-sonnet-4-5');
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
