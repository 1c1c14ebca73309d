import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter, createLimitedFetch, estimateRequestTokens, preloadTokenizer } from '../src/index.js';
import { estimateRequestTokensEarly } from '../src/tokens/estimate.js';
import { eventually } from './helpers/eventually.js';

/*
 * A request with room to spare is admitted at an upper bound of its estimate (its strings as UTF-8
 * bytes) without waiting for the tokenizer worker's count; the count is taken only when someone
 * waits or the answer reports no usage. And a JSON answer is watched through the caller's own
 * read, not a copy of the body.
 */

const USAGE = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };

/** Answers chat completions with USAGE; `/fail` with a 500; `/hold` only when `release()` is called. */
let server: http.Server;
let base: string;
let held: Array<() => void> = [];
const arrivals: string[] = [];

beforeAll(async () => {
  await preloadTokenizer({ model: 'gpt-4o-mini' });
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(req.url ?? '');
      const answer = (): void => {
        if (req.url?.includes('/fail')) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"boom","type":"server_error"}}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'c',
            object: 'chat.completion',
            created: 0,
            model: 'gpt-4o-mini',
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
            usage: USAGE,
          }),
        );
      };
      if (req.url?.includes('/hold')) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const answer of held) answer();
  held = [];
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const minute = (limit: number) => ({ limit, windowMs: 60_000 });
/** About 200 tokens in 1,200 bytes: its bound is six times its count. */
const wordy = {
  model: 'gpt-4o-mini',
  max_tokens: 10,
  messages: [{ role: 'user' as const, content: 'hello '.repeat(200) }],
};
const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function estimates(body: object) {
  const exact = await estimateRequestTokens(body, { provider: 'openai' });
  const early = await estimateRequestTokensEarly(body, { provider: 'openai' }, () => ({ input: 0, output: 0 }));
  return { exact, bound: early.bound };
}

