import { Limiter, createLimitedFetch, preloadTokenizer } from 'forestall';
import { startMockServer } from 'forestall/testing';
import { QUICK, median, percentile } from './core-util.js';

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

async function perRequestMs(fetchFn: FetchFn, url: string, count: number, stream: boolean): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const res = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body(i, stream),
    });
    await res.arrayBuffer();
    samples.push(performance.now() - start);
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
        plain.push(median(await perRequestMs(fetch, url, count, stream)));
        const samples = await perRequestMs(limited, url, count, stream);
        wrapped.push(median(samples));
        tails.push(percentile(samples, 99));
        await limiter.close();
      }
      const p = median(plain);
      const w = median(wrapped);
      rows.push(
        `| ${stream ? 'streamed (SSE)' : 'JSON'} | ${p.toFixed(3)} | ${w.toFixed(3)} | ${((w - p) * 1000).toFixed(0)} µs | ${median(tails).toFixed(3)} |`,
      );
    }
  } finally {
    await server.close();
  }
  return {
    title: 'Fetch wrapper overhead',
    markdown: [
      `Sequential chat completions against the in-process mock server (${count} per round, median of ${rounds} rounds), plain \`fetch\` against \`createLimitedFetch\` with a limiter that never waits (tiktoken estimate, header sync, usage reconciled).`,
      '',
      '| response | plain fetch, ms per request | limited fetch, ms per request | added per request | limited p99, ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n'),
  };
}
