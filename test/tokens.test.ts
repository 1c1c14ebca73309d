import type { MessageParam } from '@anthropic-ai/sdk/resources/messages/messages';
import fc from 'fast-check';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import {
  countMessageTokens,
  countTokens,
  encodingForModel,
  estimateTokensFast,
  preloadTokenizer,
} from '../src/tokens/index.js';
import { loadEncoding } from '../src/tokens/encoding.js';
import type { TokenEncodingName } from '../src/tokens/encoding.js';
import { utf8Length } from '../src/tokens/fast-estimate.js';

/** js-tiktoken on the whole text at once: the reference the guarded counter must match. */
async function reference(text: string, encoding: TokenEncodingName = 'o200k_base'): Promise<number> {
  const { encoder } = await loadEncoding(encoding);
  return encoder.encode(text, [], []).length;
}

// OpenAI's token-counting guide: the API reported 124 prompt tokens on gpt-4o and 129 on gpt-4.
const JARGON: ChatCompletionMessageParam[] = [
  {
    role: 'system',
    content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
  },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: 'system',
    name: 'example_assistant',
    content: "Let's talk later when we're less busy about how to do better.",
  },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

// The cookbook's function-calling example: 101 prompt tokens on gpt-4o / gpt-4o-mini, 105 on
// gpt-4 / gpt-3.5-turbo, as reported by the API.
const WEATHER_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
] as const;
const WEATHER_MESSAGES: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

/** Deterministic prose with everything ordinary text has: case, contractions, digits, CJK, emoji. */
function prose(chars: number, seed = 1): string {
  const words = [
    'the',
    'rate',
    'limiter',
    'waits',
    'before',
    'it',
    'sends',
    "don't",
    "we're",
    'Tokens',
    'per',
    'minute',
    '2024',
    '3.14',
    'naïve',
    'café',
    '東京',
    'では',
    'привет',
    '🙂',
    '(ok)',
    'x86_64',
    'e.g.',
    '—',
    'https://example.com/a/b',
    '"quoted"',
    'CamelCaseName',
  ];
  const gaps = [' ', ' ', ' ', ', ', '. ', '\n', '\n\n', '  ', '\t', '\r\n'];
  let x = seed;
  const next = (n: number): number => {
    x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
    return (x >> 8) % n;
  };
  let out = '';
  while (out.length < chars) out += (words[next(words.length)] as string) + (gaps[next(gaps.length)] as string);
  return out;
}

