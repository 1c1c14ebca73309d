import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders } from '../src/providers/headers.js';
import { startMockServer, type MockServer, type MockServerOptions } from '../src/testing/index.js';
import { mockServers } from './helpers/mock-servers.js';
import { sleep } from './helpers/sleep.js';

const start = mockServers();

function openai(server: MockServer): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
}

function anthropic(server: MockServer): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries: 0 });
}

const chatBody = (content = 'Say hello to the mock', extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content }],
  ...extra,
});

describe('OpenAI API through the real openai client', () => {
  it('chat completion: shape, usage and rate-limit headers', async () => {
    const server = await start({
      provider: 'openai',
      requests: { limit: 10, windowMs: 60_000 },
      tokens: { limit: 100_000, windowMs: 60_000 },
    });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/v1`);
    const { data, response } = await openai(server)
      .chat.completions.create(chatBody('echo these words', { max_tokens: 50 }))
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.model).toBe('gpt-4o-mini');
    expect(typeof data.created).toBe('number');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]?.message.role).toBe('assistant');
    expect(data.choices[0]?.message.content).toMatch(/^echo these words echo/);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.completion_tokens).toBe(20);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + 20);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);

    const snapshot = parseRateLimitHeaders(response.headers, 'openai');
    expect(snapshot.requests).toMatchObject({ limit: 10, remaining: 9 });
    // Measured from arrival: a minute, less the time the request took to answer.
    expect(snapshot.requests?.resetMs).toBeGreaterThan(50_000);
    expect(snapshot.requests?.resetMs).toBeLessThanOrEqual(60_000);
    expect(snapshot.tokens).toMatchObject({ limit: 100_000, remaining: 100_000 - (data.usage?.total_tokens ?? 0) });

    const stats = server.stats();
    expect(stats).toMatchObject({ accepted: 1, rejected429: 0, total: 1, tokensCharged: data.usage?.total_tokens });
    expect(stats.byPath).toEqual({ '/v1/chat/completions': 1 });
  });

  it('prompt usage is deterministic for the same body; n and max_tokens shape the output', async () => {
    const server = await start({ provider: 'openai', outputTokensPerResponse: 7 });
    const client = openai(server);
    const a = await client.chat.completions.create(chatBody('same body'));
    const b = await client.chat.completions.create(chatBody('same body'));
    expect(a.usage?.prompt_tokens).toBe(b.usage?.prompt_tokens);
    expect(a.usage?.completion_tokens).toBe(7);
    const c = await client.chat.completions.create(chatBody('two choices', { n: 2, max_completion_tokens: 3 }));
    expect(c.choices.map((ch) => ch.finish_reason)).toEqual(['length', 'length']);
    expect(c.usage?.completion_tokens).toBe(6);
    expect(c.choices[0]?.message.content).toBe('two choices two');
  });

  it('streams chat chunks with a final usage chunk when include_usage is set', async () => {
    const server = await start({ provider: 'openai', tokens: { limit: 50_000, windowMs: 60_000 } });
    const stream = await openai(server).chat.completions.create({
      ...chatBody('stream me please'),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBe(23); // role chunk, 20 words, finish chunk, usage chunk
    expect(text.split(' ')).toHaveLength(20);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(20);
    expect(server.stats().tokensCharged).toBe(usage?.total_tokens);
  });

  it('streams without usage when include_usage is absent, and works with the stream helper', async () => {
    const server = await start({ provider: 'openai', streamChunkDelayMs: 1 });
    const client = openai(server);
    const stream = await client.chat.completions.create({ ...chatBody('no usage'), stream: true });
    for await (const chunk of stream) expect(chunk.usage).toBeUndefined();
    const helper = client.chat.completions.stream({ ...chatBody('helper'), max_tokens: 4 });
    const final = await helper.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('helper helper helper helper');
    expect(final.choices[0]?.finish_reason).toBe('length');
  });

  it('responses API: create and stream with response.completed usage', async () => {
    const server = await start({ provider: 'openai', tokens: { limit: 50_000, windowMs: 60_000 } });
    const client = openai(server);
    const created = await client.responses.create({
      model: 'gpt-4.1-mini',
      input: 'hello responses',
      instructions: 'be brief',
    });
    expect(created.object).toBe('response');
    expect(created.status).toBe('completed');
    expect(created.output_text).toMatch(/^hello responses hello/);
    expect(created.usage?.output_tokens).toBe(20);

    const events: string[] = [];
    const stream = client.responses.stream({ model: 'gpt-4.1-mini', input: [{ role: 'user', content: 'stream it' }] });
    stream.on('event', (e) => events.push(e.type));
    const final = await stream.finalResponse();
    // The stream helper's final response has no `output_text` convenience; read the message.
    const message = final.output[0];
    const part = message?.type === 'message' ? message.content[0] : undefined;
    expect(part?.type === 'output_text' && part.text).toMatch(/^stream it stream/);
    expect(final.usage?.total_tokens).toBe((final.usage?.input_tokens ?? 0) + 20);
    expect(events[0]).toBe('response.created');
    expect(events.at(-1)).toBe('response.completed');
    expect(events).toContain('response.output_text.delta');
    expect(server.stats().tokensCharged).toBe((created.usage?.total_tokens ?? 0) + (final.usage?.total_tokens ?? 0));

    const short = await client.responses.create({ model: 'gpt-4.1-mini', input: 'cut short', max_output_tokens: 16 });
    expect(short.status).toBe('incomplete');
    expect(short.incomplete_details?.reason).toBe('max_output_tokens');
    expect(short.usage?.output_tokens).toBe(16);
  });

  it('embeddings: base64 (the SDK default) and float', async () => {
    const server = await start({ provider: 'openai', tokens: { limit: 50_000, windowMs: 60_000 } });
    const client = openai(server);
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two words'] });
    expect(res.object).toBe('list');
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding).toHaveLength(8);
    expect(res.data[0]?.embedding.every((x) => typeof x === 'number' && Math.abs(x) <= 1)).toBe(true);
    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'one',
      encoding_format: 'float',
      dimensions: 4,
    });
    expect(floats.data[0]?.embedding).toHaveLength(4);
    expect(floats.data[0]?.embedding[0]).toBeCloseTo(res.data[0]?.embedding[0] ?? NaN, 5);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    expect(server.stats().tokensCharged).toBe(res.usage.total_tokens + floats.usage.total_tokens);
  });
});

describe('Anthropic API through the real @anthropic-ai/sdk client', () => {
  const messageBody = (content = 'Hello Claude mock', max_tokens = 100) => ({
    model: 'claude-haiku-4-5',
    max_tokens,
    messages: [{ role: 'user' as const, content }],
  });

  it('messages: shape, usage and anthropic-ratelimit headers', async () => {
    const server = await start({
      provider: 'anthropic',
      requests: { limit: 50, windowMs: 60_000 },
      inputTokens: { limit: 30_000, windowMs: 60_000 },
      outputTokens: { limit: 8_000, windowMs: 60_000 },
    });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const { data, response } = await anthropic(server).messages.create(messageBody()).withResponse();
    expect(data.type).toBe('message');
    expect(data.id).toMatch(/^msg_/);
    expect(data.role).toBe('assistant');
    expect(data.content[0]?.type).toBe('text');
    expect(data.content[0]?.type === 'text' && data.content[0].text).toMatch(/^Hello Claude mock Hello/);
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.output_tokens).toBe(20);
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('request-id')).toMatch(/^req_/);

    const snapshot = parseRateLimitHeaders(response.headers, 'anthropic');
    expect(snapshot.requests?.limit).toBe(50);
    expect(snapshot.inputTokens?.limit).toBe(30_000);
    expect(snapshot.outputTokens?.limit).toBe(8_000);
    // Without a `tokens` limit, the tokens headers show the most restrictive of input and output
    // (which the parser leaves out beside the separate ones).
    expect(response.headers.get('anthropic-ratelimit-tokens-limit')).toBe('8000');
    expect(snapshot.tokens).toBeUndefined();
    expect(snapshot.requests?.resetMs).toBeLessThanOrEqual(60_000);

    const stats = server.stats();
    expect(stats.inputTokens).toBe(data.usage.input_tokens);
    expect(stats.outputTokens).toBe(20);
  });

  it('streams message_start … message_stop with usage in message_delta', async () => {
    const server = await start({ provider: 'anthropic', outputTokens: { limit: 8_000, windowMs: 60_000 } });
    const client = anthropic(server);
    const raw = await client.messages.create({ ...messageBody('raw stream', 5), stream: true });
    const types: string[] = [];
    for await (const event of raw) types.push(event.type);
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const final = await client.messages.stream(messageBody('helper stream')).finalMessage();
    expect(final.content[0]?.type === 'text' && final.content[0].text).toMatch(/^helper stream helper/);
    expect(final.usage.output_tokens).toBe(20);
    expect(final.stop_reason).toBe('end_turn');
    expect(server.stats().outputTokens).toBe(5 + 20);
  });

  it('missing max_tokens is a 400 invalid_request_error', async () => {
    const server = await start({ provider: 'anthropic' });
    const res = await fetch(`${server.origin}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', messages: [] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
    });
  });
});

