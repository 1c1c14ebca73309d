import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OUTPUT_RESERVATION,
  countMessageTokens,
  countTokens,
  estimateRequestTokens,
} from '../src/tokens/index.js';

const MESSAGES = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three prime numbers.' },
];

const TOOL = {
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Look a word up.',
    parameters: { type: 'object', properties: { word: { type: 'string', description: 'The word' } } },
  },
};

/** The chat wrapping of one message: 3 tokens, its role, its text. */
async function message(role: string, text: string, model?: string): Promise<number> {
  const opts = model === undefined ? {} : { model };
  return 3 + (await countTokens(role, opts)) + (await countTokens(text, opts));
}

describe('estimateRequestTokens: chat completions', () => {
  it('counts the messages as countMessageTokens does', async () => {
    const estimate = await estimateRequestTokens(
      { model: 'gpt-4o', messages: MESSAGES, max_tokens: 100 },
      { provider: 'openai' },
    );
    expect(estimate).toEqual({ input: await countMessageTokens(MESSAGES, { model: 'gpt-4o' }), output: 100 });
  });

  it('multiplies the output by n', async () => {
    const { output } = await estimateRequestTokens(
      { model: 'gpt-4o', messages: MESSAGES, max_tokens: 100, n: 3 },
      { provider: 'openai' },
    );
    expect(output).toBe(300);
  });

  it('prefers max_completion_tokens over max_tokens', async () => {
    const body = { model: 'o3-mini', messages: MESSAGES, max_tokens: 100, max_completion_tokens: 40 };
    expect((await estimateRequestTokens(body, { provider: 'openai' })).output).toBe(40);
  });

  it('reserves outputReservation per choice when the body names no maximum', async () => {
    const body = { model: 'gpt-4o', messages: MESSAGES, n: 2 };
    expect((await estimateRequestTokens(body, { provider: 'openai' })).output).toBe(2 * DEFAULT_OUTPUT_RESERVATION);
    expect(DEFAULT_OUTPUT_RESERVATION).toBe(1_024);
    expect((await estimateRequestTokens(body, { provider: 'azure', outputReservation: 500 })).output).toBe(1_000);
    expect((await estimateRequestTokens(body, { provider: 'groq', outputReservation: 0 })).output).toBe(0);
  });

  it('adds tools, legacy functions and structured-output schemas to the input', async () => {
    const plain = (await estimateRequestTokens({ model: 'gpt-4o', messages: MESSAGES }, { provider: 'openai' })).input;
    const withTools = (
      await estimateRequestTokens({ model: 'gpt-4o', messages: MESSAGES, tools: [TOOL] }, { provider: 'openai' })
    ).input;
    expect(withTools).toBe(await countMessageTokens(MESSAGES, { model: 'gpt-4o', tools: [TOOL] }));
    expect(withTools).toBeGreaterThan(plain);
    const withFunctions = await estimateRequestTokens(
      { model: 'gpt-4o', messages: MESSAGES, functions: [TOOL.function] },
      { provider: 'openai' },
    );
    expect(withFunctions.input).toBe(withTools);
    const schema = { name: 'answer', schema: { type: 'object', properties: { primes: { type: 'array' } } } };
    const structured = await estimateRequestTokens(
      { model: 'gpt-4o', messages: MESSAGES, response_format: { type: 'json_schema', json_schema: schema } },
      { provider: 'openai' },
    );
    expect(structured.input).toBe(plain + (await countTokens(JSON.stringify(schema))));
  });

  it('takes the model from the body unless overridden', async () => {
    const long = [{ role: 'user', content: 'Ünïcödé and 東京 text counts differently in o200k and cl100k 🙂🙂🙂' }];
    const byBody = await estimateRequestTokens({ model: 'gpt-4', messages: long }, { provider: 'openai' });
    expect(byBody.input).toBe(await countMessageTokens(long, { model: 'gpt-4' }));
    const overridden = await estimateRequestTokens(
      { model: 'gpt-4', messages: long },
      { provider: 'openai', model: 'gpt-4o' },
    );
    expect(overridden.input).toBe(await countMessageTokens(long, { model: 'gpt-4o' }));
    expect(overridden.input).not.toBe(byBody.input);
  });
});

