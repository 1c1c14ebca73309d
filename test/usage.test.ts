import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamUsageWatcher, usageFromResponse } from '../src/providers/usage.js';
import type { TokenUsage } from '../src/providers/usage.js';

describe('usageFromResponse', () => {
  it('reads OpenAI chat completions', () => {
    const body = { object: 'chat.completion', usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 } };
    expect(usageFromResponse(body, 'openai')).toEqual({ input: 120, output: 30 });
    expect(usageFromResponse(body, 'azure')).toEqual({ input: 120, output: 30 });
    expect(usageFromResponse(body, 'mistral')).toEqual({ input: 120, output: 30 });
  });

  it('reads the Responses API, cached input included', () => {
    const body = {
      object: 'response',
      usage: { input_tokens: 80, input_tokens_details: { cached_tokens: 60 }, output_tokens: 12, total_tokens: 92 },
    };
    expect(usageFromResponse(body, 'openai')).toEqual({ input: 80, output: 12, cachedInput: 60 });
  });

  it('reads embeddings as input only', () => {
    expect(usageFromResponse({ object: 'list', usage: { prompt_tokens: 8, total_tokens: 8 } }, 'openai')).toEqual({
      input: 8,
      output: 0,
    });
  });

  it('reads Anthropic: cache writes count as input, cache reads do not', () => {
    const body = {
      type: 'message',
      usage: { input_tokens: 100, cache_creation_input_tokens: 50, cache_read_input_tokens: 1_000, output_tokens: 20 },
    };
    expect(usageFromResponse(body, 'anthropic')).toEqual({ input: 150, output: 20, cachedInput: 1_000 });
    expect(usageFromResponse({ usage: { input_tokens: 7, output_tokens: 2 } }, 'anthropic')).toEqual({
      input: 7,
      output: 2,
    });
  });

  it("reads Groq's x_groq usage and Gemini's usageMetadata", () => {
    expect(usageFromResponse({ x_groq: { usage: { prompt_tokens: 5, completion_tokens: 6 } } }, 'groq')).toEqual({
      input: 5,
      output: 6,
    });
    const gemini = {
      usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 10, thoughtsTokenCount: 5, totalTokenCount: 55 },
    };
    expect(usageFromResponse(gemini, 'gemini')).toEqual({ input: 40, output: 15 });
    expect(usageFromResponse([{ candidates: [] }, gemini], 'gemini')).toEqual({ input: 40, output: 15 });
  });

  it('returns undefined when there is no usage', () => {
    expect(usageFromResponse({ choices: [] }, 'openai')).toBeUndefined();
    expect(usageFromResponse({ usage: null }, 'openai')).toBeUndefined();
    expect(usageFromResponse({ usage: { total_tokens: 5 } }, 'openai')).toBeUndefined();
    expect(usageFromResponse('text', 'openai')).toBeUndefined();
    expect(usageFromResponse(null, 'anthropic')).toBeUndefined();
    expect(usageFromResponse({}, 'gemini')).toBeUndefined();
  });

  it('rejects a provider that is not a string', () => {
    expect(() => usageFromResponse({}, 5 as unknown as string)).toThrow(/`provider`/);
    expect(() => new StreamUsageWatcher(undefined as unknown as string)).toThrow(TypeError);
  });
});

/** An SSE body from events; `eol` lets tests use CR LF or bare CR line ends. */
function sse(events: readonly { event?: string; data: string }[], eol = '\n'): string {
  return events
    .map((e) => `${e.event === undefined ? '' : `event: ${e.event}${eol}`}data: ${e.data}${eol}${eol}`)
    .join('');
}

const TEXT = 'Héllo wörld 🙂 東京 — "_tokens" in text';

function chatChunk(content: string): string {
  return JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: { content } }],
    usage: null,
  });
}

