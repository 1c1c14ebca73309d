import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEncoding } from '../src/tokens/encoding.js';
import type { TokenEncodingName } from '../src/tokens/encoding.js';
import { guardedCounter } from '../src/tokens/guarded-count.js';
import {
  countMessageTokens,
  countTokens,
  estimateRequestTokens,
  estimateTokensFast,
  preloadTokenizer,
  releaseTokenizer,
} from '../src/tokens/index.js';
import { workerEnabled, workerReady } from '../src/tokens/tokenizer-worker.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/tokens-stall.ts', import.meta.url));

/** The longest the event loop may go without a turn. */
const MAX_STALL_MS = 50;

interface Stall {
  readonly maxDelayMs: number;
  readonly maxGapMs: number;
  readonly elapsedMs: number;
  readonly result: { input: number; output: number };
}

interface Run {
  readonly report: Record<string, unknown>;
  /** From the report line to the process's exit: what keeps it alive after its work is done. */
  readonly exitAfterMs: number;
}

/** Runs the fixture in a fresh process and returns its JSON report and how soon it exited. */
function runFixture(scenario: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, scenario], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let reportedAt: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (reportedAt === undefined && stdout.includes('\n')) reportedAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 || reportedAt === undefined) {
        reject(new Error(`fixture ${scenario} exited with ${code ?? signal}: ${stderr}`));
        return;
      }
      resolve({
        report: JSON.parse(stdout.trim().split('\n')[0] as string) as Record<string, unknown>,
        exitAfterMs: performance.now() - reportedAt,
      });
    });
  });
}

const stall = (value: unknown): Stall => value as Stall;
const worst = (s: Stall): number => Math.max(s.maxDelayMs, s.maxGapMs);
const FIRST_BODY = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Name three prime numbers, and explain <|endoftext|> in one line.' },
  ],
  max_tokens: 100,
};

describe('the first request of a fresh process', () => {
  it('gets its exact count without blocking the event loop, and the process exits promptly', async () => {
    const { report, exitAfterMs } = await runFixture('first');
    const first = stall(report);
    console.log(
      `first exact estimate: longest stall ${worst(first).toFixed(1)} ms, took ${first.elapsedMs.toFixed(0)} ms`,
    );
    expect(worst(first)).toBeLessThan(MAX_STALL_MS);
    // Exact (the tokenizer loaded for it), and the same as counting on this thread.
    expect(report.ready).toBe(true);
    expect(first.result).toEqual({
      input: await countMessageTokens(FIRST_BODY.messages, { model: 'gpt-4o' }),
      output: 100,
    });
    // The main thread holds no tokenizer: its heap stays small (the encoder lives in the worker).
    expect(report.heapUsedMb as number).toBeLessThan(40);
    // The worker, loaded and idle, does not keep the process alive.
    expect(exitAfterMs).toBeLessThan(1_000);
  });

  it('is caught blocking when the tokenizer loads on the calling thread (the old path)', async () => {
    // The control: the same measurement sees the synchronous load that the worker removes.
    const { report } = await runFixture('first', { TOKENS_STALL_INLINE: '1' });
    const inline = stall(report);
    console.log(`first exact estimate, calling-thread load: longest stall ${worst(inline).toFixed(0)} ms`);
    expect(report.inline).toBe(true);
    expect(worst(inline)).toBeGreaterThan(4 * MAX_STALL_MS);
  });

  it('with wait: false resolves at once with the fast estimate, and exits while the tokenizer still loads', async () => {
    const { report, exitAfterMs } = await runFixture('first-nowait');
    const first = stall(report);
    expect(worst(first)).toBeLessThan(MAX_STALL_MS);
    expect(first.elapsedMs).toBeLessThan(MAX_STALL_MS);
    expect(first.result.input).toBe(report.fastInput);
    expect(report.ready).toBe(false);
    // The load in progress (the better part of a second) does not hold the process either.
    expect(exitAfterMs).toBeLessThan(1_000);
  });
});

describe('a 400 KB prompt', () => {
  it('is estimated without a long stall, cold and warm', async () => {
    const { report, exitAfterMs } = await runFixture('large');
    const cold = stall(report.cold);
    const warm = stall(report.warm);
    console.log(
      `400 KB prompt: longest stall cold ${worst(cold).toFixed(1)} ms (took ${cold.elapsedMs.toFixed(0)} ms), ` +
        `warm ${worst(warm).toFixed(1)} ms (took ${warm.elapsedMs.toFixed(0)} ms)`,
    );
    // The goal is 20 ms; the bound leaves room for a loaded 2-core machine.
    expect(worst(cold)).toBeLessThan(MAX_STALL_MS);
    expect(worst(warm)).toBeLessThan(MAX_STALL_MS);
    expect(warm.result).toEqual(cold.result);
    // Counted by the tokenizer, not the fast estimate.
    expect(cold.result.input).not.toBe(report.fastInput);
    expect(report.bytes as number).toBeGreaterThan(400_000);
    expect(exitAfterMs).toBeLessThan(1_000);
  });
});