describe('estimateRequestTokens: Responses API', () => {
  it('counts a string input, instructions and max_output_tokens', async () => {
    const body = { model: 'gpt-4.1', instructions: 'Be brief.', input: 'Why is the sky blue?', max_output_tokens: 300 };
    const estimate = await estimateRequestTokens(body, { provider: 'openai' });
    expect(estimate).toEqual({
      input: 3 + (await message('developer', 'Be brief.')) + (await message('user', 'Why is the sky blue?')),
      output: 300,
    });
  });

  it('counts item arrays: messages, function calls and their outputs', async () => {
    const body = {
      model: 'gpt-5',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'c1', output: '{"temp":21}' },
      ],
      tools: [
        {
          type: 'function',
          name: 'weather',
          description: 'Weather now',
          parameters: { type: 'object', properties: {} },
        },
      ],
    };
    const estimate = await estimateRequestTokens(body, { provider: 'openai' });
    const expected =
      3 +
      (await message('user', 'Weather in Paris?')) +
      3 +
      (await countTokens('weather')) +
      (await countTokens('{"city":"Paris"}')) +
      3 +
      (await countTokens('{"temp":21}')) +
      7 +
      (await countTokens('weather:Weather now')) +
      12;
    expect(estimate).toEqual({ input: expected, output: DEFAULT_OUTPUT_RESERVATION });
  });
});

describe('estimateRequestTokens: embeddings', () => {
  it('counts text inputs and charges no output', async () => {
    const one = await estimateRequestTokens(
      { model: 'text-embedding-3-small', input: 'hello world' },
      { provider: 'openai' },
    );
    expect(one).toEqual({ input: await countTokens('hello world', { model: 'text-embedding-3-small' }), output: 0 });
    const many = await estimateRequestTokens(
      { model: 'text-embedding-3-large', input: ['a b', 'c d e'] },
      { provider: 'openai' },
    );
    expect(many).toEqual({
      input: (await countTokens('a b', { model: 'gpt-4' })) + (await countTokens('c d e', { model: 'gpt-4' })),
      output: 0,
    });
  });

  it('counts token-id inputs exactly', async () => {
    expect(await estimateRequestTokens({ model: 'x', input: [1, 2, 3] }, { provider: 'openai' })).toEqual({
      input: 3,
      output: 0,
    });
    expect(
      await estimateRequestTokens({ model: 'x', input: [[1, 2], [3], [4, 5, 6]] }, { provider: 'openai' }),
    ).toEqual({ input: 6, output: 0 });
  });

  it('recognises embeddings by encoding_format or dimensions, or when told', async () => {
    expect(
      (await estimateRequestTokens({ model: 'custom', input: 'hi', encoding_format: 'float' }, { provider: 'openai' }))
        .output,
    ).toBe(0);
    expect(
      (await estimateRequestTokens({ model: 'custom', input: 'hi', dimensions: 256 }, { provider: 'openai' })).output,
    ).toBe(0);
    expect(
      (await estimateRequestTokens({ model: 'custom', input: 'hi' }, { provider: 'openai', api: 'embeddings' })).output,
    ).toBe(0);
    // Without a sign it is a Responses request.
    expect((await estimateRequestTokens({ model: 'custom', input: 'hi' }, { provider: 'openai' })).output).toBe(
      DEFAULT_OUTPUT_RESERVATION,
    );
  });
});

describe('estimateRequestTokens: legacy completions', () => {
  it('uses the API default of 16 output tokens and best_of', async () => {
    const body = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' };
    expect(await estimateRequestTokens(body, { provider: 'openai' })).toEqual({
      input: await countTokens('Say hi', { model: 'gpt-3.5-turbo-instruct' }),
      output: 16,
    });
    expect((await estimateRequestTokens({ ...body, n: 2, best_of: 3 }, { provider: 'openai' })).output).toBe(48);
    expect((await estimateRequestTokens({ ...body, n: 2, max_tokens: 50 }, { provider: 'openai' })).output).toBe(100);
  });

  it('charges every prompt of an array its own choices', async () => {
    const estimate = await estimateRequestTokens(
      { model: 'gpt-3.5-turbo-instruct', prompt: ['one', 'two'], max_tokens: 10, n: 2 },
      { provider: 'openai' },
    );
    expect(estimate.output).toBe(40);
    expect(estimate.input).toBe(
      (await countTokens('one', { model: 'gpt-4' })) + (await countTokens('two', { model: 'gpt-4' })),
    );
    expect((await estimateRequestTokens({ prompt: [[1, 2, 3], [4]] }, { provider: 'openai' })).input).toBe(4);
  });
});