const OPENAI_CHAT = sse([
  { data: chatChunk('') },
  ...TEXT.split(' ').map((w) => ({ data: chatChunk(`${w} `) })),
  {
    data: JSON.stringify({
      id: 'c1',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      usage: null,
    }),
  },
  {
    data: JSON.stringify({
      id: 'c1',
      object: 'chat.completion.chunk',
      choices: [],
      usage: { prompt_tokens: 17, completion_tokens: 9, total_tokens: 26 },
    }),
  },
  { data: '[DONE]' },
]);

const OPENAI_RESPONSES = sse([
  {
    event: 'response.created',
    data: JSON.stringify({ type: 'response.created', response: { id: 'r1', max_output_tokens: null, usage: null } }),
  },
  {
    event: 'response.in_progress',
    data: JSON.stringify({ type: 'response.in_progress', response: { id: 'r1', usage: null } }),
  },
  ...TEXT.split(' ').map((w) => ({
    event: 'response.output_text.delta',
    data: JSON.stringify({ type: 'response.output_text.delta', delta: `${w} ` }),
  })),
  {
    event: 'response.completed',
    data: JSON.stringify({
      type: 'response.completed',
      response: { id: 'r1', usage: { input_tokens: 33, output_tokens: 11, total_tokens: 44 } },
    }),
  },
]);

function anthropicStream(delta: Record<string, number>): string {
  return sse([
    {
      event: 'message_start',
      data: JSON.stringify({
        type: 'message_start',
        message: {
          id: 'm1',
          usage: { input_tokens: 25, cache_creation_input_tokens: 10, cache_read_input_tokens: 500, output_tokens: 1 },
        },
      }),
    },
    {
      event: 'content_block_start',
      data: JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    },
    { event: 'ping', data: JSON.stringify({ type: 'ping' }) },
    ...TEXT.split(' ').map((w) => ({
      event: 'content_block_delta',
      data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `${w} ` } }),
    })),
    { event: 'content_block_stop', data: JSON.stringify({ type: 'content_block_stop', index: 0 }) },
    {
      event: 'message_delta',
      data: JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: delta }),
    },
    { event: 'message_stop', data: JSON.stringify({ type: 'message_stop' }) },
  ]);
}

const GEMINI = sse([
  {
    data: JSON.stringify({
      candidates: [{ content: { parts: [{ text: 'Hi' }] } }],
      usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 1 },
    }),
  },
  {
    data: JSON.stringify({
      candidates: [{ content: { parts: [{ text: ' there' }] } }],
      usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 4, thoughtsTokenCount: 2 },
    }),
  },
]);

const encoder = new TextEncoder();

/** Feeds `body` cut at `cuts` (byte offsets) and returns the usage seen at the end. */
function watch(provider: string, body: string, cuts: readonly number[] = []): TokenUsage | undefined {
  const bytes = encoder.encode(body);
  const watcher = new StreamUsageWatcher(provider);
  let from = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)) {
    watcher.push(bytes.subarray(from, cut));
    from = cut;
  }
  watcher.push(bytes.subarray(from));
  watcher.end();
  return watcher.usage;
}

function byteAtATime(provider: string, body: string): TokenUsage | undefined {
  const bytes = encoder.encode(body);
  return watch(
    provider,
    body,
    Array.from({ length: bytes.length }, (_, i) => i),
  );
}

const STREAMS: readonly [string, string, string, TokenUsage][] = [
  ['OpenAI chat with include_usage', 'openai', OPENAI_CHAT, { input: 17, output: 9 }],
  ['OpenAI Responses', 'openai', OPENAI_RESPONSES, { input: 33, output: 11 }],
  ['Anthropic', 'anthropic', anthropicStream({ output_tokens: 42 }), { input: 35, output: 42, cachedInput: 500 }],
  [
    'Anthropic with input fields in message_delta',
    'anthropic',
    anthropicStream({
      input_tokens: 30,
      cache_creation_input_tokens: 12,
      cache_read_input_tokens: 500,
      output_tokens: 40,
    }),
    { input: 42, output: 40, cachedInput: 500 },
  ],
  ['Gemini', 'gemini', GEMINI, { input: 12, output: 6 }],
];

