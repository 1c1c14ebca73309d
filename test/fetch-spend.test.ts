import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { CapacityError, createLimitedFetch, Limiter, LimiterRegistry, type OperationEvent } from '../src/index.js';
import { eventually } from './helpers/eventually.js';
import { mockServers } from './helpers/mock-servers.js';
import { chatCompletionBody } from './helpers/openai-body.js';

const startMock = mockServers();
const DAY = 86_400_000;
const MINI = { input: 0.15, cachedInput: 0.075, output: 0.6 };

/** A server answering every chat request with `usage`, recording how many it got. */
async function usageServer(usage: object) {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(chatCompletionBody(usage));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the fetch wrapper with prices', () => {
  it('reserves the estimated cost, reconciles the real one from the usage the mock reports', async () => {
    const server = await startMock({ provider: 'openai', tokenizer: 'fast', outputTokensPerResponse: 20 });
    const registry = new LimiterRegistry({
      providers: { openai: { models: { 'gpt-4o-mini': { spend: { limit: 1, windowMs: DAY } } } } },
    });
    const fetch = createLimitedFetch({ limiter: registry, provider: 'openai', prices: { 'gpt-4o-mini': MINI } });
    const client = new OpenAI({ apiKey: 'test', baseURL: server.url, fetch, maxRetries: 0 });
    const limiter = registry.get('openai', 'gpt-4o-mini');
    let reservedBefore = 0;
    let reserved = 0;
    limiter.on('reconciled', () => {
      reservedBefore = reserved;
    });
    limiter.on('acquired', () => {
      reserved = limiter.stats().spend[0]?.used ?? 0;
    });
    let spent = 0;
    for (let i = 0; i < 3; i++) {
      const r = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `Hello number ${i}` }],
        max_completion_tokens: 100,
      });
      const usage = r.usage as { prompt_tokens: number; completion_tokens: number };
      spent += (usage.prompt_tokens * MINI.input + usage.completion_tokens * MINI.output) / 1e6;
      // While it ran, the reservation priced 100 output tokens; now what it used.
      expect(reserved).toBeGreaterThan(spent);
    }
    await eventually(() => Math.abs((limiter.stats().spend[0]?.used ?? 0) - spent) < 1e-12);
    expect(reservedBefore).toBeGreaterThan(0);
    expect(server.stats().accepted).toBe(3);
  });

  it('prices cache reads at the cached rate: OpenAI inside the prompt count', async () => {
    const server = await usageServer({
      prompt_tokens: 1_000,
      completion_tokens: 10,
      prompt_tokens_details: { cached_tokens: 800 },
    });
    try {
      const limiter = new Limiter({ spend: { limit: 10, windowMs: DAY } });
      const fetch = createLimitedFetch({ limiter, provider: 'openai', prices: { 'gpt-4o-mini': MINI } });
      const client = new OpenAI({ apiKey: 'test', baseURL: server.url, fetch, maxRetries: 0 });
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
      const expected = (200 * MINI.input + 800 * MINI.cachedInput + 10 * MINI.output) / 1e6;
      await eventually(() => Math.abs((limiter.stats().spend[0]?.used ?? 0) - expected) < 1e-12);
    } finally {
      await server.close();
    }
  });

  it('a request that could never fit the budget fails before it is sent; an unpriced model on a budget throws', async () => {
    const server = await usageServer({ prompt_tokens: 1, completion_tokens: 1 });
    try {
      const limiter = new Limiter({ spend: { limit: 0.0001, windowMs: DAY } });
      const fetch = createLimitedFetch({
        limiter,
        provider: 'openai',
        prices: { 'gpt-4o': { input: 2.5, output: 10 } },
      });
      const client = new OpenAI({ apiKey: 'test', baseURL: server.url, fetch, maxRetries: 0 });
      const big = client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hi' }],
        max_completion_tokens: 1_000,
      });
      // The SDK wraps what its fetch throws (APIConnectionError); the cause is forestall's.
      const causeOf = (e: unknown) => (e as { cause?: unknown }).cause ?? e;
      expect(causeOf(await big.catch((e: unknown) => e))).toBeInstanceOf(CapacityError);
      const unpriced = client.chat.completions.create({ model: 'o3', messages: [{ role: 'user', content: 'Hi' }] });
      expect(String(causeOf(await unpriced.catch((e: unknown) => e)))).toMatch(/No price for model "o3" in `prices`/);
      expect(server.requests()).toBe(0);
      expect(limiter.stats().spend[0]?.used).toBe(0);
    } finally {
      await server.close();
    }
  });

  it.each([
    [{ 'gpt-4o': { input: -1, output: 1 } }, /prices\["gpt-4o"\]\.input/],
    [{ 'gpt-4o': { input: 1, output: Number.NaN } }, /prices\["gpt-4o"\]\.output/],
    [{ 'gpt-4o': { input: 1, output: 1, cachedInput: Number.POSITIVE_INFINITY } }, /prices\["gpt-4o"\]\.cachedInput/],
    [{ '': { input: 1, output: 1 } }, /every key of `prices` to name a model/],
    [{ 'gpt-4o': { input: 1, output: 1, reasoning: 2 } }, /reasoning/],
    [{}, /at least one model/],
    ['cheap', /`prices`/],
  ])('bad prices %j are refused when the fetch is created', (prices, message) => {
    expect(() => createLimitedFetch({ limiter: new Limiter(), provider: 'openai', prices: prices as never })).toThrow(
      message,
    );
  });
});

describe('the operation event', () => {
  it('once per request, on the limiter that served it: duration, models, status, attempts; no message', async () => {
    const server = await startMock({
      provider: 'openai',
      requests: { limit: 1, windowMs: 2_000 },
      countRejected: false,
    });
    const limiter = new Limiter({ requests: { limit: 5, windowMs: 2_000 } });
    const events: OperationEvent[] = [];
    limiter.on('operation', (event) => events.push(event));
    // Both at once (no first-contact wait): the mock refuses the second, which is retried.
    const fetch = createLimitedFetch({ limiter, provider: 'openai', sync: false, retry: true });
    const client = new OpenAI({ apiKey: 'sk-secret-key', baseURL: server.url, fetch, maxRetries: 0 });
    await Promise.all(
      [0, 1].map(() =>
        client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
      ),
    );
    expect(events).toHaveLength(2);
    expect(events.map((e) => e.attempts).sort()).toEqual([1, 2]);
    for (const e of events) {
      expect(e).toMatchObject({
        requestedModel: 'gpt-4o-mini',
        model: 'gpt-4o-mini',
        status: 200,
        error: undefined,
        streaming: false,
      });
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(JSON.stringify(events)).not.toContain('sk-secret');
  });
});
