import { readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Limiter, createLimitedFetch, estimateRequestTokens, preloadTokenizer } from '../src/index.js';
import type { MockServer } from '../src/testing/index.js';
import { mockServers } from './helpers/mock-servers.js';

/*
 * The mock counts tokens by its own rule (src/testing/mock-counting.ts), not with forestall's
 * estimator: so a client that under-counts meets 429s at the mock, and one that counts right none.
 */

const start = mockServers();
// The client's tokenizer loads in a worker; load it before anything is timed.
beforeAll(() => preloadTokenizer({ model: 'gpt-4o-mini' }));

const PATHS = {
  chat: '/v1/chat/completions',
  responses: '/v1/responses',
  embeddings: '/v1/embeddings',
  messages: '/v1/messages',
} as const;

/** Sends `body` and returns what the mock reserved for it up front and the usage it answered with. */
async function charge(server: MockServer, endpoint: keyof typeof PATHS, body: Record<string, unknown>) {
  const res = await fetch(`${server.origin}${PATHS[endpoint]}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { usage: Record<string, number> };
  const seen = server.stats().requestsSeen.at(-1);
  return { reserved: seen?.reserved, usage: answer.usage };
}

describe("the mock's own count, by its documented rule", () => {
  it("never counts with forestall's estimator: only the encoder is shared, and only by mock-tokenizer.ts", () => {
    const dir = new URL('../src/testing/', import.meta.url);
    const mocks = readdirSync(dir).filter((file) => file.startsWith('mock-'));
    expect(mocks.length).toBeGreaterThan(5);
    const uses = mocks.flatMap((file) =>
      [...readFileSync(new URL(file, dir), 'utf8').matchAll(/from '\.\.\/tokens\/([^']+)'/g)].map(
        (m) => `${file} ${m[1]}`,
      ),
    );
    expect(uses.sort()).toEqual(['mock-tokenizer.ts count.js', 'mock-tokenizer.ts preload.js']);
  });

  it("tokenizer 'fast': ceil(UTF-8 bytes of all the text / 4) + 4 a message + 3 for the reply + fixed charges", async () => {
    const server = await start({ provider: 'openai', tokenizer: 'fast' });
    const model = 'gpt-4o-mini';
    // 'Hello, mock!' is 12 bytes: 3 + 4 + 3 = 10; the output reserved is max_tokens x n.
    const hello = await charge(server, 'chat', {
      model,
      messages: [{ role: 'user', content: 'Hello, mock!' }],
      max_tokens: 10,
      n: 2,
    });
    expect(hello.reserved).toEqual({ input: 10, output: 20 });
    expect(hello.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 20 });

    // Text: 'Be brief.' 9 + 'ada' 3 + 'Hi there' 8, the tool's 'now' 3 + 'The time' 8 +
    // '{"type":"object"}' 17 = 48 bytes, 12 tokens; 2 messages 8, the reply 3, a low-detail image
    // 85: 108. No maximum: 1,024 output reserved.
    const parts = await charge(server, 'chat', {
      model,
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          name: 'ada',
          content: [
            { type: 'text', text: 'Hi there' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
          ],
        },
      ],
      tools: [{ type: 'function', function: { name: 'now', description: 'The time', parameters: { type: 'object' } } }],
    });
    expect(parts.reserved).toEqual({ input: 108, output: 1_024 });

    // Responses: 'Be funny' 8 + 'Tell me a joke' 14 = 22 bytes, 6; instructions and input 4 each, reply 3.
    const joke = await charge(server, 'responses', {
      model,
      instructions: 'Be funny',
      input: 'Tell me a joke',
      max_output_tokens: 16,
    });
    expect(joke.reserved).toEqual({ input: 17, output: 16 });
    expect(joke.usage).toMatchObject({ input_tokens: 17, output_tokens: 16 });

    // Input items: 'abcd' 4 + 'f' 1 + '{}' 2 + '42' 2 = 9 bytes, 3 (call ids are not text); 3 items 12; reply 3.
    const items = await charge(server, 'responses', {
      model,
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'abcd' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: '42' },
      ],
    });
    expect(items.reserved).toEqual({ input: 18, output: 1_024 });

    // Embeddings: input only, no wrappers; token ids count one each.
    const embed = (input: unknown) => charge(server, 'embeddings', { model: 'text-embedding-3-small', input });
    expect((await embed('abcdefgh')).reserved).toEqual({ input: 2, output: 0 });
    expect((await embed(['one', 'two words'])).reserved).toEqual({ input: 3, output: 0 });
    expect((await embed([1, 2, 3])).reserved).toEqual({ input: 3, output: 0 });
    expect((await embed([[1, 2], [3]])).reserved).toEqual({ input: 3, output: 0 });
  });

  it("tokenizer 'fast' on Anthropic: system blocks, tools with their tool-use prompt, tool use and results", async () => {
    const server = await start({ provider: 'anthropic', tokenizer: 'fast' });
    const model = 'claude-sonnet-4-5';
    const ephemeral = { type: 'ephemeral' };
    const tools = [
      { name: 'get_time', description: 'Current time', input_schema: { type: 'object' }, cache_control: ephemeral },
    ];
    const base = {
      model,
      max_tokens: 100,
      system: [{ type: 'text', text: 'You are terse.', cache_control: ephemeral }],
      messages: [{ role: 'user', content: 'Hello Claude' }],
    };
    // 'You are terse.' 14 + 'Hello Claude' 12 = 26 bytes, 7; the message 4 (the system prompt is
    // text only); reply 3.
    expect((await charge(server, 'messages', base)).reserved).toEqual({ input: 14, output: 100 });
    // + 'get_time' 8 + 'Current time' 12 + '{"type":"object"}' 17: 63 bytes, 16; + 7 + 346 (auto).
    const withTools = await charge(server, 'messages', { ...base, tools });
    expect(withTools.reserved).toEqual({ input: 369, output: 100 });
    expect(withTools.usage).toMatchObject({ input_tokens: 369, output_tokens: 20 });
    const forced = await charge(server, 'messages', { ...base, tools, tool_choice: { type: 'any' } });
    expect(forced.reserved?.input).toBe(336);

    // 'Time?' 5 + 'get_time' 8 + '{"tz":"UTC"}' 12 + '12:00' 5 = 30 bytes, 8; 3 messages 12; reply 3.
    const turns = await charge(server, 'messages', {
      model,
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'Time?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_time', input: { tz: 'UTC' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '12:00' }] },
      ],
    });
    expect(turns.reserved).toEqual({ input: 23, output: 50 });
  });

  it("tokenizer 'tiktoken' (the default): o200k_base tokens of each text, the same wrappers", async () => {
    const server = await start({ provider: 'openai' });
    // 'Hello world' is 2 o200k_base tokens: 2 + 4 + 3.
    const hello = await charge(server, 'chat', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello world' }],
      max_completion_tokens: 5,
    });
    expect(hello.reserved).toEqual({ input: 9, output: 5 });
    // Special-token spellings are plain text, as the APIs treat them.
    const special = await charge(server, 'embeddings', { model: 'text-embedding-3-small', input: '<|endoftext|>' });
    expect(special.reserved?.input).toBeGreaterThan(1);
  });

  it("stays within 20% of forestall's estimate for ordinary English prompts", async () => {
    const server = await start({ provider: 'openai' });
    const prose =
      'Summarize the following customer review in one sentence, and tell me whether it is positive or ' +
      'negative: I bought this blender last month and it has already stopped working. The customer ' +
      'service was friendly but could not help me.';
    const bodies = [
      [
        'chat',
        {
          model: 'gpt-4o-mini',
          messages: [
            { role: 'system', content: 'You are helpful.' },
            { role: 'user', content: prose },
          ],
        },
      ],
      ['responses', { model: 'gpt-4.1-mini', instructions: 'Answer briefly.', input: prose }],
      ['embeddings', { model: 'text-embedding-3-small', input: [prose, prose.toUpperCase()] }],
    ] as const;
    for (const [endpoint, body] of bodies) {
      const client = await estimateRequestTokens(body, { provider: 'openai', api: endpoint });
      const { reserved } = await charge(server, endpoint, body);
      const ratio = (reserved?.input ?? 0) / client.input;
      expect(ratio, endpoint).toBeGreaterThanOrEqual(0.8);
      expect(ratio, endpoint).toBeLessThanOrEqual(1.2);
    }
  });
});

describe('an estimator that under-counts meets the mock', () => {
  const windowMs = 1_000;
  const tokens = { limit: 6_000, windowMs };
  // About 200 prompt tokens and 50 of output a request: some 24 fit a window, 40 need two.
  const prose =
    'Write a short story about a lighthouse keeper who discovers that the light has been signalling ' +
    'to ships that do not exist. Keep it under three hundred words, give the keeper a name, and end ' +
    'with a question that the reader cannot answer. ';
  const body = (i: number) =>
    JSON.stringify({
      model: 'gpt-4o-mini',
      max_tokens: 50,
      messages: [{ role: 'user', content: `Request ${i}: ${prose.repeat(4)}` }],
    });

  async function run(server: MockServer, limitedFetch: typeof fetch, n: number): Promise<number[]> {
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await limitedFetch(`${server.url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body(i),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
  }

  it('a tiny estimate gets 429s from the mock; the default estimator, on the same budget, none', async () => {
    const server = await start({ provider: 'openai', tokens, latencyMs: 5 });
    const n = 40;

    const right = new Limiter({ tokens });
    const rightStatuses = await run(server, createLimitedFetch({ limiter: right, provider: 'openai' }), n);
    const rightStats = server.stats();
    await right.close();

    server.reset();
    const wrong = new Limiter({ tokens });
    const wrongFetch = createLimitedFetch({
      limiter: wrong,
      provider: 'openai',
      estimate: () => ({ input: 1, output: 0 }),
      sync: false, // header sync would tell the limiter what the server counts: not here
    });
    const wrongStatuses = await run(server, wrongFetch, n);
    const wrongStats = server.stats();
    await wrong.close();

    console.log(
      `under-counting estimator: ${wrongStats.rejected429} 429s of ${n}; default estimator: ${rightStats.rejected429}`,
    );
    expect(rightStats.rejected429).toBe(0);
    expect(rightStatuses.every((s) => s === 200)).toBe(true);
    // At the limit, not under it by a wide margin: the budget was what held it back.
    expect(rightStats.maxTokensInWindow).toBeGreaterThan(0.8 * tokens.limit);
    expect(rightStats.maxTokensInWindow).toBeLessThanOrEqual(tokens.limit);
    expect(wrongStats.rejected429).toBeGreaterThan(0);
    expect(wrongStatuses.filter((s) => s === 429)).toHaveLength(wrongStats.rejected429);
  });
});
