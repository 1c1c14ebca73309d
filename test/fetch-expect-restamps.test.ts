import { describe, expect, it } from 'vitest';
import { Limiter, LimiterRegistry, createLimitedFetch } from '../src/index.js';
import type { CountFrom } from '../src/fetch/fetch-options.js';
import { MemoryStore } from '../src/stores/memory-store.js';

/*
 * The fetch wrapper counts a request from when it arrived (`countFrom`, 'sent' by default), so it
 * tells each limiter's store before the limiter admits (`expectRestamps`): a shared store then
 * books no slot on an entry that may still move later (the Redis store's rule; see
 * test/redis-store.test.ts and test/redis-arrival.test.ts).
 */

/** A memory store that counts the hints it is given. */
class HintedStore extends MemoryStore {
  hints = 0;
  expectRestamps(): void {
    this.hints++;
  }
}

const ok = async (): Promise<Response> =>
  new Response(JSON.stringify({ choices: [] }), { headers: { 'content-type': 'application/json' } });

const body = (model: string): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('createLimitedFetch tells the store its leases will be restamped', () => {
  for (const [countFrom, told] of [
    ['sent', true],
    ['response', true],
    ['admission', false],
  ] as const) {
    it(`countFrom '${countFrom}': ${told ? 'told before each admission' : 'never told'}`, async () => {
      const store = new HintedStore();
      const limiter = new Limiter({ requests: { limit: 10, windowMs: 1_000 }, store });
      const limited = createLimitedFetch({ limiter, provider: 'openai', sync: false, countFrom, fetch: ok });
      for (let i = 0; i < 2; i++) {
        await (await limited('http://127.0.0.1:9/v1/chat/completions', { method: 'POST', body: body('m') })).text();
      }
      expect(store.hints).toBe(told ? 2 : 0);
      await limiter.close();
    });
  }

  it('with fallback, every candidate model is told before it is asked', async () => {
    const stores = new Map<string, HintedStore>();
    const registry = new LimiterRegistry({
      providers: { openai: { models: { big: { requests: { limit: 10, windowMs: 1_000 } }, small: {} } } },
      create: (options, key) => {
        const store = new HintedStore();
        stores.set(key.model ?? '', store);
        return new Limiter({ ...options, store });
      },
    });
    const limited = createLimitedFetch({
      limiter: registry,
      provider: 'openai',
      sync: false,
      countFrom: 'sent' satisfies CountFrom,
      fetch: ok,
      fallback: { models: { big: ['small'] } },
    });
    await (await limited('http://127.0.0.1:9/v1/chat/completions', { method: 'POST', body: body('big') })).text();
    expect(stores.get('big')?.hints).toBeGreaterThanOrEqual(1);
    expect(stores.get('small')?.hints).toBeGreaterThanOrEqual(1);
    await registry.close();
  });
});
