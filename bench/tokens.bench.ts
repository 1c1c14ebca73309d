import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { countTokens, preloadTokenizer } from '../src/tokens/index.js';
import { loadEncoding } from '../src/tokens/encoding.js';

/*
 * Token counting costs: throughput on prose, the pathological inputs the guard exists for (with
 * js-tiktoken alone on a short run for contrast), and the tokenizer's cold start measured in fresh
 * processes so the module cache cannot hide it.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const MB = 1 << 20;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function timeMs(fn: () => Promise<unknown> | unknown, runs: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** The longest the event loop went without a turn while `fn` ran. */
async function longestStall(fn: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await fn();
  running = false;
  return Math.max(worst, performance.now() - last);
}

function random(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
    return (x >> 8) % n;
  };
}

/** Deterministic English-like prose with sentences, paragraphs, numbers and some code words. */
function prose(chars: number): string {
  const words = (
    'the a of to and in is that for it as with was on be by this are or from at an which have not ' +
    'rate limit limiter window request response token tokens budget minute second provider model ' +
    'queue waits before sends retry backoff jitter header remaining reset usage estimate reconcile ' +
    "don't it's we're they'll 2024 100 3.5 e.g. JSON HTTP OpenAI Anthropic acquire() lease.release()"
  ).split(' ');
  const next = random(42);
  let out = '';
  let sentence = 0;
  while (out.length < chars) {
    const word = words[next(words.length)] as string;
    out += sentence === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : word;
    sentence++;
    if (sentence > 6 && next(8) === 0) {
      out += next(5) === 0 ? '.\n\n' : '. ';
      sentence = 0;
    } else out += next(12) === 0 ? ', ' : ' ';
  }
  return out;
}

/** Chinese-like text: clauses of 4-20 common characters between full-width punctuation. */
function cjk(chars: number): string {
  const hanzi =
    '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经';
  const next = random(7);
  let out = '';
  while (out.length < chars) {
    const clause = 4 + next(17);
    for (let i = 0; i < clause; i++) out += hanzi[next(hanzi.length)];
    out += next(3) === 0 ? '。' : '，';
  }
  return out;
}

/** Lowercase words of 60 letters: each just under the guard, so every one is merged exactly. */
function longWords(chars: number): string {
  const next = random(9);
  let out = '';
  while (out.length < chars) {
    for (let i = 0; i < 60; i++) out += String.fromCharCode(97 + next(26));
    out += ' ';
  }
  return out;
}

