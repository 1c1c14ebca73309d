import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { endpointOf } from '../src/fetch/endpoint.js';
import { Limiter, LimiterRegistry, createLimitedFetch } from '../src/index.js';

/** What the server saw: method and path of every request. */
let seen: string[] = [];
let server: http.Server;
let baseURL: string;

const json = (res: http.ServerResponse, body: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '').replace(/\?.*$/, '');
      seen.push(`${req.method} ${path}`);
      if (path === '/v1/messages/count_tokens') return json(res, { input_tokens: 42 });
      if (path === '/v1/messages') {
        return json(res, {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-x',
          content: [{ type: 'text', text: 'hi' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 11, output_tokens: 3 },
        });
      }
      if (path === '/v1/models') {
        return json(res, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'x' }] });
      }
      if (path === '/v1/chat/completions') {
        return json(res, {
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 0,
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
        });
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found"}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
});

function idle(limiter: Limiter): Promise<void> {
  const stats = limiter.stats();
  if (stats.inFlight === 0 && stats.queued === 0) return Promise.resolve();
  return new Promise((resolve) => limiter.once('idle', resolve));
}

const minute = (limit: number) => ({ limit, windowMs: 60_000 });
const messageParams = { model: 'claude-x', max_tokens: 20, messages: [{ role: 'user' as const, content: 'hello' }] };

