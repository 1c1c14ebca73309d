import { runBatch, type BatchProgress } from '../batch/run-batch.js';
import { createLimitedFetch } from '../fetch/limited-fetch.js';
import { Limiter } from '../limiter/limiter.js';
import { startMockServer, type MockServer } from '../testing/mock-server.js';
import { preloadTokenizer } from '../tokens/index.js';
import { parseFlags, positiveIntegerFlag, type FlagSpec } from './args.js';
import { formatCount, formatDuration } from './format.js';
import { ProgressDisplay } from './progress.js';

const FLAGS: FlagSpec = {
  requests: { type: 'string', short: 'n' },
  rate: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** `forestall demo --help`. */
export const DEMO_HELP = `Usage: forestall demo [options]

Starts a mock OpenAI server on 127.0.0.1 that enforces a rate limit the way OpenAI does (429 with
retry-after), then sends it the same chat completions twice with the official openai SDK:
  1. naive: all at once, with the SDK's default retries (maxRetries 2);
  2. forestall: through createLimitedFetch (maxRetries 0, retries in forestall), run by runBatch.
Prints 429s, retries, wall time and throughput side by side. No API key, no network; needs the
openai package (a dev dependency of forestall: run it from the repository after npm install).

Options:
  -n, --requests <n>   requests per run (default 120)
      --rate <n>       requests per second the server allows (default 20); it also allows
                       100 tokens per request per second
  -h, --help           show this help
`;

const MODEL = 'gpt-4o-mini';

/** The slice of the openai SDK the demo uses. */
interface OpenAiClient {
  chat: {
    completions: {
      create(body: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<{ choices: unknown[] }>;
    };
  };
}
type OpenAiConstructor = new (options: Record<string, unknown>) => OpenAiClient;

/** The openai SDK, loaded only now: it is a dev dependency, so an installed forestall may lack it. */
async function loadOpenAi(): Promise<OpenAiConstructor | undefined> {
  // A specifier the bundler cannot see, so the SDK is never copied into the build.
  const specifier = ['open', 'ai'].join('');
  try {
    const module = (await import(specifier)) as { default?: OpenAiConstructor; OpenAI?: OpenAiConstructor };
    return module.OpenAI ?? module.default;
  } catch {
    return undefined;
  }
}

/** What one run came to, as the server saw it. */
interface RunReport {
  readonly succeeded: number;
  readonly failed: number;
  readonly rateLimited: number;
  readonly sent: number;
  readonly retries: number;
  readonly wallMs: number;
}

function body(i: number): Record<string, unknown> {
  return {
    model: MODEL,
    messages: [{ role: 'user', content: `Request ${i + 1}: name a colour and a fruit.` }],
    max_tokens: 50,
  };
}

function report(server: MockServer, n: number, succeeded: number, wallMs: number): RunReport {
  const stats = server.stats();
  return {
    succeeded,
    failed: n - succeeded,
    rateLimited: stats.rejected429,
    sent: stats.total,
    retries: stats.total - n,
    wallMs,
  };
}

/** All at once, the SDK retrying as it does by default. */
async function naiveRun(OpenAI: OpenAiConstructor, server: MockServer, n: number): Promise<RunReport> {
  const client = new OpenAI({ apiKey: 'sk-demo-not-a-real-key', baseURL: server.url });
  let succeeded = 0;
  let failed = 0;
  let started = performance.now();
  const rate = (): number => (succeeded * 1_000) / Math.max(1, performance.now() - started);
  const display = new ProgressDisplay(
    process.stderr,
    () => ({
      done: succeeded + failed,
      total: n,
      failed,
      inFlight: n - succeeded - failed,
      ratePerSecond: rate(),
      etaMs: undefined,
      rateLimited: server.stats().rejected429,
      retries: server.stats().total - n,
    }),
    { label: 'naive    ', plainIntervalMs: 1_000 },
  );
  started = performance.now();
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      client.chat.completions.create(body(i)).then(
        () => {
          succeeded++;
          display.update();
        },
        () => {
          failed++;
          display.update();
        },
      ),
    ),
  );
  const wallMs = performance.now() - started;
  display.stop();
  return report(server, n, succeeded, wallMs);
}