function coldStart(model: string): { ms: number; heapMb: number } {
  const code = [
    'const start = performance.now();',
    "const { preloadTokenizer } = await import('./src/tokens/encoding.ts');",
    'await preloadTokenizer({ model: process.env.BENCH_MODEL });',
    'const ms = performance.now() - start;',
    'console.log(JSON.stringify({ ms, heapMb: process.memoryUsage().heapUsed / 1048576 }));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, BENCH_MODEL: model },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as { ms: number; heapMb: number };
}

function fmt(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

function rate(bytes: number, ms: number): string {
  return `${(bytes / MB / (ms / 1000)).toFixed(2)} MB/s`;
}

/** Runs the token-counting benchmarks and returns a markdown table of medians. */
export default async function tokensBench(): Promise<{ title: string; markdown: string }> {
  const rows: [string, string, string][] = [];
  const colds = { o200k: [] as number[], cl100k: [] as number[], heap: [] as number[] };
  for (let i = 0; i < 3; i++) {
    const o = coldStart('gpt-4o');
    colds.o200k.push(o.ms);
    colds.heap.push(o.heapMb);
    colds.cl100k.push(coldStart('gpt-4').ms);
  }
  rows.push([
    'cold start o200k_base (import + construct, fresh process)',
    fmt(median(colds.o200k)),
    `heap after: ${median(colds.heap).toFixed(0)} MB`,
  ]);
  rows.push(['cold start cl100k_base (import + construct, fresh process)', fmt(median(colds.cl100k)), '']);

  await preloadTokenizer({ model: 'gpt-4o' });
  await preloadTokenizer({ model: 'gpt-4' });

  const text = prose(MB);
  const proseMs = await timeMs(() => countTokens(text, { model: 'gpt-4o' }), 5);
  const proseStall = await longestStall(() => countTokens(text, { model: 'gpt-4o' }));
  rows.push([
    'prose, 1 MB, o200k_base',
    fmt(proseMs),
    `${rate(text.length, proseMs)}; longest event-loop stall ${fmt(proseStall)}`,
  ]);
  const { encoder } = await loadEncoding('o200k_base');
  const rawProse = await timeMs(() => encoder.encode(text, [], []), 5);
  rows.push([
    'prose, 1 MB, js-tiktoken alone (no guard, one blocking call)',
    fmt(rawProse),
    rate(text.length, rawProse),
  ]);
  const proseCl = await timeMs(() => countTokens(text, { model: 'gpt-4' }), 5);
  rows.push(['prose, 1 MB, cl100k_base', fmt(proseCl), rate(text.length, proseCl)]);
  const fastMs = await timeMs(() => countTokens(text, { mode: 'fast' }), 5);
  rows.push(["prose, 1 MB, mode 'fast'", fmt(fastMs), rate(text.length, fastMs)]);

  const chinese = cjk(100_000);
  const chineseBytes = Buffer.byteLength(chinese);
  const cjkMs = await timeMs(() => countTokens(chinese), 3);
  const cjkStall = await longestStall(() => countTokens(chinese));
  rows.push([
    'Chinese, 100,000 chars (4-20 char clauses), o200k_base',
    fmt(cjkMs),
    `${rate(chineseBytes, cjkMs)}; longest event-loop stall ${fmt(cjkStall)}`,
  ]);

  const worst = longWords(100_000);
  const worstMs = await timeMs(() => countTokens(worst), 3);
  const worstStall = await longestStall(() => countTokens(worst));
  rows.push([
    'worst ordinary pieces: 60-letter random words, 100 KB',
    fmt(worstMs),
    `${rate(worst.length, worstMs)}; longest event-loop stall ${fmt(worstStall)}`,
  ]);

  const run = 'a'.repeat(MB);
  const runMs = await timeMs(() => countTokens(run), 5);
  rows.push(['1 MB of "a" (no whitespace), guarded', fmt(runMs), `${await countTokens(run)} tokens (estimated)`]);
  const mixed = 'a中'.repeat(MB / 2);
  const mixedMs = await timeMs(() => countTokens(mixed), 3);
  rows.push(['1 M chars of "a中" (one 2 MB piece), guarded', fmt(mixedMs), '']);

  // js-tiktoken alone, for contrast. Its merge grows ~n^2.3, so 4,000 is run only when the 1,000
  // measurement predicts it ends within a few seconds.
  const raw1k = await timeMs(() => encoder.encode('a'.repeat(1_000), [], []), 3);
  rows.push(['js-tiktoken alone, 1,000 × "a"', fmt(raw1k), '']);
  const predicted = raw1k * 4 ** 2.3;
  if (predicted < 6_000) {
    const raw4k = await timeMs(() => encoder.encode('a'.repeat(4_000), [], []), 1);
    rows.push(['js-tiktoken alone, 4,000 × "a"', fmt(raw4k), 'one run; blocks the event loop throughout']);
  } else {
    rows.push(['js-tiktoken alone, 4,000 × "a"', 'skipped', `predicted ${fmt(predicted)}`]);
  }
  rows.push(['forestall, 4,000 × "a"', fmt(await timeMs(() => countTokens('a'.repeat(4_000)), 5)), '']);

  const markdown = [
    '| measurement | median | notes |',
    '| --- | ---: | --- |',
    ...rows.map(([name, value, note]) => `| ${name} | ${value} | ${note} |`),
  ].join('\n');
  return { title: 'Token counting', markdown };
}