describe('admitted at the bound of its estimate', () => {
  it('no upper bound is below the count, whatever the text', async () => {
    const texts = [
      'The quick brown fox jumps over the lazy dog.',
      '31415926535897932384626433832795028841971693993751',
      '東京都の天気は晴れです。明日は雨が降るでしょう。',
      '🦊🐶🐱 emoji 👩‍👩‍👧‍👦 and flags 🇯🇵🇫🇷',
      'function f(x) {\n  return x.map((y) => y * 2).filter(Boolean);\n}\n',
      ' '.repeat(500),
      'a'.repeat(5_000),
      'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo='.repeat(40),
      '',
    ];
    for (const content of texts) {
      const body = {
        model: 'gpt-4o-mini',
        max_tokens: 5,
        tools: [{ type: 'function', function: { name: 'f', description: content, parameters: { type: 'object' } } }],
        messages: [
          { role: 'system', content },
          { role: 'user', content: [{ type: 'text', text: content }], name: 'x' },
        ],
      };
      const { exact, bound } = await estimates(body);
      expect(bound, content).toBeDefined();
      expect(bound?.input, content).toBeGreaterThanOrEqual(exact.input);
      expect(bound?.output).toBe(exact.output);
    }
  });

  it('is sent at once at the bound, and charged the usage its response reports', async () => {
    const limiter = new Limiter({ requests: minute(10), tokens: minute(100_000) });
    const charged: number[] = [];
    limiter.on('acquired', (event) => charged.push(event.input));
    const client = new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${base}/v1`,
      maxRetries: 0,
      fetch: createLimitedFetch({ limiter, provider: 'openai' }),
    });
    const completion = await client.chat.completions.create(wordy);
    expect(completion.usage?.total_tokens).toBe(10);
    const { exact, bound } = await estimates(wordy);
    expect(charged).toEqual([bound?.input]);
    expect(charged[0]).toBeGreaterThan(exact.input * 4);
    await eventually(() => limiter.stats().inFlight === 0);
    // The estimate never replaces the usage, however late it would have come.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(limiter.stats().tokens[0]?.used).toBe(10);
    await limiter.close();
  });

  it('an answer without usage keeps the estimate, not the bound', async () => {
    const limiter = new Limiter({ requests: minute(10), tokens: minute(100_000) });
    const limited = createLimitedFetch({ limiter, provider: 'openai' });
    const response = await limited(`${base}/fail/v1/chat/completions`, post(wordy));
    expect(response.status).toBe(500);
    const { exact } = await estimates(wordy);
    await eventually(() => limiter.stats().tokens[0]?.used === exact.input + exact.output);
    expect(limiter.stats().inFlight).toBe(0);
    await limiter.close();
  });

  it('a request that would wait lowers the bounds in flight to their estimates, and is sent without waiting for their answers', async () => {
    const { exact, bound } = await estimates(wordy);
    const exactCost = exact.input + exact.output;
    const boundCost = (bound?.input ?? 0) + (bound?.output ?? 0);
    // Room for one bound and one estimate, not for two bounds.
    const limit = boundCost + exactCost + 5;
    expect(limit).toBeLessThan(2 * boundCost);
    const limiter = new Limiter({ requests: minute(10), tokens: minute(limit) });
    const limited = createLimitedFetch({ limiter, provider: 'openai', sync: false });
    arrivals.length = 0;
    const first = limited(`${base}/hold/v1/chat/completions`, post(wordy));
    await eventually(() => arrivals.length === 1);
    expect(limiter.stats().tokens[0]?.used).toBe(boundCost);
    const second = limited(`${base}/hold/v1/chat/completions`, post(wordy));
    await eventually(() => arrivals.length === 2);
    // Both in flight: the first's bound lowered to its estimate, the second admitted at its estimate.
    expect(limiter.stats().tokens[0]?.used).toBe(2 * exactCost);
    expect(limiter.stats().inFlight).toBe(2);
    for (const answer of held) answer();
    held = [];
    for (const response of await Promise.all([first, second])) await response.json();
    await eventually(() => limiter.stats().tokens[0]?.used === 20);
    await limiter.close();
  });

  it('waiters behind a held limiter are admitted by the estimate as soon as they queue', async () => {
    const { exact, bound } = await estimates(wordy);
    const exactCost = exact.input + exact.output;
    const boundCost = (bound?.input ?? 0) + (bound?.output ?? 0);
    const limiter = new Limiter({ requests: minute(10), tokens: minute(boundCost + 50) });
    const limited = createLimitedFetch({ limiter, provider: 'openai', sync: false });
    arrivals.length = 0;
    const first = limited(`${base}/hold/v1/chat/completions`, post(wordy));
    await eventually(() => arrivals.length === 1);
    // A direct acquire that does not fit beside the bound: it queues, and the bound is counted.
    const direct = limiter.acquire({ tokens: boundCost + 50 - exactCost });
    const lease = await direct;
    expect(limiter.stats().tokens[0]?.used).toBe(boundCost + 50);
    lease.cancel();
    for (const answer of held) answer();
    held = [];
    await (await first).json();
    await limiter.close();
  });
});

describe('a JSON answer is watched through the way the caller reads it', () => {
  const readers: Record<string, (response: Response) => Promise<unknown>> = {
    json: (r) => r.json(),
    text: (r) => r.text(),
    arrayBuffer: (r) => r.arrayBuffer(),
    blob: (r) => r.blob(),
    'body stream': async (r) => {
      const reader = r.body?.getReader();
      while (reader !== undefined && !(await reader.read()).done);
    },
    'clone().json()': (r) => r.clone().json(),
    'not at all': async () => undefined,
  };
  for (const [name, read] of Object.entries(readers)) {
    it(`${name}: the usage is charged and the slot released`, async () => {
      const limiter = new Limiter({ requests: minute(10), tokens: minute(100_000), concurrency: 1 });
      const limited = createLimitedFetch({
        limiter,
        provider: 'openai',
        estimate: () => ({ input: 300, output: 200 }),
      });
      const response = await limited(`${base}/v1/chat/completions`, post(wordy));
      expect(response.headers.get('content-type')).toBe('application/json');
      await read(response);
      await eventually(() => limiter.stats().inFlight === 0);
      expect(limiter.stats().tokens[0]?.used).toBe(10);
      await limiter.close();
    });
  }

  it("another fetch's response (a subclass) is left as it is, its usage read from a copy", async () => {
    class OtherResponse extends Response {}
    const limiter = new Limiter({ requests: minute(10), tokens: minute(100_000), concurrency: 1 });
    const limited = createLimitedFetch({
      limiter,
      provider: 'openai',
      estimate: () => 500,
      fetch: async () =>
        new OtherResponse(JSON.stringify({ usage: USAGE }), { headers: { 'content-type': 'application/json' } }),
    });
    const response = await limited(`${base}/v1/chat/completions`, post(wordy));
    expect(response).toBeInstanceOf(OtherResponse);
    await eventually(() => limiter.stats().inFlight === 0);
    expect(limiter.stats().tokens[0]?.used).toBe(10);
    expect(await response.json()).toEqual({ usage: USAGE });
    await limiter.close();
  });

  it('the response is the one fetch gave, its body readable as usual', async () => {
    const limiter = new Limiter({ requests: minute(10) });
    const limited = createLimitedFetch({ limiter, provider: 'openai', estimate: () => 0 });
    const response = await limited(`${base}/v1/chat/completions`, post(wordy));
    expect(response).toBeInstanceOf(Response);
    expect(response.url).toBe(`${base}/v1/chat/completions`);
    const json = (await response.json()) as { usage: unknown };
    expect(json.usage).toEqual(USAGE);
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
    await limiter.close();
  });
});
