import Anthropic from '@anthropic-ai/sdk';
import { createLimitedFetch, type LimitOptions, Limiter } from 'forestall';
import { startMockServer } from 'forestall/testing';
import { fixed, table } from './core-util.js';

/*
 * Adaptive concurrency against an overloaded provider: the mock serves 8 requests at once (200-400
 * ms each) and answers 529 beyond that, with no limit headers. 300 Anthropic SDK calls at once,
 * three ways: a fixed cap of 8 (the ideal, knowing the capacity), `concurrency: { adaptive: true,
 * max: 64 }` (not knowing it), and no limiter with the SDK's own retries (maxRetries 10).
 */

const N = 300;
const LATENCY = { min: 200, max: 400 };
const IDEAL = 8 / ((LATENCY.min + LATENCY.max) / 2 / 1_000);

interface Run {
  readonly name: string;
  readonly perSecond: number;
  readonly overloaded: number;
  readonly total: number;
  readonly failed: number;
}

async function run(name: string, client: (url: string) => Anthropic): Promise<Run> {
  const server = await startMockServer({ provider: 'anthropic', capacity: { concurrency: 8 }, latencyMs: LATENCY });
  try {
    const sdk = client(server.url);
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: N }, () =>
        sdk.messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }),
      ),
    );
    const seconds = (performance.now() - started) / 1_000;
    const stats = server.stats();
    const failed = results.filter((r) => r.status === 'rejected').length;
    return { name, perSecond: (N - failed) / seconds, overloaded: stats.overloaded, total: stats.total, failed };
  } finally {
    await server.close();
  }
}

function limited(concurrency: LimitOptions['concurrency']) {
  return (url: string): Anthropic => {
    const limiter = new Limiter({ concurrency });
    const fetch = createLimitedFetch({ limiter, provider: 'anthropic', retry: { baseDelayMs: 250 } });
    return new Anthropic({ apiKey: 'bench', baseURL: url, fetch, maxRetries: 0 });
  };
}

export default async function adaptive(): Promise<{ title: string; markdown: string }> {
  const runs = [
    await run('fixed `concurrency: 8` (the ideal)', limited(8)),
    await run('`concurrency: { adaptive: true, max: 64 }`', limited({ adaptive: true, max: 64 })),
    await run(
      'no limiter, SDK retries (`maxRetries: 10`)',
      (url) => new Anthropic({ apiKey: 'bench', baseURL: url, maxRetries: 10 }),
    ),
  ];
  const [ideal, found] = runs as [Run, Run, Run];
  const rows = runs.map((r) => [
    r.name,
    `${fixed(r.perSecond, 1)}/s`,
    `${fixed((100 * r.perSecond) / IDEAL, 0)}%`,
    `${fixed(r.perSecond / ideal.perSecond, 2)}x`,
    `${r.overloaded} of ${r.total} (${fixed((100 * r.overloaded) / r.total, 1)}%)`,
    String(r.failed),
  ]);
  const markdown = [
    `${N} Anthropic SDK calls at once against a mock that serves 8 at once (${LATENCY.min}-${LATENCY.max} ms) and answers 529 beyond; 8 in flight allow ${fixed(IDEAL, 1)}/s. In this run:`,
    '',
    table(['how', 'throughput', 'of 8 in flight', 'vs fixed 8', 'overloaded answers', 'failed calls'], rows),
    '',
    `Adaptive concurrency reached ${fixed(found.perSecond / ideal.perSecond, 2)}x of the fixed cap that knows the capacity (issue goal: overloaded <= 5%, throughput >= 85% of 8 in flight).`,
  ].join('\n');
  return { title: 'Adaptive concurrency: an overloaded provider', markdown };
}