describe('limits', () => {
  it('sliding window: 8 quick requests against 5 per 500 ms give 5 answers and 3 exact 429s', async () => {
    const server = await start({ provider: 'openai', requests: { limit: 5, windowMs: 500 } });
    const client = openai(server);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => client.chat.completions.create(chatBody())),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(ok).toHaveLength(5);
    expect(failed).toHaveLength(3);
    for (const error of failed) {
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      const e = error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.status).toBe(429);
      expect(e.code).toBe('rate_limit_exceeded');
      expect(e.type).toBe('requests');
      expect(e.param).toBeNull();
      expect(e.message).toMatch(
        /Rate limit reached for gpt-4o-mini in organization org-forestall-mock on requests per 500ms: Limit 5, Used 5, Requested 1\. Please try again in \d+ms\. Visit https:\/\/platform\.openai\.com\/account\/rate-limits to learn more\./,
      );
      expect(e.headers.get('retry-after')).toBe('1');
      expect(e.headers.get('retry-after-ms')).toBeNull();
      expect(e.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      const snapshot = parseRateLimitHeaders(e.headers, 'openai');
      expect(snapshot.requests?.limit).toBe(5);
      expect(snapshot.requests?.resetMs).toBeGreaterThan(400);
      expect(snapshot.requests?.resetMs).toBeLessThanOrEqual(500);
      expect(snapshot.retryAfterMs).toBe(1_000);
    }
    let stats = server.stats();
    expect(stats).toMatchObject({
      accepted: 5,
      rejected429: 3,
      total: 8,
      maxRequestsInWindow: 5,
      maxArrivalsInWindow: 8,
    });
    expect(stats.windows).toEqual([
      { kind: 'requests', limit: 5, windowMs: 500, maxInWindow: 5, maxArrivedInWindow: 8 },
    ]);

    await sleep(520);
    await client.chat.completions.create(chatBody());
    stats = server.stats();
    expect(stats.accepted).toBe(6);
    expect(stats.maxRequestsInWindow).toBe(5);
  });

  it('retryAfterMs adds a retry-after-ms header the SDKs prefer', async () => {
    const server = await start({ provider: 'openai', requests: { limit: 1, windowMs: 300 }, retryAfterMs: true });
    const client = openai(server);
    await client.chat.completions.create(chatBody());
    const error = await client.chat.completions.create(chatBody()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const ms = Number((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after-ms'));
    expect(ms).toBeGreaterThan(200);
    expect(ms).toBeLessThanOrEqual(300);
  });

  it('several request windows at once: the tighter one binds and is the one in the headers', async () => {
    const server = await start({
      provider: 'openai',
      requests: [
        { limit: 10, windowMs: 60_000 },
        { limit: 2, windowMs: 300 },
      ],
    });
    const client = openai(server);
    const first = await client.chat.completions.create(chatBody()).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    await client.chat.completions.create(chatBody());
    await expect(client.chat.completions.create(chatBody())).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await sleep(320);
    await client.chat.completions.create(chatBody());
    expect(server.stats().windows.map((w) => w.maxInWindow)).toEqual([3, 2]);
  });

  it('token bucket (Anthropic): refills continuously, rejects with the exact body and retry-after', async () => {
    const server = await start({ provider: 'anthropic', requests: { limit: 2, windowMs: 400 } });
    const client = anthropic(server);
    const body = { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };
    await client.messages.create(body);
    await client.messages.create(body);
    const error = await client.messages.create(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const e = error as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.error).toMatchObject({
      type: 'error',
      error: {
        type: 'rate_limit_error',
        message: expect.stringMatching(
          /^This request would exceed your organization's rate limit of 2 requests per 400ms \(org: org-forestall-mock, model: claude-haiku-4-5\)\./,
        ),
      },
      request_id: expect.stringMatching(/^req_/),
    });
    expect(e.headers.get('retry-after')).toBe('1');
    const snapshot = parseRateLimitHeaders(e.headers, 'anthropic');
    expect(snapshot.requests?.limit).toBe(2);
    expect(snapshot.requests?.remaining).toBe(0);
    // One request refills every 200 ms; back to full takes at most the whole window.
    expect(snapshot.requests?.resetMs).toBeGreaterThan(200);
    expect(snapshot.requests?.resetMs).toBeLessThanOrEqual(401);

    // A bucket, not a window: one slot is back after ~200 ms, long before the window ends.
    await sleep(230);
    await client.messages.create(body);
    await expect(client.messages.create(body)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(server.stats()).toMatchObject({ accepted: 3, rejected429: 2 });
  });

  it('tokens are charged up front (prompt + max_tokens x n) and corrected to real usage', async () => {
    const server = await start({ provider: 'openai', tokens: { limit: 600, windowMs: 60_000 }, latencyMs: 80 });
    const client = openai(server);
    const body = chatBody('count me', { max_tokens: 400 });
    // In flight together, both up-front charges (~410 each) do not fit in 600: the second is refused.
    const together = await Promise.allSettled([
      client.chat.completions.create(body),
      client.chat.completions.create(body),
    ]);
    expect(together.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const refused = (together[1] as PromiseRejectedResult).reason as InstanceType<typeof OpenAI.RateLimitError>;
    expect(refused.type).toBe('tokens');
    expect(refused.message).toMatch(
      /on tokens per min \(TPM\): Limit 600, Used 4\d\d, Requested 4\d\d\. Please try again in/,
    );

    // One after the other, the first has been corrected to ~30 tokens, so the second fits.
    const first = (together[0] as PromiseFulfilledResult<OpenAI.ChatCompletion>).value;
    const second = await client.chat.completions.create(body);
    const stats = server.stats();
    expect(stats.tokensCharged).toBe((first.usage?.total_tokens ?? 0) + (second.usage?.total_tokens ?? 0));
    expect(stats.maxTokensInWindow).toBe(stats.tokensCharged);
    const reserved = stats.requestsSeen.find((r) => r.outcome === 'accepted')?.reserved;
    expect(reserved?.output).toBe(400);
    expect(reserved?.input).toBe(first.usage?.prompt_tokens);
  });

  it('without a maximum in the body, outputReservation per choice is charged up front', async () => {
    const server = await start({
      provider: 'openai',
      tokens: { limit: 10_000, windowMs: 60_000 },
      outputReservation: 100,
    });
    const client = openai(server);
    await client.chat.completions.create(chatBody('no max', { n: 3 }));
    await client.responses.create({ model: 'gpt-4.1-mini', input: 'no max either' });
    const [chat, responses] = server.stats().requestsSeen;
    expect(chat?.reserved?.output).toBe(300);
    expect(chat?.charged?.output).toBe(60);
    expect(responses?.reserved?.output).toBe(100);
    expect(responses?.charged?.output).toBe(20);
  });

  it('a request larger than a whole token limit gets "Request too large" and no retry-after', async () => {
    const server = await start({ provider: 'openai', tokens: { limit: 600, windowMs: 60_000 } });
    const error = await openai(server)
      .chat.completions.create(chatBody('big', { max_tokens: 1_000 }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const e = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.message).toMatch(
      /^429 Request too large for gpt-4o-mini in organization org-forestall-mock on tokens per min \(TPM\): Limit 600, Requested 1\d\d\d\. The input or output tokens must be reduced/,
    );
    expect(e.type).toBe('tokens');
    expect(e.headers.get('retry-after')).toBeNull();
    expect(server.stats().requestsSeen[0]?.outcome).toBe('too-large');
  });

  it('anthropic: input and output token buckets are charged apart; max_tokens over OTPM never fits', async () => {
    const server = await start({
      provider: 'anthropic',
      inputTokens: { limit: 10_000, windowMs: 60_000 },
      outputTokens: { limit: 100, windowMs: 60_000 },
    });
    const client = anthropic(server);
    const big = await client.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(big).toBeInstanceOf(Anthropic.RateLimitError);
    expect((big as InstanceType<typeof Anthropic.RateLimitError>).message).toMatch(
      /rate limit of 100 output tokens per minute/,
    );
    const { response } = await client.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 60, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    // Corrected from 60 to 20 before the headers were written.
    expect(response.headers.get('anthropic-ratelimit-output-tokens-remaining')).toBe('80');
    await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 60,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(server.stats()).toMatchObject({ accepted: 2, rejected429: 1, outputTokens: 40 });
  });

  it('countRejected: a 429 still takes a request slot when asked', async () => {
    const run = async (countRejected: boolean): Promise<number> => {
      const server = await start({ provider: 'openai', requests: { limit: 2, windowMs: 300 }, countRejected });
      const post = () =>
        fetch(`${server.url}/chat/completions`, { method: 'POST', body: JSON.stringify(chatBody()) }).then(
          (r) => r.status,
        );
      await post();
      await post();
      await sleep(150);
      expect(await post()).toBe(429);
      await sleep(170); // the first two have left the window; the refused one has not
      const statuses = [await post(), await post()];
      return statuses.filter((s) => s === 200).length;
    };
    expect(await run(false)).toBe(2);
    expect(await run(true)).toBe(1);
  });
});

describe('faults, latency, bookkeeping', () => {
  async function outcomes(seed: number): Promise<string[]> {
    const server = await start({ provider: 'openai', faults: { error500: 0.3, reset: 0.2 }, seed });
    const out: string[] = [];
    for (let i = 0; i < 20; i++) {
      const status = await fetch(`${server.url}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify(chatBody()),
      }).then(
        (r) => String(r.status),
        () => 'reset',
      );
      out.push(status);
    }
    const stats = server.stats();
    expect(stats.errors500).toBe(out.filter((s) => s === '500').length);
    expect(stats.resets).toBe(out.filter((s) => s === 'reset').length);
    expect(stats.accepted).toBe(out.filter((s) => s === '200').length);
    expect(stats.tokensCharged).toBe(
      stats.requestsSeen
        .filter((r) => r.outcome === 'accepted')
        .reduce((n, r) => n + (r.charged?.input ?? 0) + (r.charged?.output ?? 0), 0),
    );
    return out;
  }

  it('the same seed gives the same faults; another seed differs', async () => {
    const a = await outcomes(42);
    const b = await outcomes(42);
    const c = await outcomes(7);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toContain('500');
    expect(a).toContain('reset');
    expect(a).toContain('200');
  });

  it('the SDK sees a 500 as InternalServerError with the server_error body, a reset as a connection error', async () => {
    const server = await start({ provider: 'openai', faults: { error500: 1 } });
    const error = await openai(server)
      .chat.completions.create(chatBody())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.InternalServerError>).type).toBe('server_error');
    const resetting = await start({ provider: 'anthropic', faults: { reset: 1 } });
    const reset = await anthropic(resetting)
      .messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(Anthropic.APIConnectionError);
  });

  it('close() resolves with a hanging request, and the request fails', async () => {
    const server = await startMockServer({ provider: 'openai', faults: { hang: 1 } });
    const pending = fetch(`${server.url}/chat/completions`, { method: 'POST', body: JSON.stringify(chatBody()) }).then(
      () => 'answered',
      () => 'failed',
    );
    while (server.stats().hangs === 0) await sleep(5);
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await pending).toBe('failed');
    await server.close(); // idempotent
  });

  it('latencyMs delays answers (fixed and seeded range)', async () => {
    const server = await start({ provider: 'openai', latencyMs: 60 });
    const started = performance.now();
    await openai(server).chat.completions.create(chatBody());
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    const ranged = await start({ provider: 'openai', latencyMs: { min: 10, max: 30 } });
    const t = performance.now();
    await openai(ranged).chat.completions.create(chatBody());
    expect(performance.now() - t).toBeGreaterThanOrEqual(9);
  });

  it('records identifiers and reports requests served twice', async () => {
    const server = await start({ provider: 'openai' });
    const client = openai(server);
    await client.chat.completions.create(chatBody(), { headers: { 'x-forestall-id': 'job-1' } });
    await client.chat.completions.create(chatBody(), { headers: { 'x-forestall-id': 'job-2' } });
    await client.chat.completions.create(chatBody('meta', { metadata: { forestall_id: 'job-3' }, store: true }));
    expect(server.stats().duplicates).toEqual([]);
    await client.chat.completions.create(chatBody(), { headers: { 'x-forestall-id': 'job-1' } });
    const stats = server.stats();
    expect(stats.duplicates).toEqual(['job-1']);
    expect(stats.requestsSeen.map((r) => r.id)).toEqual(['job-1', 'job-2', 'job-3', 'job-1']);
    expect(stats.requestsSeen[0]?.bodyHash).toBe(stats.requestsSeen[1]?.bodyHash);
    expect(stats.requestsSeen[0]?.bodyHash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reset() forgets limits and statistics', async () => {
    const server = await start({ provider: 'openai', requests: { limit: 1, windowMs: 60_000 } });
    const client = openai(server);
    await client.chat.completions.create(chatBody());
    await expect(client.chat.completions.create(chatBody())).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    server.reset();
    expect(server.stats().total).toBe(0);
    await client.chat.completions.create(chatBody());
    expect(server.stats()).toMatchObject({ total: 1, accepted: 1 });
  });

  it('unknown paths are 404 and bad JSON is 400, in the provider format, outside the limits', async () => {
    const server = await start({ provider: 'openai', requests: { limit: 1, windowMs: 60_000 } });
    const notFound = await fetch(`${server.url}/models`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({
      error: { message: 'Invalid URL (GET /v1/models)', type: 'invalid_request_error', param: null, code: null },
    });
    const bad = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    await openai(server).chat.completions.create(chatBody());
    expect(server.stats()).toMatchObject({ total: 3, badRequests: 2, accepted: 1 });
    const wrongApi = await fetch(`${server.origin}/v1/messages`, { method: 'POST', body: '{}' });
    expect(wrongApi.status).toBe(404);
  });

  it('capacity: beyond its concurrency the mock answers overloaded at once (OpenAI 503, Anthropic 529), without rate-limit headers', async () => {
    for (const provider of ['openai', 'anthropic'] as const) {
      await using server = await startMockServer({
        provider,
        capacity: { concurrency: 2 },
        latencyMs: 150,
        requests: { limit: 100, windowMs: 60_000 },
      });
      const path = provider === 'openai' ? '/chat/completions' : '/v1/messages';
      const post = () =>
        fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
        });
      const answers = await Promise.all(Array.from({ length: 5 }, post));
      const statuses = answers.map((r) => r.status).sort();
      const busy = provider === 'openai' ? 503 : 529;
      expect(statuses).toEqual([200, 200, busy, busy, busy]);
      const overloaded = answers.find((r) => r.status === busy) as Response;
      const names: string[] = [];
      overloaded.headers.forEach((_value, name) => {
        names.push(name);
      });
      expect(names.filter((k) => k.includes('ratelimit'))).toEqual([]);
      expect(names).toContain('content-type');
      const body = (await overloaded.json()) as { error: { type: string } };
      expect(body.error.type).toBe(provider === 'openai' ? 'server_error' : 'overloaded_error');
      // Once the two are answered, there is room again.
      expect((await post()).status).toBe(200);
      const stats = server.stats();
      expect(stats).toMatchObject({ overloaded: 3, maxInFlight: 2, accepted: 3 });
      // Overloaded requests never reached the limits.
      expect(stats.maxRequestsInWindow).toBe(3);
    }
    await expect(startMockServer({ provider: 'openai', capacity: { concurrency: 0 } })).rejects.toThrow(
      /capacity\.concurrency/,
    );
  });

  it('supports await using', async () => {
    let url: string;
    {
      await using server = await startMockServer({ provider: 'anthropic' });
      url = server.url;
      await anthropic(server).messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      });
    }
    await expect(fetch(`${url}/v1/messages`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

describe('option validation', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'unknown provider',
      { provider: 'gemini' },
      /Expected `provider` to be one of 'openai', 'anthropic', got `"gemini"` \(string\)/,
    ],
    ['missing provider', {}, /Expected `provider` to be one of/],
    [
      'bad window',
      { provider: 'openai', requests: { limit: 5, windowMs: -5 } },
      /Expected `requests.windowMs` to be a positive finite number, got `-5` \(number\)/,
    ],
    [
      'bad window in array',
      {
        provider: 'openai',
        tokens: [
          { limit: 5, windowMs: 1 },
          { limit: 0, windowMs: 1 },
        ],
      },
      /`tokens\[1\].limit` to be a positive integer/,
    ],
    ['unknown option', { provider: 'openai', rpm: 5 }, /Unknown option `rpm`/],
    ['faults over 1', { provider: 'openai', faults: { error500: 0.6, hang: 0.6 } }, /sum to at most 1/],
    ['fault share', { provider: 'openai', faults: { reset: 2 } }, /`faults.reset` to be a share between 0 and 1/],
    ['latency range', { provider: 'openai', latencyMs: { min: 10, max: 5 } }, /`latencyMs.max` to be at least/],
    [
      'algorithm',
      { provider: 'openai', algorithm: 'leaky' },
      /`algorithm` to be one of 'sliding-window', 'token-bucket'/,
    ],
    ['port', { provider: 'openai', port: 70_000 }, /`port` to be at most 65535/],
    [
      'outputReservation',
      { provider: 'openai', outputReservation: 1.5 },
      /`outputReservation` to be a non-negative integer/,
    ],
    ['countRejected', { provider: 'openai', countRejected: 'yes' }, /`countRejected` to be a boolean/],
    ['not an object', 'openai', /Expected `options` to be an object/],
  ])('%s', async (_label, options, message) => {
    await expect(startMockServer(options as MockServerOptions)).rejects.toThrow(message);
  });
});