describe('StreamUsageWatcher', () => {
  it.each(STREAMS)('reads %s fed whole', (_name, provider, body, usage) => {
    expect(watch(provider, body)).toEqual(usage);
  });

  it.each(STREAMS)('reads %s fed one byte at a time', (_name, provider, body, usage) => {
    expect(byteAtATime(provider, body)).toEqual(usage);
  });

  it.each(STREAMS)('reads %s fed in random chunks', (_name, provider, body, usage) => {
    const length = encoder.encode(body).length;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: length - 1 }), { maxLength: 60 }), (cuts) => {
        expect(watch(provider, body, cuts)).toEqual(usage);
      }),
      { numRuns: 150 },
    );
  });

  it('reads CR LF and bare CR line ends, also when CR and LF arrive apart', () => {
    const events = [
      {
        event: 'message_start',
        data: JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 3, output_tokens: 1 } } }),
      },
      { event: 'message_delta', data: JSON.stringify({ type: 'message_delta', usage: { output_tokens: 8 } }) },
    ];
    for (const eol of ['\r\n', '\r']) {
      const body = sse(events, eol);
      expect(watch('anthropic', body)).toEqual({ input: 3, output: 8 });
      expect(byteAtATime('anthropic', body)).toEqual({ input: 3, output: 8 });
    }
  });

  it('shows Anthropic usage as it grows', () => {
    const watcher = new StreamUsageWatcher('anthropic');
    const body = encoder.encode(anthropicStream({ output_tokens: 42 }));
    const split = new TextDecoder().decode(body).indexOf('event: content_block_start');
    watcher.push(body.subarray(0, split));
    expect(watcher.usage).toEqual({ input: 35, output: 1, cachedInput: 500 });
    watcher.push(body.subarray(split));
    expect(watcher.usage).toEqual({ input: 35, output: 42, cachedInput: 500 });
  });

  it('joins multi-line data, reads an unterminated last event, and skips a BOM', () => {
    const body = '\ufeffdata: {"choices": [],\ndata:  "usage": {"prompt_tokens": 4,\ndata: "completion_tokens": 2}}';
    expect(watch('openai', body)).toEqual({ input: 4, output: 2 });
    expect(byteAtATime('openai', body)).toEqual({ input: 4, output: 2 });
  });

  it('ignores comments, other fields, and data that is not JSON', () => {
    const body = `: keep-alive\n\nid: 7\nretry: 1000\ndata: not json "_tokens"\n\ndata\n\n${OPENAI_CHAT}`;
    expect(watch('openai', body)).toEqual({ input: 17, output: 9 });
  });

  it('reports nothing for a stream without usage', () => {
    const body = sse([{ data: chatChunk('hi') }, { data: '[DONE]' }]);
    expect(watch('openai', body)).toBeUndefined();
  });

  it('keeps no reference to a chunk after push returns', () => {
    const bytes = encoder.encode(OPENAI_CHAT);
    const watcher = new StreamUsageWatcher('openai');
    const buffer = new Uint8Array(7);
    for (let from = 0; from < bytes.length; from += buffer.length) {
      const piece = bytes.subarray(from, from + buffer.length);
      buffer.set(piece);
      watcher.push(buffer.subarray(0, piece.length));
      buffer.fill(0x7a); // the caller reuses its buffer
    }
    watcher.end();
    expect(watcher.usage).toEqual({ input: 17, output: 9 });
  });

  it('ignores pushes after end and empty chunks', () => {
    const watcher = new StreamUsageWatcher('openai');
    watcher.push(new Uint8Array(0));
    watcher.push(encoder.encode(OPENAI_CHAT));
    watcher.end();
    watcher.end();
    watcher.push(
      encoder.encode(
        sse([{ data: JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }) }]),
      ),
    );
    expect(watcher.usage).toEqual({ input: 17, output: 9 });
  });
});
