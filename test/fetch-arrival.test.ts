import OpenAI from 'openai';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Limiter, createLimitedFetch, preloadTokenizer } from '../src/index.js';
import { startMockProcess, type MockProcess } from './helpers/mock-process.js';

/*
 * A provider counts a request when it arrives. A burst admitted at once leaves the process over
 * tens of milliseconds (estimates, the SDK, new connections), so the next burst, admitted exactly
 * one window after the first admission, can arrive less than a window after the first burst's
 * stragglers: the strict server refuses those.
 */
const servers: MockProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
beforeAll(() => preloadTokenizer({ model: 'gpt-4o-mini' }));

async function run(countFrom: 'response' | 'admission') {
  const requests = { limit: 20, windowMs: 2_000 };
  const server = await startMockProcess({
    provider: 'openai',
    algorithm: 'sliding-window',
    requests,
    latencyMs: { min: 5, max: 40 },
  });
  servers.push(server);
  const limiter = new Limiter({ requests });
  const client = new OpenAI({
    apiKey: 'sk-test',
    baseURL: server.url,
    maxRetries: 0,
    // Without header sync, so only the counting moment differs.
    fetch: createLimitedFetch({ limiter, provider: 'openai', sync: false, countFrom }),
  });
  const settled = await Promise.allSettled(
    Array.from({ length: 60 }, (_, i) =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 10,
        messages: [{ role: 'user', content: `request ${i}` }],
      }),
    ),
  );
  const stats = await server.stats();
  return {
    rejected: stats.rejected429,
    failed: settled.filter((s) => s.status === 'rejected').length,
    max: stats.maxArrivalsInWindow,
  };
}

describe('windows hold as the provider sees them (arrival times)', () => {
  it('counting from the response: a strict 20-per-2-s server answers all 60 without a 429', async () => {
    const result = await run('response');
    expect(result.rejected).toBe(0);
    expect(result.failed).toBe(0);
    expect(result.max).toBeLessThanOrEqual(20);
  });
});