/** The calling thread's js-tiktoken through the same guard: what the worker must reproduce. */
async function onThisThread(text: string, encoding: TokenEncodingName): Promise<number> {
  return guardedCounter(await loadEncoding(encoding)).count(text);
}

describe('counts from the worker', () => {
  const lowercase = (n: number): string => {
    let x = 3;
    let out = '';
    while (out.length < n) {
      x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
      out += String.fromCharCode(97 + ((x >> 8) % 26));
    }
    return out;
  };
  const texts = [
    '',
    'Hello, world!',
    '<|endoftext|>',
    'before <|endoftext|> middle <|endofprompt|> after <|fim_prefix|><|fim_middle|><|fim_suffix|>',
    '<|im_start|>user\nhi<|im_end|>',
    'a'.repeat(20_000),
    lowercase(20_000),
    `${'x'.repeat(20_000)} and then ordinary words after the run`,
    '東京都では、レート制限の前に待ちます。'.repeat(200),
    '🙂🙃 naïve café ß'.repeat(300),
    'The rate limiter waits before it sends. '.repeat(2_000),
    '   leading and trailing whitespace \n\n\t ',
  ];

  it('equal the calling thread’s encoder, special-token spellings and 20,000-character runs included', async () => {
    expect(workerEnabled()).toBe(true);
    for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
      const model = encoding === 'o200k_base' ? 'gpt-4o' : 'gpt-4';
      for (const text of texts) {
        expect(await countTokens(text, { model }), `${encoding}: ${text.slice(0, 40)}`).toBe(
          await onThisThread(text, encoding),
        );
      }
      expect(workerReady(encoding)).toBe(true);
    }
    // Where js-tiktoken alone finishes quickly (no long pieces), the guard changes nothing.
    const { encoder } = await loadEncoding('o200k_base');
    for (const text of [texts[2], texts[3], texts[4], texts[10]] as string[]) {
      expect(await countTokens(text)).toBe(encoder.encode(text, [], []).length);
    }
  });

  it('count a whole request in one batch, in the order a single-thread estimate would', async () => {
    const body = {
      model: 'gpt-4o',
      messages: texts.slice(1).map((content, i) => ({ role: i % 2 ? 'user' : 'assistant', content })),
    };
    const inWorker = await estimateRequestTokens(body, { provider: 'openai' });
    const { encoder } = await loadEncoding('o200k_base');
    expect(inWorker.input).toBeGreaterThan(encoder.encode(texts[10] as string, [], []).length);
    let expected = 3;
    const counter = guardedCounter(await loadEncoding('o200k_base'));
    for (const message of body.messages)
      expected += 3 + (await counter.count(message.role)) + (await counter.count(message.content));
    expect(inWorker.input).toBe(expected);
  });

  it('answer many requests estimated at once, each its own count, both encodings interleaved', async () => {
    const asked = Array.from({ length: 200 }, (_, i) => ({
      text: `${texts[i % texts.length] as string} #${i}`,
      model: i % 3 === 0 ? 'gpt-4' : 'gpt-4o',
    }));
    const counts = await Promise.all(asked.map(({ text, model }) => countTokens(text, { model })));
    for (const [i, { text, model }] of asked.entries()) {
      expect(counts[i], `#${i}`).toBe(await onThisThread(text, model === 'gpt-4' ? 'cl100k_base' : 'o200k_base'));
    }
  });
});

describe('wait: false', () => {
  it('gives the fast estimate until the tokenizer is ready, then the exact count', async () => {
    await releaseTokenizer();
    expect(workerReady('o200k_base')).toBe(false);
    const text = 'The quick brown fox jumps over the lazy dog, twice over and over again.';
    const started = performance.now();
    expect(await countTokens(text, { wait: false })).toBe(estimateTokensFast(text));
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: text }] };
    const fast = await estimateRequestTokens(body, { provider: 'openai', mode: 'fast' });
    expect(await estimateRequestTokens(body, { provider: 'openai', wait: false })).toEqual(fast);
    expect(await countMessageTokens(body.messages, { wait: false })).toBe(fast.input);
    expect(performance.now() - started).toBeLessThan(200);
    await preloadTokenizer();
    expect(workerReady('o200k_base')).toBe(true);
    const exact = await onThisThread(text, 'o200k_base');
    expect(exact).not.toBe(estimateTokensFast(text));
    expect(await countTokens(text, { wait: false })).toBe(exact);
    expect(await estimateRequestTokens(body, { provider: 'openai', wait: false })).toEqual(
      await estimateRequestTokens(body, { provider: 'openai' }),
    );
  });

  it('is checked like the other options', async () => {
    await expect(countTokens('x', { wait: 'no' as unknown as boolean })).rejects.toThrow(/`wait`.*"no"/);
    await expect(estimateRequestTokens({}, { provider: 'openai', wait: 1 as unknown as boolean })).rejects.toThrow(
      TypeError,
    );
  });
});
