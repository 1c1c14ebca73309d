import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Limiter, createLimitedFetch } from '../src/index.js';
import { startMockServer, type MockServer } from '../src/testing/index.js';

let server: MockServer;
// A fresh server per test: header sync would (rightly) count an earlier test's requests as others'.
beforeEach(async () => {
  server = await startMockServer({
    provider: 'openai',
    requests: { limit: 100, windowMs: 60_000 },
    tokens: { limit: 1_000_000, windowMs: 60_000 },
  });
});
afterEach(() => server.close());

describe('the Vercel AI SDK through createLimitedFetch', () => {
  for (const api of ['responses', 'chat'] as const) {
    it(`generateText and streamText work (${api} API), and every request goes through the limiter`, async () => {
      const limiter = new Limiter({
        requests: { limit: 100, windowMs: 60_000 },
        tokens: { limit: 1_000_000, windowMs: 60_000 },
      });
      const openai = createOpenAI({
        apiKey: 'sk-test',
        baseURL: server.url,
        fetch: createLimitedFetch({ limiter, provider: 'openai', retry: true }),
      });
      const model = api === 'chat' ? openai.chat('gpt-4o-mini') : openai('gpt-4o-mini');
      const generated = await generateText({ model, prompt: 'Say hello', maxOutputTokens: 20, maxRetries: 0 });
      expect(generated.text.length).toBeGreaterThan(0);
      expect(generated.usage.inputTokens).toBeGreaterThan(0);

      const streamed = streamText({ model, prompt: 'Stream hello', maxOutputTokens: 20, maxRetries: 0 });
      let text = '';
      for await (const part of streamed.textStream) text += part;
      expect(text.length).toBeGreaterThan(0);
      expect((await streamed.usage).outputTokens).toBeGreaterThan(0);

      const stats = limiter.stats();
      expect(stats.requests[0]?.used).toBe(2);
      // Both charges were reconciled to what the server reported (streams included).
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(limiter.stats().inFlight).toBe(0);
      expect(stats.tokens[0]?.used).toBeLessThan(2 * 1_024);
    });
  }
});
