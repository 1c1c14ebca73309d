import { childJson } from './child.js';
import { fileURLToPath } from 'node:url';
import { countTokens, preloadTokenizer } from '../src/tokens/index.js';
import { loadEncoding } from '../src/tokens/encoding.js';

/*
 * Token counting costs: throughput on prose, the pathological inputs the guard exists for (with
 * js-tiktoken alone on a short run for contrast), the tokenizer's cold start, the event-loop
 * stalls of a fresh process's first request and of a 400 KB prompt, and the memory the loaded
 * tokenizer costs, all measured in fresh processes so the module cache cannot hide them.
 */

const STALL_FIXTURE = fileURLToPath(new URL('../test/fixtures/tokens-stall.ts', import.meta.url));
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

/** Time until the tokenizer is ready in a fresh process, and this thread's heap after (GC'd). */
function coldStart(model: string): { ms: number; heapMb: number } {
  const code = [
    'const start = performance.now();',
    "const { preloadTokenizer } = await import('./src/tokens/index.ts');",
    'await preloadTokenizer({ model: process.env.BENCH_MODEL });',
    'const ms = performance.now() - start;',
    'globalThis.gc?.();',
    'console.log(JSON.stringify({ ms, heapMb: process.memoryUsage().heapUsed / 1048576 }));',
  ].join('\n');
  return childJson(['--input-type=module', '-e', code], { BENCH_MODEL: model });
}

interface Stall {
  readonly maxDelayMs: number;
  readonly maxGapMs: number;
  readonly elapsedMs: number;
}

interface StallReport extends Partial<Stall> {
  readonly cold?: Stall;
  readonly warm?: Stall;
  readonly heapUsedMb: number;
  readonly rssMb: number;
}

/** test/fixtures/tokens-stall.ts in a fresh process; `inline` loads on the calling thread (the old path). */
function stallRun(scenario: string, inline = false): StallReport {
  return childJson([STALL_FIXTURE, scenario], inline ? { TOKENS_STALL_INLINE: '1' } : {});
}

const worstOf = (s: Partial<Stall> | undefined): number => Math.max(s?.maxDelayMs ?? 0, s?.maxGapMs ?? 0);

/** RSS right after the tokenizer loaded and once the process has sat idle a while (pages returned). */
function memoryOverTime(inline: boolean): { idleRss: number; loadedRss: number; laterRss: number; heap: number } {
  const code = [
    "const { preloadTokenizer } = await import('./src/tokens/index.ts');",
    "const { setWorkerEnabled } = await import('./src/tokens/tokenizer-worker.ts');",
    "if (process.env.BENCH_INLINE === '1') setWorkerEnabled(false);",
    'const mb = (n) => n / 1048576;',
    'globalThis.gc?.();',
    'const idleRss = mb(process.memoryUsage().rss);',
    'await preloadTokenizer();',
    'globalThis.gc?.();',
    'const loadedRss = mb(process.memoryUsage().rss);',
    'await new Promise((resolve) => setTimeout(resolve, 10_000));',
    'globalThis.gc?.();',
    'const { rss, heapUsed } = process.memoryUsage();',
    'console.log(JSON.stringify({ idleRss, loadedRss, laterRss: mb(rss), heap: mb(heapUsed) }));',
  ].join('\n');
  return childJson(['--input-type=module', '-e', code], { BENCH_INLINE: inline ? '1' : '0' });
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
    `in the worker, not blocking; main-thread heap after: ${median(colds.heap).toFixed(0)} MB`,
  ]);
  rows.push(['cold start cl100k_base (import + construct, fresh process)', fmt(median(colds.cl100k)), '']);

  const firsts = [stallRun('first'), stallRun('first'), stallRun('first')];
  const inlineFirsts = [stallRun('first', true), stallRun('first', true)];
  rows.push([
    "longest event-loop stall of a fresh process's first request (exact estimate; goal ≤ 50 ms)",
    fmt(median(firsts.map(worstOf))),
    `worst of 3: ${fmt(Math.max(...firsts.map(worstOf)))}; tokenizer on the calling thread (before): ` +
      `${fmt(median(inlineFirsts.map(worstOf)))}; first estimate took ${fmt(median(firsts.map((r) => r.elapsedMs ?? 0)))}`,
  ]);
  const noWaits = [stallRun('first-nowait'), stallRun('first-nowait'), stallRun('first-nowait')];
  rows.push([
    "longest stall of a fresh process's first request, `wait: false` (fast estimate until loaded)",
    fmt(median(noWaits.map(worstOf))),
    `resolved in ${fmt(median(noWaits.map((r) => r.elapsedMs ?? 0)))}`,
  ]);
  const larges = [stallRun('large'), stallRun('large'), stallRun('large')];
  const inlineLarge = stallRun('large', true);
  rows.push([
    'longest stall while estimating a 400 KB prompt, tokenizer loaded (goal ≤ 20 ms)',
    fmt(median(larges.map((r) => worstOf(r.warm)))),
    `worst of 3: ${fmt(Math.max(...larges.map((r) => worstOf(r.warm))))}; on the calling thread (before): ` +
      `${fmt(worstOf(inlineLarge.warm))}; took ${fmt(median(larges.map((r) => r.warm?.elapsedMs ?? 0)))}`,
  ]);
  rows.push([
    'longest stall while estimating a 400 KB prompt as the first request (load included)',
    fmt(median(larges.map((r) => worstOf(r.cold)))),
    `worst of 3: ${fmt(Math.max(...larges.map((r) => worstOf(r.cold))))}; on the calling thread (before): ` +
      `${fmt(worstOf(inlineLarge.cold))}`,
  ]);
  const idle = stallRun('idle');
  const mem = memoryOverTime(false);
  const memInline = memoryOverTime(true);
  const mb = (n: number): string => `${n.toFixed(0)} MB`;
  rows.push([
    'memory of the loaded o200k_base: main-thread heap (after GC)',
    mb(median(firsts.map((r) => r.heapUsedMb))),
    `process without the tokenizer: ${mb(idle.heapUsedMb)}; loaded on the calling thread (before): ` +
      `${mb(median(inlineFirsts.map((r) => r.heapUsedMb)))}`,
  ]);
  rows.push([
    'memory of the loaded o200k_base: RSS with the worker, just loaded → 10 s later',
    `${mb(mem.loadedRss - mem.idleRss)} → ${mb(mem.laterRss - mem.idleRss)}`,
    `added to ${mb(mem.idleRss)}; on the calling thread (before): ${mb(memInline.loadedRss - memInline.idleRss)} → ` +
      `${mb(memInline.laterRss - memInline.idleRss)}, heap ${mb(memInline.heap)}`,
  ]);

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