describe('estimateRequestTokens: Anthropic messages', () => {
  const body = {
    model: 'claude-sonnet-4-5',
    max_tokens: 1_500,
    system: [{ type: 'text', text: 'You are a poet.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'Write a haiku.' },
      { role: 'assistant', content: [{ type: 'text', text: 'Autumn moonlight' }] },
    ],
  };

  it('counts system blocks and messages, and takes max_tokens as the output', async () => {
    const estimate = await estimateRequestTokens(body, { provider: 'anthropic' });
    expect(estimate).toEqual({
      input:
        (await countTokens('You are a poet.')) +
        (await message('user', 'Write a haiku.')) +
        (await message('assistant', 'Autumn moonlight')),
      output: 1_500,
    });
    const systemString = await estimateRequestTokens({ ...body, system: 'You are a poet.' }, { provider: 'anthropic' });
    expect(systemString.input).toBe(estimate.input);
  });

  it('adds the tool-use system prompt and the tool definitions', async () => {
    const tool = {
      name: 'lookup',
      description: 'Look up',
      input_schema: { type: 'object', properties: {} },
      cache_control: { type: 'ephemeral' },
    };
    const plain = await estimateRequestTokens(body, { provider: 'anthropic' });
    const withTool = await estimateRequestTokens({ ...body, tools: [tool] }, { provider: 'anthropic' });
    const definition = JSON.stringify({
      name: tool.name,
      description: tool.description,
      input_schema: tool.input_schema,
    });
    expect(withTool.input - plain.input).toBe(346 + (await countTokens(definition)));
  });

  it('reserves outputReservation when max_tokens is missing', async () => {
    const { max_tokens: _, ...noMax } = body;
    expect((await estimateRequestTokens(noMax, { provider: 'anthropic', outputReservation: 2_000 })).output).toBe(
      2_000,
    );
  });
});

describe('estimateRequestTokens: Gemini', () => {
  it('counts contents and systemInstruction, and reads generationConfig', async () => {
    const body = {
      systemInstruction: { parts: [{ text: 'Be kind.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Hello there' }] }],
      generationConfig: { maxOutputTokens: 200, candidateCount: 2 },
    };
    const estimate = await estimateRequestTokens(body, { provider: 'gemini', model: 'gemini-2.5-flash' });
    expect(estimate).toEqual({
      input: (await countTokens('Be kind.')) + (await message('user', 'Hello there')),
      output: 400,
    });
  });
});

describe('estimateRequestTokens: modes, fallbacks and errors', () => {
  it('estimates without a tokenizer in fast mode', async () => {
    const fast = await estimateRequestTokens(
      { model: 'gpt-4o', messages: MESSAGES, max_tokens: 5 },
      { provider: 'openai', mode: 'fast' },
    );
    expect(fast.output).toBe(5);
    // Priming, then per message its wrapper and ceil(bytes / 4) of role and content.
    expect(fast.input).toBe(3 + (3 + 2 + 4) + (3 + 1 + 7));
  });

  it('charges an unknown body its JSON text', async () => {
    const estimate = await estimateRequestTokens({ model: 'x', query: 'something to do' }, { provider: 'mistral' });
    expect(estimate).toEqual({
      input: await countTokens('{"query":"something to do"}'),
      output: DEFAULT_OUTPUT_RESERVATION,
    });
  });

  it('rejects bad input with errors that name it', async () => {
    await expect(estimateRequestTokens(null, { provider: 'openai' })).rejects.toThrow(TypeError);
    await expect(estimateRequestTokens(null, { provider: 'openai' })).rejects.toThrow(/`body`.*null/);
    await expect(estimateRequestTokens([MESSAGES], { provider: 'openai' })).rejects.toThrow(/`body`/);
    await expect(estimateRequestTokens('{}', { provider: 'openai' })).rejects.toThrow(/`body`/);
    await expect(estimateRequestTokens({}, { provider: 'openai', outputReservation: -1 })).rejects.toThrow(RangeError);
    await expect(estimateRequestTokens({}, { provider: 'openai', outputReservation: -1 })).rejects.toThrow(
      /`outputReservation`.*-1/,
    );
    await expect(estimateRequestTokens({}, { provider: 'openai', outputReservation: 1.5 })).rejects.toThrow(RangeError);
    await expect(
      estimateRequestTokens({}, { provider: 'openai', outputReservation: '5' as unknown as number }),
    ).rejects.toThrow(TypeError);
    await expect(estimateRequestTokens({}, {} as never)).rejects.toThrow(/`provider`/);
    await expect(estimateRequestTokens({}, { provider: 'openai', mode: 'exact' as 'fast' })).rejects.toThrow(/`mode`/);
    await expect(estimateRequestTokens({}, { provider: 'openai', api: 'graphql' as 'chat' })).rejects.toThrow(/`api`/);
    await expect(estimateRequestTokens({}, { provider: 'openai', maxTokens: 5 } as never)).rejects.toThrow(
      /Unknown option `maxTokens`/,
    );
  });

  it('ignores body fields of the wrong type rather than throwing', async () => {
    const body = { model: 'gpt-4o', messages: MESSAGES, max_tokens: 'lots', n: -2 };
    expect((await estimateRequestTokens(body, { provider: 'openai' })).output).toBe(DEFAULT_OUTPUT_RESERVATION);
  });
});
