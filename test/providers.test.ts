import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PROVIDER_NAMES,
  type ProviderName,
  classifyFailure,
  estimateRequestTokens,
  parseRateLimitHeaders,
  usageFromResponse,
} from '../src/index.js';
import { PROVIDER_TABLE } from '../src/providers/table.js';

/*
 * One fixture per provider (test/fixtures/providers/<name>.json): a header set as the provider
 * documents it, the snapshot it reads as, a usage body, a request in its shape with its estimate
 * (fast mode: per text ceil(UTF-8 bytes / 4), 3 a message, 3 for the reply on chat), and an error
 * answer with what it means.
 */

interface Fixture {
  readonly provider: ProviderName;
  readonly source: string;
  readonly now: string;
  readonly headers: Record<string, string>;
  readonly snapshot: Record<string, unknown>;
  readonly usage: { readonly body: unknown; readonly expected: { input: number; output: number } };
  /** A generation request in its shape, and its estimate in `fast` mode (UTF-8 bytes / 4 a text). */
  readonly estimate: { readonly body: object; readonly expected: { input: number; output: number } };
  readonly error: {
    readonly status: number;
    readonly headers?: Record<string, string>;
    readonly body: unknown;
    readonly expected: Record<string, unknown>;
  };
}

const dir = new URL('./fixtures/providers/', import.meta.url);
const fixtures: Fixture[] = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Fixture);

describe('the provider table', () => {
  it('names every provider, and each has its fixture', () => {
    expect(PROVIDER_NAMES).toEqual(Object.keys(PROVIDER_TABLE));
    expect(fixtures.map((f) => f.provider).sort()).toEqual([...PROVIDER_NAMES].sort());
    for (const name of [
      'openai',
      'anthropic',
      'azure',
      'gemini',
      'groq',
      'mistral',
      'openrouter',
      'deepseek',
      'xai',
      'vllm',
    ])
      expect(PROVIDER_NAMES).toContain(name);
  });

  it('says for each where its API and key are, how the key is sent, and where the model is named', () => {
    for (const name of PROVIDER_NAMES) {
      const spec = PROVIDER_TABLE[name];
      expect(spec.title, name).not.toBe('');
      expect(spec.notes.length, name).toBeGreaterThan(20);
      expect(spec.apiKeyEnv.length, name).toBeGreaterThan(0);
      if (spec.baseURL !== undefined) expect(() => new URL(spec.baseURL as string), name).not.toThrow();
    }
    expect(PROVIDER_TABLE.gemini.modelIn).toBe('url');
    expect(PROVIDER_TABLE.azure.modelIn).toBe('url');
    expect(PROVIDER_TABLE.openai.modelIn).toBe('body');
  });
});

describe.each(fixtures.map((f) => [f.provider, f] as const))('%s', (provider, fixture) => {
  it(`reads its headers (${fixture.source})`, () => {
    expect(parseRateLimitHeaders(fixture.headers, provider, Date.parse(fixture.now))).toEqual({
      provider,
      ...fixture.snapshot,
    });
  });

  it('reads its usage', () => {
    expect(usageFromResponse(fixture.usage.body, provider)).toMatchObject(fixture.usage.expected);
  });

  it('estimates a request in its shape', async () => {
    expect(await estimateRequestTokens(fixture.estimate.body, { provider, mode: 'fast' })).toEqual(
      fixture.estimate.expected,
    );
  });

  it('tells what its error answer means', () => {
    const { status, headers, body, expected } = fixture.error;
    const response = new Response(JSON.stringify(body), { status, headers: { ...headers } });
    expect(classifyFailure(response, { body, now: Date.parse(fixture.now) })).toMatchObject(expected);
  });
});

describe('request shapes follow the provider', () => {
  it("an Anthropic body is estimated as Anthropic's Messages API, without being told", async () => {
    const body = {
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      system: 'Answer in one short sentence. '.repeat(20),
      messages: [{ role: 'user', content: 'Hi' }],
    };
    const asAnthropic = await estimateRequestTokens(body, { provider: 'anthropic', mode: 'fast' });
    expect(asAnthropic).toEqual(
      await estimateRequestTokens(body, { provider: 'openai', api: 'anthropic-messages', mode: 'fast' }),
    );
    // Read as chat completions, the system prompt (a field chat does not have) would go uncounted.
    const asChat = await estimateRequestTokens(body, { provider: 'openai', mode: 'fast' });
    expect(asAnthropic.input).toBeGreaterThan(asChat.input);
  });
});

describe('the README', () => {
  it('has a row for every provider in the table, as the table says it', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Providers'), readme.indexOf('## Header sync'));
    for (const name of PROVIDER_NAMES) {
      const row = section.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(PROVIDER_TABLE[name].notes);
      for (const key of PROVIDER_TABLE[name].apiKeyEnv) expect(row).toContain(key);
    }
  });
});
