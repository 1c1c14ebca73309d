import { Limiter, createLimitedFetch, preloadTokenizer } from 'forestall';
import { startMockServer } from 'forestall/testing';
import { fileURLToPath } from 'node:url';
import { childJson } from './child.js';
import { QUICK, median, percentile } from './core-util.js';

const STALL_FIXTURE = fileURLToPath(new URL('../test/fixtures/fetch-stall.ts', import.meta.url));

interface StallReport {
  readonly maxDelayMs: number;
  readonly maxGapMs: number;
  readonly elapsedMs: number;
}

/** The longest the event loop was blocked in test/fixtures/fetch-stall.ts `scenario`, in a fresh process. */
function stall(scenario: string): number {
  const r = childJson<StallReport>([STALL_FIXTURE, scenario]);
  return Math.max(r.maxDelayMs, r.maxGapMs);
}

/*
 * What the fetch wrapper adds to each request: the same requests to the mock server, one at a time,
 * with plain fetch and with createLimitedFetch (a limiter that never makes them wait, header sync
 * on, usage reconciled), JSON and streamed. The difference is the wrapper's own cost: estimating
 * the tokens, acquiring, parsing the headers, reading the usage.
 */

const ESTIMATE_MODE = process.env.BENCH_FETCH_ESTIMATE as 'fast' | 'tiktoken' | undefined;
const COUNT_FROM = process.env.BENCH_FETCH_COUNT_FROM as 'sent' | 'response' | 'admission' | undefined;

const body = (i: number, stream: boolean): string =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    max_tokens: 20,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: `Question ${i}: what is ${i} + ${i}?` },
    ],
    ...(stream && { stream: true, stream_options: { include_usage: true } }),
  });

type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * One request through each fetch in turn, `count` times: plain and limited alternate request by
 * request, so a machine that slows down or speeds up during the round weighs on both alike.
 */
async function perRequestMs(
  fetches: readonly FetchFn[],
  url: string,
  count: number,
  stream: boolean,
): Promise<number[][]> {
  const samples: number[][] = fetches.map(() => []);
  for (let i = 0; i < count; i++) {
    for (const [k, fetchFn] of fetches.entries()) {
      const start = performance.now();
      const res = await fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(i, stream),
      });
      await res.arrayBuffer();
      samples[k]?.push(performance.now() - start);
    }
  }
  return samples;
}

export default async function fetchBench(): Promise<{ title: string; markdown: string }> {
  await preloadTokenizer({ model: 'gpt-4o-mini' });
  const server = await startMockServer({ provider: 'openai', tokenizer: 'fast' });
  const url = `${server.url}/chat/completions`;
  const rounds = QUICK ? 3 : 7;
  const count = QUICK ? 100 : 400;
  const rows: string[] = [];
  let jsonRatio = Number.NaN;
  try {
    for (const stream of [false, true]) {
      const plain: number[] = [];
      const wrapped: number[] = [];
      const tails: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // A fresh limiter per round, with room for everything: only the wrapper's own cost shows.
        const limiter = new Limiter({
          requests: { limit: 1_000_000, windowMs: 60_000 },
          tokens: { limit: 1e12, windowMs: 60_000 },
        });
        // To see where the cost goes: BENCH_FETCH_ESTIMATE=fast (no tokenizer round trip) and
        // BENCH_FETCH_COUNT_FROM=admission (no send tagging). RESULTS.md is written with the defaults.
        const limited = createLimitedFetch({
          limiter,
          provider: 'openai',
          ...(ESTIMATE_MODE !== undefined && { estimate: { mode: ESTIMATE_MODE } }),
          ...(COUNT_FROM !== undefined && { countFrom: COUNT_FROM }),
        }) as FetchFn;
        const [plainSamples = [], samples = []] = await perRequestMs([fetch, limited], url, count, stream);
        plain.push(median(plainSamples));
        wrapped.push(median(samples));
        tails.push(percentile(samples, 99));
        await limiter.close();
      }
      const p = median(plain);
      const w = median(wrapped);
      rows.push(
        `| ${stream ? 'streamed (SSE)' : 'JSON'} | ${p.toFixed(3)} | ${w.toFixed(3)} | ${((w - p) * 1000).toFixed(0)} µs | ${(w / p).toFixed(2)}× | ${median(tails).toFixed(3)} |`,
      );
      if (!stream) jsonRatio = w / p;
    }
  } finally {
    await server.close();
  }
  const firstStall = median([stall('first'), stall('first'), stall('first')]);
  const largeStall = median([stall('large'), stall('large'), stall('large')]);
  return {
    title: 'Fetch wrapper overhead',
    markdown: [
      `Sequential chat completions against the in-process mock server (${count} per round, plain and limited alternating request by request, median of ${rounds} rounds), plain \`fetch\` against \`createLimitedFetch\` with a limiter that never waits (tiktoken estimate, header sync, usage reconciled).`,
      '',
      '| response | plain fetch, ms per request | limited fetch, ms per request | added per request | ratio | limited p99, ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      "A request with room for an upper bound of its prompt is admitted at it without waiting for the tokenizer worker, and a JSON body is read for its usage through the caller's own read (no copy). A stream is watched as it passes: its events are parsed until the first content, then only those that can carry usage or an error, through a stream of the wrapper's own.",
      '',
      '| goal | measured | result |',
      '| --- | --- | --- |',
      `| JSON request through the wrapper ≤ 1.25× plain fetch | ${jsonRatio.toFixed(2)}× | ${jsonRatio <= 1.25 ? 'PASS' : 'FAIL'} |`,
      `| longest event-loop stall of a fresh process's first request through the fetch ≤ 50 ms (median of 3) | ${firstStall.toFixed(1)} ms | ${firstStall <= 50 ? 'PASS' : 'FAIL'} |`,
      `| longest stall of a request with a 400 KB prompt through the fetch ≤ 20 ms (median of 3) | ${largeStall.toFixed(1)} ms | ${largeStall <= 20 ? 'PASS' : 'FAIL'} |`,
      '',
      "Stalls: `test/fixtures/fetch-stall.ts` in a fresh process (a `node:http` server in the same process), the event-loop delay histogram's maximum or the longest gap of a 1 ms interval, whichever is longer.",
    ].join('\n'),
  };
}