describe('countTokens', () => {
  it('counts plain text with the model encoding', async () => {
    expect(await countTokens('Hello, world!', { model: 'gpt-4o' })).toBe(4);
    // The cookbook's example: "tiktoken is great!" is 6 tokens in cl100k_base.
    expect(await countTokens('tiktoken is great!', { model: 'gpt-4' })).toBe(6);
    expect(await countTokens('')).toBe(0);
  });

  it('stays exact on ordinary prose, across the slices it is counted in', async () => {
    const text = prose(50_000);
    expect(await countTokens(text, { model: 'gpt-4o' })).toBe(await reference(text));
    expect(await countTokens(text, { model: 'gpt-4' })).toBe(await reference(text, 'cl100k_base'));
  });

  it('matches js-tiktoken on random text made of short runs', async () => {
    await preloadTokenizer();
    const char = fc.constantFrom(...'aZéß東京🙂0123456789\'"-_/.,!?()'.split(''));
    const word = fc.array(char, { minLength: 0, maxLength: 12 }).map((cs) => cs.join(''));
    const gap = fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', ' \n ', '   ');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(word, gap), { minLength: 1, maxLength: 900 }), async (parts) => {
        const text = parts.map(([w, g]) => w + g).join('');
        expect(await countTokens(text)).toBe(await reference(text));
      }),
      { numRuns: 30 },
    );
  });

  it('counts special-token spellings as plain text and never throws on them', async () => {
    const text = 'before <|endoftext|> middle <|endofprompt|> after <|fim_prefix|>';
    const n = await countTokens(text, { model: 'gpt-4o' });
    expect(n).toBe(await reference(text));
    // As a special token `<|endoftext|>` would be 1; as text it is several.
    expect(await countTokens('<|endoftext|>')).toBeGreaterThan(1);
    expect(await countTokens('<|endoftext|>', { model: 'gpt-4' })).toBeGreaterThan(1);
  });

  it('estimates a megabyte without word boundaries instead of merging it', async () => {
    const chars = 1 << 20;
    const n = await countTokens('a'.repeat(chars));
    // o200k merges runs of "a" into 8-character tokens.
    expect(n).toBeGreaterThan(chars / 12);
    expect(n).toBeLessThan(chars / 4);
    const spaces = await countTokens(`${' '.repeat(chars)}x`);
    expect(spaces).toBeGreaterThan(0);
    expect(spaces).toBeLessThan(chars / 4);
    // Mixed scripts make one giant piece too; emoji make one giant punctuation piece.
    expect(await countTokens('a中'.repeat(50_000))).toBeGreaterThan(50_000);
    expect(await countTokens('🙂'.repeat(50_000))).toBeGreaterThan(25_000);
  });

  it('keeps long-piece estimates close to the exact count', async () => {
    for (const text of [
      'a'.repeat(500),
      'Z'.repeat(300),
      'x'.repeat(65),
      '東京都'.repeat(30),
      'qwertzuiopasdfghjklyxcvbnm'.repeat(8),
    ]) {
      const exact = await reference(text);
      const estimate = await countTokens(text);
      expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.2);
    }
  });

  it('counts ordinary text around a long piece exactly', async () => {
    const head = prose(3_000, 7);
    const tail = prose(3_000, 8);
    const long = 'b'.repeat(10_000);
    const whole = await countTokens(`${head} ${long} ${tail}`);
    const parts = (await reference(head)) + (await countTokens(` ${long}`)) + (await reference(` ${tail}`));
    expect(Math.abs(whole - parts)).toBeLessThanOrEqual(2);
  });

  it('gives the event loop turns while counting a long text', async () => {
    await preloadTokenizer();
    const text = prose(400_000, 3);
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    await countTokens(text);
    counting = false;
    expect(turns).toBeGreaterThan(1);
  });

  it('shares one load between concurrent first calls', async () => {
    expect(loadEncoding('cl100k_base')).toBe(loadEncoding('cl100k_base'));
    const counts = await Promise.all(
      Array.from({ length: 5 }, () => countTokens('same text', { model: 'gpt-3.5-turbo' })),
    );
    expect(new Set(counts).size).toBe(1);
  });

  it('never throws "Unknown model"', async () => {
    for (const model of ['totally-unknown', 'claude-sonnet-4-5', 'gemini-2.5-pro', 'gpt-7', 'my-azure-deployment']) {
      expect(await countTokens('hello world', { model })).toBe(2);
    }
  });

  it('estimates without a tokenizer in fast mode: one token per four UTF-8 bytes', async () => {
    expect(estimateTokensFast('')).toBe(0);
    expect(estimateTokensFast('abcd')).toBe(1);
    expect(estimateTokensFast('abcde')).toBe(2);
    expect(estimateTokensFast('東京都')).toBe(3); // 9 bytes
    expect(estimateTokensFast('🙂')).toBe(1);
    const text = prose(5_000);
    expect(await countTokens(text, { mode: 'fast' })).toBe(estimateTokensFast(text));
    expect(await countTokens('<|endoftext|>', { mode: 'fast' })).toBe(4);
  });

  it('measures UTF-8 length like Buffer does, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
      }),
    );
    expect(utf8Length('\ud800')).toBe(3);
    expect(utf8Length('\udc00\ud800')).toBe(6);
  });

  it('rejects bad arguments with errors that name them', async () => {
    await expect(countTokens(42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(countTokens('x', { mode: 'slow' as 'fast' })).rejects.toThrow(/`mode`.*"slow"/);
    await expect(countTokens('x', { mode: 'slow' as 'fast' })).rejects.toThrow(RangeError);
    await expect(countTokens('x', { model: 4 as unknown as string })).rejects.toThrow(/`model`/);
    await expect(countTokens('x', { modle: 'gpt-4' } as never)).rejects.toThrow(/Unknown option `modle`/);
  });
});

