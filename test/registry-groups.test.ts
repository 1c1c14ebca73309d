import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimiterRegistry, createLimitedFetch, defaultModelGroup } from '../src/index.js';
import { startMockServer } from '../src/testing/index.js';

describe('model groups', () => {
  it('a dated snapshot or a -latest alias names its base model', () => {
    expect(defaultModelGroup('gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(defaultModelGroup('claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5');
    expect(defaultModelGroup('claude-sonnet-4-5@20250929')).toBe('claude-sonnet-4-5');
    expect(defaultModelGroup('claude-3-5-haiku-latest')).toBe('claude-3-5-haiku');
    expect(defaultModelGroup('gpt-4o')).toBe('gpt-4o');
    expect(defaultModelGroup('gpt-4.1-mini')).toBe('gpt-4.1-mini');
    expect(defaultModelGroup('gemini-2.5-pro')).toBe('gemini-2.5-pro');
  });

  it('snapshots share their base model’s limiter, and `models` keys match them', () => {
    const registry = new LimiterRegistry({
      providers: { openai: { models: { 'gpt-4o': { requests: { limit: 5, windowMs: 60_000 } } } } },
    });
    const limiter = registry.get('openai', 'gpt-4o-2024-08-06');
    expect(registry.get('openai', 'gpt-4o')).toBe(limiter);
    expect(registry.get('openai', 'gpt-4o-latest')).toBe(limiter);
    expect(limiter.limits.requests).toEqual([{ limit: 5, windowMs: 60_000 }]);
    expect(registry.get('openai', 'gpt-4o-mini')).not.toBe(limiter);
    expect(registry.entries().map(([key]) => key)).toEqual([
      { provider: 'openai', model: 'gpt-4o' },
      { provider: 'openai', model: 'gpt-4o-mini' },
    ]);
    // A key written as a snapshot applies to its group too.
    const dated = new LimiterRegistry({
      providers: {
        anthropic: { models: { 'claude-sonnet-4-5-20250929': { requests: { limit: 3, windowMs: 1_000 } } } },
      },
    });
    expect(dated.get('anthropic', 'claude-sonnet-4-5').limits.requests).toEqual([{ limit: 3, windowMs: 1_000 }]);
  });

  it('a provider’s group pools models as the provider does', () => {
    const registry = new LimiterRegistry({
      providers: {
        anthropic: {
          group: (model) => (model.startsWith('claude-sonnet-4') ? 'claude-sonnet-4' : model),
          models: { 'claude-sonnet-4': { requests: { limit: 50, windowMs: 60_000 } } },
        },
      },
    });
    const sonnet = registry.get('anthropic', 'claude-sonnet-4-5-20250929');
    expect(registry.get('anthropic', 'claude-sonnet-4-20250514')).toBe(sonnet);
    expect(registry.groupOf('anthropic', 'claude-sonnet-4-5')).toBe('claude-sonnet-4');
    expect(sonnet.limits.requests).toEqual([{ limit: 50, windowMs: 60_000 }]);
    expect(registry.get('anthropic', 'claude-haiku-4-5')).not.toBe(sonnet);
  });

  it('stats and events say the provider and the group of the limiter, those created later included', async () => {
    const registry = new LimiterRegistry({
      providers: { openai: { default: { requests: { limit: 1, windowMs: 60_000 } } } },
    });
    const first = registry.get('openai', 'gpt-4o-2024-08-06');
    const heard: string[] = [];
    registry.on('acquired', (event, key) => heard.push(`${key.provider}/${key.model} waited ${event.waitedMs}`));
    registry.on('rejected', (event, key) => heard.push(`${key.provider}/${key.model} ${event.reason}`));
    (await first.acquire()).release();
    // Created after the subscription: heard too.
    (await registry.get('openai', 'gpt-4o-mini').acquire()).release();
    expect(() => registry.get('openai', 'gpt-4o').tryAcquire({ tokens: 5 })).not.toThrow();
    expect(heard).toEqual(['openai/gpt-4o waited 0', 'openai/gpt-4o-mini waited 0']);
    expect(registry.stats().map(({ provider, model, stats }) => [provider, model, stats.requests[0]?.used])).toEqual([
      ['openai', 'gpt-4o', 1],
      ['openai', 'gpt-4o-mini', 1],
    ]);
    expect(() => registry.on('acquired', 'nope' as never)).toThrow(/`listener`/);
    // Taken back: not heard again, from any limiter.
    const before = heard.length;
    const onAcquired = (_e: unknown, key: { model: string | undefined }) => heard.push(`again ${key.model}`);
    registry.on('acquired', onAcquired);
    registry.off('acquired', onAcquired);
    (await registry.get('openai', 'gpt-4.1').acquire()).release();
    expect(heard.slice(before)).toEqual(['openai/gpt-4.1 waited 0']);
    expect(first.listenerCount('acquired')).toBe(1);
    await registry.close();
  });

  it('a group that is not a function, or names no group, is a TypeError naming the provider and the value', () => {
    expect(() => new LimiterRegistry({ providers: { openai: { group: 'gpt' as never } } })).toThrow(
      /`providers\.openai\.group` to be a function, got `"gpt"` \(string\)/,
    );
    const registry = new LimiterRegistry({ providers: { openai: { group: (m) => (m === 'x' ? '' : (7 as never)) } } });
    expect(() => registry.get('openai', 'x')).toThrow(
      /`providers\.openai\.group` to return a non-empty string for "x", got `""`/,
    );
    expect(() => registry.get('openai', 'y')).toThrow(/got `7` \(number\)/);
    expect(registry.entries()).toEqual([]);
  });

  it('aliases and snapshots through the fetch against a 5-per-2-s server: one limiter, no 429', async () => {
    const requests = { limit: 5, windowMs: 2_000 };
    const server = await startMockServer({ provider: 'openai', algorithm: 'sliding-window', requests });
    try {
      const registry = new LimiterRegistry({ providers: { openai: { models: { 'gpt-4o': { requests } } } } });
      const client = new OpenAI({
        apiKey: 'sk-test',
        baseURL: server.url,
        maxRetries: 0,
        fetch: createLimitedFetch({ limiter: registry, provider: 'openai' }),
      });
      const names = ['gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o-2024-11-20', 'gpt-4o-latest'];
      const models = Array.from({ length: 12 }, (_, i) => names[i % names.length] as string);
      await Promise.all(
        models.map((model) =>
          client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
        ),
      );
      expect(server.stats().maxRequestsInWindow).toBeLessThanOrEqual(5);
      expect(server.stats().rejected429).toBe(0);
      expect(registry.entries()).toHaveLength(1);
      await registry.close();
    } finally {
      await server.close();
    }
  });
});

describe('the model in the URL: Gemini and Azure', () => {
  let server: http.Server;
  let url: string;
  const seen: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ candidates: [{ content: { parts: [{ text: 'ok' }] } }], choices: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (fetchFn: typeof fetch, path: string, body: unknown = { contents: [{ parts: [{ text: 'hi' }] }] }) =>
    fetchFn(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.text());

  it('each Gemini model gets its own limiter and its own limits, read from the URL', async () => {
    const registry = new LimiterRegistry({
      providers: {
        gemini: {
          models: { 'gemini-2.5-pro': { requests: { limit: 1, windowMs: 60_000 } } },
          default: { requests: { limit: 100, windowMs: 60_000 } },
        },
      },
    });
    const limited = createLimitedFetch({ limiter: registry, provider: 'gemini', sync: false }) as typeof fetch;
    await post(limited, '/v1beta/models/gemini-2.5-pro:generateContent');
    await post(limited, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    await post(limited, '/v1beta/models/gemini-2.5-flash:generateContent');
    expect(registry.entries().map(([key]) => key.model)).toEqual(['gemini-2.5-pro', 'gemini-2.5-flash']);
    // The pro model's one request a minute is spent; flash still has room.
    expect(registry.get('gemini', 'gemini-2.5-pro').tryAcquire()).toBeUndefined();
    expect(registry.get('gemini', 'gemini-2.5-flash').stats().requests[0]?.used).toBe(2);
    await registry.close();
  });

  it('Azure’s deployment names the limiter', async () => {
    const registry = new LimiterRegistry({
      providers: { azure: { default: { requests: { limit: 100, windowMs: 60_000 } } } },
    });
    const limited = createLimitedFetch({ limiter: registry, provider: 'azure', sync: false }) as typeof fetch;
    const chat = { messages: [{ role: 'user', content: 'hi' }] };
    await post(limited, '/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21', chat);
    await post(limited, '/openai/deployments/batch-mini/chat/completions?api-version=2024-10-21', chat);
    expect(registry.entries().map(([key]) => key.model)).toEqual(['prod-gpt4o', 'batch-mini']);
    await registry.close();
  });
});

describe('registry.eachLimiter', () => {
  it('calls back for every limiter, those created later too, until stopped', () => {
    const registry = new LimiterRegistry();
    const first = registry.get('openai', 'gpt-4o');
    const seen: string[] = [];
    const stop = registry.eachLimiter((limiter, key) => {
      seen.push(`${key.provider}/${key.model}`);
      expect(limiter).toBe(registry.get(key.provider, key.model));
    });
    registry.get('openai', 'gpt-4o-2024-08-06');
    registry.get('anthropic', 'claude-haiku-4-5');
    stop();
    registry.get('openai', 'o3');
    expect(seen).toEqual(['openai/gpt-4o', 'anthropic/claude-haiku-4-5']);
    expect(first).toBe(registry.get('openai', 'gpt-4o'));
    expect(() => registry.eachLimiter('no' as never)).toThrow(/fn/);
  });
});