/** The same requests through forestall: the limiter spaces them, retries are forestall's. */
async function forestallRun(
  OpenAI: OpenAiConstructor,
  server: MockServer,
  n: number,
  perSecond: number,
): Promise<RunReport> {
  const limiter = new Limiter({
    requests: { limit: perSecond, windowMs: 1_000 },
    tokens: { limit: perSecond * 100, windowMs: 1_000 },
  });
  const client = new OpenAI({
    apiKey: 'sk-demo-not-a-real-key',
    baseURL: server.url,
    maxRetries: 0,
    fetch: createLimitedFetch({ limiter, provider: 'openai', retry: true }),
  });
  let progress: BatchProgress | undefined;
  const display = new ProgressDisplay(
    process.stderr,
    () => ({
      done: progress?.done ?? 0,
      total: n,
      failed: progress?.failed ?? 0,
      inFlight: progress?.inFlight ?? 0,
      ratePerSecond: progress?.ratePerSecond ?? 0,
      etaMs: progress?.etaMs,
      rateLimited: server.stats().rejected429,
      retries: progress?.retries ?? 0,
    }),
    { label: 'forestall', plainIntervalMs: 1_000 },
  );
  const started = performance.now();
  const results = await runBatch(
    Array.from({ length: n }, (_, i) => i),
    (i, { signal }) => client.chat.completions.create(body(i), { signal }),
    {
      // The fetch takes the leases; the batch only watches the limiter's events.
      limiter,
      acquire: false,
      concurrency: 32,
      onProgress: (p) => {
        progress = p;
        display.update();
      },
    },
  );
  const wallMs = performance.now() - started;
  display.stop();
  await limiter.close();
  return report(server, n, results.filter((r) => r.ok).length, wallMs);
}

function table(n: number, naive: RunReport, ours: RunReport): string {
  const perSecond = (r: RunReport): string => ((r.succeeded * 1_000) / r.wallMs).toFixed(1);
  const rows: [string, string, string][] = [
    ['', 'naive (SDK retries)', 'forestall'],
    ['succeeded', `${naive.succeeded} / ${n}`, `${ours.succeeded} / ${n}`],
    ['failed', formatCount(naive.failed), formatCount(ours.failed)],
    ['429 responses', formatCount(naive.rateLimited), formatCount(ours.rateLimited)],
    ['requests sent', formatCount(naive.sent), formatCount(ours.sent)],
    ['retries', formatCount(naive.retries), formatCount(ours.retries)],
    ['wall time', formatDuration(naive.wallMs), formatDuration(ours.wallMs)],
    ['successful req/s', perSecond(naive), perSecond(ours)],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
  return rows
    .map(([a, b, c]) => `  ${a.padEnd(widths[0] ?? 0)}   ${b.padStart(widths[1] ?? 0)}   ${c.padStart(widths[2] ?? 0)}`)
    .join('\n');
}

/** Runs `forestall demo`; resolves to the exit code. */
export async function demoCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags('demo', args, FLAGS);
  if (flags.values.help === true) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  const n = positiveIntegerFlag('demo', flags, 'requests') ?? 120;
  const perSecond = positiveIntegerFlag('demo', flags, 'rate') ?? 20;
  const OpenAI = await loadOpenAi();
  if (OpenAI === undefined) {
    process.stderr.write(
      'forestall demo: the openai package is missing. It is a dev dependency of forestall: run the demo ' +
        'from the repository after `npm install`, or `npm install openai` next to forestall.\n',
    );
    return 1;
  }
  process.stdout.write(
    `forestall demo: ${n} chat completions, twice, against a mock OpenAI server on 127.0.0.1 that allows ` +
      `${perSecond} requests and ${formatCount(perSecond * 100)} tokens per second (sliding window, 429 + retry-after beyond).\n` +
      'No API key, no network.\n\n',
  );
  // The client estimates tokens with tiktoken; load it before any clock starts.
  await preloadTokenizer({ model: MODEL });
  const server = await startMockServer({
    provider: 'openai',
    requests: { limit: perSecond, windowMs: 1_000 },
    tokens: { limit: perSecond * 100, windowMs: 1_000 },
    latencyMs: { min: 20, max: 80 },
  });
  try {
    process.stdout.write('1. naive: Promise.all over every request, the SDK retrying 429s (maxRetries 2)\n');
    const naive = await naiveRun(OpenAI, server, n);
    server.reset();
    process.stdout.write('2. forestall: runBatch + createLimitedFetch, SDK maxRetries 0\n');
    const ours = await forestallRun(OpenAI, server, n, perSecond);
    process.stdout.write(`\n${table(n, naive, ours)}\n\n`);
    const lost =
      naive.failed > 0 ? ` The naive run lost ${naive.failed} of ${n} requests after ${naive.retries} retries.` : '';
    process.stdout.write(
      ours.rateLimited === 0
        ? `forestall waited before sending: no 429s, and ${ours.succeeded} of ${n} requests succeeded.${lost}\n`
        : `forestall still met ${ours.rateLimited} 429(s): the limiter and the server disagree about the window.\n`,
    );
  } finally {
    await server.close();
  }
  return 0;
}