describe('encodingForModel', () => {
  it.each([
    ['gpt-4o', 'o200k_base'],
    ['gpt-4o-mini', 'o200k_base'],
    ['gpt-4o-2099-01-01', 'o200k_base'],
    ['chatgpt-4o-latest', 'o200k_base'],
    ['gpt-4.1-mini', 'o200k_base'],
    ['gpt-4.5-preview', 'o200k_base'],
    ['gpt-5', 'o200k_base'],
    ['gpt-5-codex', 'o200k_base'],
    ['o1-mini', 'o200k_base'],
    ['o3-pro', 'o200k_base'],
    ['o4-mini-deep-research', 'o200k_base'],
    ['gpt-4', 'cl100k_base'],
    ['gpt-4-0613', 'cl100k_base'],
    ['gpt-4-turbo-2024-04-09', 'cl100k_base'],
    ['gpt-4-32k-0314', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['gpt-3.5-turbo-instruct', 'cl100k_base'],
    ['gpt-35-turbo', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['text-embedding-ada-002', 'cl100k_base'],
    ['davinci-002', 'cl100k_base'],
    ['ft:gpt-3.5-turbo-0125:my-org::abc123', 'cl100k_base'],
    ['ft:gpt-4o-mini-2024-07-18:my-org::abc123', 'o200k_base'],
    ['openai/gpt-4', 'cl100k_base'],
    ['GPT-4O', 'o200k_base'],
    ['claude-opus-4-1', 'o200k_base'],
    ['totally-unknown', 'o200k_base'],
    ['', 'o200k_base'],
  ])('%s uses %s', (model, encoding) => {
    expect(encodingForModel(model)).toBe(encoding);
  });

  it('defaults to o200k_base', () => {
    expect(encodingForModel()).toBe('o200k_base');
  });
});

describe('countMessageTokens', () => {
  it('gives the numbers OpenAI reported for its reference conversation', async () => {
    expect(await countMessageTokens(JARGON, { model: 'gpt-4o' })).toBe(124);
    expect(await countMessageTokens(JARGON, { model: 'gpt-4o-mini' })).toBe(124);
    expect(await countMessageTokens(JARGON, { model: 'gpt-4' })).toBe(129);
    expect(await countMessageTokens(JARGON, { model: 'gpt-3.5-turbo' })).toBe(129);
  });

  it('adds tool overhead as the cookbook example measured it', async () => {
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4o', tools: WEATHER_TOOLS })).toBe(101);
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4o-mini', tools: WEATHER_TOOLS })).toBe(101);
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4', tools: WEATHER_TOOLS })).toBe(105);
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-3.5-turbo', tools: WEATHER_TOOLS })).toBe(105);
    // Legacy `functions` and the Responses API's flat shape describe the same function.
    const fn = WEATHER_TOOLS[0].function;
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4o', tools: [fn] })).toBe(101);
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4o', tools: [{ type: 'function', ...fn }] })).toBe(
      101,
    );
    expect(await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4o', tools: [] })).toBe(
      await countMessageTokens(WEATHER_MESSAGES, { model: 'gpt-4o' }),
    );
  });

  it('counts text parts of content arrays like the same text as a string', async () => {
    const asParts = await countMessageTokens([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe' },
          { type: 'text', text: ' this picture.' },
        ],
      },
    ]);
    const parts = (await countTokens('Describe')) + (await countTokens(' this picture.'));
    expect(asParts).toBe(3 + (await countTokens('user')) + parts + 3);
  });

  it('estimates images by detail: 85 for low, 765 otherwise', async () => {
    const base = await countMessageTokens([{ role: 'user', content: [] }]);
    const image = (detail?: 'low' | 'high' | 'auto') =>
      countMessageTokens([
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', ...(detail ? { detail } : {}) } },
          ],
        },
      ]);
    expect((await image('low')) - base).toBe(85);
    expect((await image('high')) - base).toBe(765);
    expect((await image()) - base).toBe(765);
  });

  it('estimates other media with the documented constants', async () => {
    const base = await countMessageTokens([{ role: 'user', content: [] }]);
    const part = async (p: unknown) => (await countMessageTokens([{ role: 'user', content: [p] }])) - base;
    expect(await part({ type: 'input_image', image_url: 'https://x/y.png', detail: 'low' })).toBe(85);
    expect(await part({ type: 'image', source: { type: 'url', url: 'https://x/y.png' } })).toBe(1_398); // Anthropic
    expect(await part({ inlineData: { mimeType: 'image/png', data: 'AAAA' } })).toBe(1_032); // Gemini
    expect(await part({ type: 'file', file: { file_id: 'file-1' } })).toBe(1_024);
    expect(await part({ type: 'input_file', file_data: `data:application/pdf;base64,${'A'.repeat(640_000)}` })).toBe(
      10_000,
    );
    // 60 s of 16 kHz 16-bit mono PCM is 1.92 MB, 2.56 M base64 characters: 600 tokens at 10 a second.
    expect(await part({ type: 'input_audio', input_audio: { data: 'A'.repeat(2_560_000), format: 'wav' } })).toBe(600);
    expect(
      await part({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Plain words' } }),
    ).toBe(await countTokens('Plain words'));
    expect(await part({ type: 'thinking', thinking: 'Let me see', signature: 'sig' })).toBe(
      await countTokens('Let me see'),
    );
    expect(await part({ type: 'redacted_thinking', data: 'opaque' })).toBe(0);
  });

  it('counts tool calls and tool results as their text', async () => {
    const toolCalls = [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ];
    const withCall = await countMessageTokens([
      { role: 'assistant', content: null, tool_calls: toolCalls } as ChatCompletionMessageParam,
    ]);
    expect(withCall).toBe(3 + (await countTokens('assistant')) + (await countTokens(JSON.stringify(toolCalls))) + 3);
    const result = await countMessageTokens([{ role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' }]);
    expect(result).toBe(
      3 + (await countTokens('tool')) + (await countTokens('call_1')) + (await countTokens('{"temp":21}')) + 3,
    );
  });

  it('accepts the OpenAI and Anthropic SDK message types', async () => {
    const anthropic: MessageParam[] = [
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup', input: { q: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'found' }] },
    ];
    expect(await countMessageTokens(anthropic)).toBeGreaterThan(15);
    expect(await countMessageTokens(JARGON, { mode: 'fast' })).toBeGreaterThan(100);
  });

  it('rejects bad arguments', async () => {
    await expect(countMessageTokens('hi' as never)).rejects.toThrow(/`messages`/);
    await expect(countMessageTokens([], { tools: {} as never })).rejects.toThrow(/`tools`/);
  });
});