describe('only generation is charged to the generation limiter', () => {
  it('anthropic.messages.countTokens() passes a plain Limiter by: the limiter shows only the messages', async () => {
    const limiter = new Limiter({ requests: minute(100), inputTokens: minute(100_000), outputTokens: minute(100_000) });
    const acquired: number[] = [];
    limiter.on('acquired', (e) => acquired.push(e.input));
    const client = new Anthropic({
      apiKey: 'sk-ant-test',
      baseURL,
      maxRetries: 0,
      fetch: createLimitedFetch({ limiter, provider: 'anthropic' }),
    });
    const counted = await client.messages.countTokens({ model: 'claude-x', messages: messageParams.messages });
    await client.messages.create(messageParams);
    expect(counted.input_tokens).toBe(42);
    await client.messages.countTokens({ model: 'claude-x', messages: messageParams.messages });
    await idle(limiter);
    expect(seen).toEqual(['POST /v1/messages/count_tokens', 'POST /v1/messages', 'POST /v1/messages/count_tokens']);
    expect(acquired).toHaveLength(1);
    const stats = limiter.stats();
    expect(stats.requests[0]?.used).toBe(1);
    expect(stats.inputTokens[0]?.used).toBe(11);
    expect(stats.outputTokens[0]?.used).toBe(3);
  });

  it("with a registry, token counting goes through the provider's count_tokens limiter, with no tokens", async () => {
    const registry = new LimiterRegistry({
      providers: {
        anthropic: {
          default: { requests: minute(50), inputTokens: minute(100_000), outputTokens: minute(100_000) },
          models: { count_tokens: { requests: minute(2) } },
        },
      },
    });
    const client = new Anthropic({
      apiKey: 'sk-ant-test',
      baseURL,
      maxRetries: 0,
      fetch: createLimitedFetch({ limiter: registry, provider: 'anthropic' }),
    });
    await client.messages.countTokens({ model: 'claude-x', messages: messageParams.messages });
    await client.messages.create(messageParams);
    await client.messages.countTokens({ model: 'claude-x', messages: messageParams.messages });
    const chat = registry.get('anthropic', 'claude-x');
    const counting = registry.get('anthropic', 'count_tokens');
    await idle(chat);
    await idle(counting);
    expect(chat.stats().requests[0]?.used).toBe(1);
    expect(chat.stats().inputTokens[0]?.used).toBe(11);
    expect(counting.stats().requests[0]?.used).toBe(2);
    // Its own limit: a third would wait.
    expect(counting.tryAcquire()).toBeUndefined();
    await registry.close();
  });

  it('openai.models.list() passes by: the chat limiter shows only the chat requests and tokens', async () => {
    const limiter = new Limiter({ requests: minute(100), tokens: minute(100_000) });
    const client = new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${baseURL}/v1`,
      maxRetries: 0,
      fetch: createLimitedFetch({ limiter, provider: 'openai' }),
    });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4o-mini']);
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await client.models.list();
    await idle(limiter);
    expect(seen).toEqual(['GET /v1/models', 'POST /v1/chat/completions', 'GET /v1/models']);
    expect(limiter.stats().requests[0]?.used).toBe(1);
    expect(limiter.stats().tokens[0]?.used).toBe(11);
  });
});

describe('endpointOf', () => {
  it.each([
    ['POST', 'https://api.openai.com/v1/chat/completions', 'generate'],
    ['POST', 'https://api.openai.com/v1/completions', 'generate'],
    ['POST', 'https://api.openai.com/v1/responses', 'generate'],
    ['POST', 'https://api.openai.com/v1/embeddings', 'generate'],
    ['POST', 'https://api.openai.com/v1/audio/transcriptions', 'generate'],
    ['POST', 'https://api.anthropic.com/v1/messages', 'generate'],
    ['POST', 'https://x.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?key=k', 'generate'],
    ['POST', 'https://x.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', 'generate'],
    ['POST', 'https://x.googleapis.com/v1beta/models/text-embedding-004:embedContent', 'generate'],
    ['POST', 'https://r.example/openai/deployments/d/chat/completions?api-version=1', 'generate'],
    ['POST', 'https://api.anthropic.com/v1/messages/count_tokens', 'count-tokens'],
    ['POST', 'https://api.openai.com/v1/responses/input_tokens', 'count-tokens'],
    ['POST', 'https://x.googleapis.com/v1beta/models/gemini-2.0-flash:countTokens', 'count-tokens'],
    ['GET', 'https://api.openai.com/v1/models', 'pass'],
    ['GET', 'https://api.openai.com/v1/chat/completions', 'pass'],
    ['DELETE', 'https://api.openai.com/v1/responses/resp_1', 'pass'],
    ['POST', 'https://api.openai.com/v1/responses/resp_1/cancel', 'pass'],
    ['POST', 'https://api.openai.com/v1/files', 'pass'],
    ['POST', 'https://api.openai.com/v1/batches', 'pass'],
    ['POST', 'https://api.openai.com/v1/batches/b/cancel', 'pass'],
    ['POST', 'https://api.anthropic.com/v1/messages/batches', 'pass'],
    ['POST', 'https://api.openai.com/v1/fine_tuning/jobs', 'pass'],
    ['POST', 'https://x.googleapis.com/v1beta/models/gemini-2.0-flash:batchGenerateContent', 'pass'],
    ['POST', 'http://localhost:8080/some/custom/generate', 'generate'],
  ])('%s %s: %s', (method, url, kind) => {
    expect(endpointOf(url, method).kind).toBe(kind);
  });

  it("reads each provider's own endpoints from its module", () => {
    expect(endpointOf('https://api.anthropic.com/v1/messages', 'POST', 'anthropic')).toEqual({
      kind: 'generate',
      api: 'anthropic-messages',
    });
    expect(endpointOf('https://api.anthropic.com/v1/messages/count_tokens', 'POST', 'anthropic').kind).toBe(
      'count-tokens',
    );
    expect(endpointOf('https://api.anthropic.com/v1/messages/batches', 'POST', 'anthropic').kind).toBe('pass');
    const gemini = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro';
    expect(endpointOf(`${gemini}:streamGenerateContent?alt=sse`, 'POST', 'gemini')).toEqual({
      kind: 'generate',
      api: 'gemini',
    });
    expect(endpointOf(`${gemini}:countTokens`, 'POST', 'gemini').kind).toBe('count-tokens');
    expect(endpointOf('https://openrouter.ai/api/v1/chat/completions', 'POST', 'openrouter')).toEqual({
      kind: 'generate',
      api: 'chat',
    });
    expect(endpointOf('https://api.deepseek.com/v1/files', 'POST', 'deepseek').kind).toBe('pass');
    // A path no module knows is charged: better a slot spent than a limit passed.
    expect(endpointOf('http://localhost:8000/v1/generate', 'POST', 'vllm')).toEqual({
      kind: 'generate',
      api: undefined,
    });
  });
});
