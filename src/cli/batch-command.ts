import { BudgetSpentError, RunBudget, readSpendFlags, type SpendSettings } from './spend-budget.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { streamBatch, type BatchProgress } from '../batch/run-batch.js';
import { redactString } from '../internal/redact.js';
import { Limiter } from '../limiter/limiter.js';
import { PROVIDER_NAMES, type ProviderName } from '../providers/types.js';
import { LimiterRegistry } from '../registry/registry.js';
import { preloadTokenizer } from '../tokens/index.js';
import type { LimitOptions } from '../core/vocabulary.js';
import {
  type FlagSpec,
  type ParsedFlags,
  parseFlags,
  positiveIntegerFlag,
  positiveNumberFlag,
  stringFlag,
  UsageError,
} from './args.js';
import { limitsFromFlags, parseDurationFlag, parseLimitFlag } from './limit-flags.js';
import { pendingRequests, scanInput } from './batch-input.js';
import { apiKeyEnv, baseUrlEnv, defaultBaseUrl, fromEnv } from './endpoint.js';
import { INTERRUPT_EXIT_CODES, InterruptedError, onInterrupt, type InterruptSignal } from './interrupt.js';
import { ProgressDisplay } from './progress.js';
import { ReportRecorder } from './report-data.js';
import { reportFlag, writeReportFile } from './report-file.js';
import { ResultsWriter, scanResults } from './results-file.js';
import { createRequestSender } from './send-request.js';
import { allowedDuring, type BatchSummary, formatBatchSummary } from './summary.js';

/** Requests at once when `--concurrency` is not given: enough to fill a limit at LLM latencies. */
export const DEFAULT_CLI_CONCURRENCY = 64;

const FLAGS: FlagSpec = {
  out: { type: 'string', short: 'o' },
  provider: { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  rpm: { type: 'string' },
  rpd: { type: 'string' },
  tpm: { type: 'string' },
  tpd: { type: 'string' },
  itpm: { type: 'string' },
  otpm: { type: 'string' },
  limit: { type: 'string', multiple: true },
  'min-interval': { type: 'string' },
  'no-sync': { type: 'boolean' },
  estimate: { type: 'string' },
  concurrency: { type: 'string', short: 'c' },
  'max-attempts': { type: 'string' },
  timeout: { type: 'string' },
  'retry-failed': { type: 'boolean' },
  'fast-estimate': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  report: { type: 'string' },
  'max-spend': { type: 'string' },
  prices: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** `forestall batch --help`. */
export const BATCH_HELP = `Usage: forestall batch <requests.jsonl> --out <results.jsonl> [options]

Sends every request of an OpenAI Batch API input file to the provider's regular API, as fast as
its rate limits allow and no faster, and appends one result line per request to the output file.
Input lines: {"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
Output lines: {"custom_id": "req-1", "response": {"status_code": 200, "request_id": "...", "body": {...}}, "error": null}
         or:  {"custom_id": "req-1", "response": null, "error": {"code": "...", "message": "..."}}

Run it again with the same --out to resume: requests already in the output are skipped, and a
last line cut short by a crash is removed and redone. Bad input lines (not JSON, no custom_id,
a repeated custom_id, no body, no url path) are listed on stderr and skipped.

Options:
  -o, --out <file>          results file (JSON lines), appended to; required
      --provider <name>     ${PROVIDER_NAMES.join(', ')} (default openai)
      --base-url <url>      API base URL; the line's url is joined to it without doubling /v1
                            (default: $OPENAI_BASE_URL / $ANTHROPIC_BASE_URL, else the provider's
                            public API, e.g. https://api.openai.com/v1)
      --api-key <key>       API key (default: $OPENAI_API_KEY, $ANTHROPIC_API_KEY, $AZURE_OPENAI_API_KEY,
                            $GROQ_API_KEY, $MISTRAL_API_KEY or $GEMINI_API_KEY, by provider). Prefer the
                            variable: arguments are visible to other users in \`ps\`. Never printed.
      --rpm <n>             requests per minute allowed; also kept as ceil(n / 60) per second, since
                            providers may enforce a minute's limit over shorter intervals.
                            Default: learned from the rate-limit headers of the first response.
      --rpd <n>             requests per day allowed
      --tpm <n>             tokens per minute allowed (prompt + max output, reconciled with usage).
                            Default: learned from the headers.
      --tpd <n>             tokens per day allowed
      --itpm <n>, --otpm <n>
                            input / output tokens per minute allowed (Anthropic limits them apart)
      --limit <n>/<time>    requests per any window, e.g. 10/1s or 60/10s; may be repeated
      --min-interval <time> at least this long between requests, e.g. 100ms (nginx limit_req)
      --no-sync             do not learn limits or others' use from the rate-limit headers
  -c, --concurrency <n>     requests in flight at once (default ${DEFAULT_CLI_CONCURRENCY}); throughput is at most
                            concurrency / latency, so raise it for slow requests
      --max-attempts <n>    attempts per request, the first included (default 6); 429s, 5xx,
                            timeouts and connection errors are retried, a 429 pauses every request
      --timeout <seconds>   give up on an attempt after this long, then retry (default 600)
      --retry-failed        also redo requests whose earlier result is an error or not 2xx
      --estimate <mode>     tiktoken (default) or fast: UTF-8 bytes / 4, without loading the
                            tokenizer (about 0.7 s and 100+ MB of RSS while it loads)
      --fast-estimate       the same as --estimate fast
  -q, --quiet               no progress display (the summary is still printed)
      --report <file.html>  when the run ends (or is interrupted), write a self-contained HTML
                            report: a timeline against the limits, 429s, retries, waits, totals
      --max-spend <amount>  stop starting requests once this much is spent (needs --prices)
      --prices <json|file>  per million tokens, per model or group: {"gpt-4o-mini":
                            {"input": 0.15, "cachedInput": 0.075, "output": 0.6}}
  -h, --help                show this help

Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise); the summary
to stdout. Ctrl-C stops starting requests, waits for those in flight, writes them, prints the
summary and exits 130; a second Ctrl-C quits at once (what was in flight is redone on resume).

Exit codes: 0 every request succeeded, 1 some requests failed or some lines were bad,
2 usage error, 3 the --max-spend budget was spent (run again with a higher one to resume),
130 interrupted (143 on SIGTERM).
`;

/** Settings read from the command line and the environment. */
interface BatchSettings {
  readonly input: string;
  readonly out: string;
  readonly provider: ProviderName;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly limits: LimitOptions | undefined;
  readonly sync: boolean;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly retryFailed: boolean;
  readonly fastEstimate: boolean;
  readonly quiet: boolean;
  /** `--report`: the HTML report to write at the end. */
  readonly report: string | undefined;
  /** `--max-spend` with `--prices`. */
  readonly spend: SpendSettings | undefined;
}

function readSettings(args: readonly string[], env: NodeJS.ProcessEnv): BatchSettings | 'help' {
  const command = 'batch';
  const flags = parseFlags(command, args, FLAGS);
  if (flags.values.help === true) return 'help';
  if (flags.positionals.length !== 1) {
    throw new UsageError(
      `${command}: expected one input file, got ${flags.positionals.length === 0 ? 'none' : flags.positionals.length}`,
    );
  }
  const input = flags.positionals[0] as string;
  const out = stringFlag(flags, 'out');
  if (out === undefined || out === '') throw new UsageError(`${command}: --out <results.jsonl> is required`);
  const providerName = stringFlag(flags, 'provider') ?? 'openai';
  if (!PROVIDER_NAMES.includes(providerName as ProviderName)) {
    throw new UsageError(
      `${command}: --provider must be one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(providerName)}`,
    );
  }
  const provider = providerName as ProviderName;
  const baseUrl = stringFlag(flags, 'base-url') ?? fromEnv(env, baseUrlEnv(provider)) ?? defaultBaseUrl(provider);
  if (baseUrl === undefined) throw new UsageError(`${command}: --base-url is required for --provider ${provider}`);
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(baseUrl);
  } catch {
    throw new UsageError(`${command}: --base-url must be an http(s) URL, got ${JSON.stringify(redactString(baseUrl))}`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
    throw new UsageError(`${command}: --base-url must be an http(s) URL, got ${JSON.stringify(redactString(baseUrl))}`);
  }
  const apiKey = stringFlag(flags, 'api-key') ?? fromEnv(env, apiKeyEnv(provider));
  if (apiKey === undefined || apiKey === '') {
    throw new UsageError(`${command}: no API key: set ${apiKeyEnv(provider).join(' or ')}, or pass --api-key`);
  }
  const timeout = positiveNumberFlag(command, flags, 'timeout') ?? 600;
  if (timeout * 1_000 > 2_147_483_647) throw new UsageError(`${command}: --timeout is at most 2147483 seconds`);
  return {
    input,
    out,
    provider,
    baseUrl,
    apiKey,
    limits: limitsFromFlags({
      rpm: positiveIntegerFlag(command, flags, 'rpm'),
      rpd: positiveIntegerFlag(command, flags, 'rpd'),
      tpm: positiveIntegerFlag(command, flags, 'tpm'),
      tpd: positiveIntegerFlag(command, flags, 'tpd'),
      itpm: positiveIntegerFlag(command, flags, 'itpm'),
      otpm: positiveIntegerFlag(command, flags, 'otpm'),
      windows: ((flags.values.limit as unknown as string[] | undefined) ?? []).map((raw) =>
        parseLimitFlag(command, raw),
      ),
      minIntervalMs: (() => {
        const raw = stringFlag(flags, 'min-interval');
        return raw === undefined ? undefined : parseDurationFlag(command, 'min-interval', raw);
      })(),
    }),
    sync: flags.values['no-sync'] !== true,
    concurrency: positiveIntegerFlag(command, flags, 'concurrency') ?? DEFAULT_CLI_CONCURRENCY,
    maxAttempts: positiveIntegerFlag(command, flags, 'max-attempts') ?? 6,
    timeoutMs: timeout * 1_000,
    retryFailed: flags.values['retry-failed'] === true,
    fastEstimate: estimateFlag(command, flags),
    quiet: flags.values.quiet === true,
    report: reportFlag(command, stringFlag(flags, 'report'), { input, out }),
    spend: readSpendFlags(command, stringFlag(flags, 'max-spend'), stringFlag(flags, 'prices')),
  };
}

/** `--estimate fast` or `--fast-estimate`: whether to estimate without the tokenizer. */
function estimateFlag(command: string, flags: ParsedFlags): boolean {
  const mode = stringFlag(flags, 'estimate');
  if (mode !== undefined && mode !== 'fast' && mode !== 'tiktoken') {
    throw new UsageError(`${command}: --estimate must be tiktoken or fast, got ${JSON.stringify(mode)}`);
  }
  return mode === 'fast' || flags.values['fast-estimate'] === true;
}

/** Runs `forestall batch`; resolves to the exit code. Throws `UsageError` for bad arguments. */
export async function batchCommand(args: readonly string[]): Promise<number> {
  const settings = readSettings(args, process.env);
  if (settings === 'help') {
    process.stdout.write(BATCH_HELP);
    return 0;
  }
  const { input, out, provider, baseUrl, apiKey } = settings;
  // Belt and braces: whatever reaches the screen or the file passes through this.
  // (A key too short to be a secret, such as "none" for a local server, is left alone.)
  const scrub = (text: string): string =>
    apiKey.length >= 8 && text.includes(apiKey) ? text.replaceAll(apiKey, '[REDACTED]') : text;
  let display: ProgressDisplay | undefined;
  const warn = (message: string): void => {
    if (display !== undefined) display.log(scrub(`forestall: ${message}`));
    else process.stderr.write(scrub(`forestall: ${message}\n`));
  };

  if (!existsSync(input) || !statSync(input).isFile()) throw new UsageError(`batch: cannot read ${input}: not a file`);
  if (resolve(input) === resolve(out)) throw new UsageError('batch: --out must be another file than the input');
  if (!existsSync(dirname(resolve(out))))
    throw new UsageError(`batch: cannot write ${out}: its directory does not exist`);

  const previous = await scanResults(out, { retryFailed: settings.retryFailed });
  if (previous.truncatedBytes > 0) {
    warn(
      `${out}: removed an incomplete last line (${previous.truncatedBytes} bytes) left by an interrupted run; its request is sent again`,
    );
  }
  if (previous.damaged.length > 0) {
    warn(
      `${out}: ignored damaged line(s) ${previous.damaged.slice(0, 20).join(', ')}${previous.damaged.length > 20 ? ', ...' : ''}; their requests are sent again`,
    );
  }
  if (previous.dropped > 0)
    warn(`${out}: removed ${previous.dropped} failed result(s) to send them again (--retry-failed)`);

  const scan = await scanInput(input);
  const SHOWN = 50;
  for (const bad of scan.bad.slice(0, SHOWN)) warn(`${input}:${bad.line}: skipped: ${bad.reason}`);
  if (scan.bad.length > SHOWN) warn(`${input}: ... and ${scan.bad.length - SHOWN} more bad lines`);
  let skipped = 0;
  for (const id of scan.ids.keys()) if (previous.done.has(id)) skipped++;
  const todo = scan.ids.size - skipped;
  warn(
    `${input}: ${scan.ids.size} request(s)${scan.bad.length > 0 ? `, ${scan.bad.length} bad line(s) skipped` : ''}; ` +
      `${skipped} already in ${out}, ${todo} to send to ${new URL(baseUrl).origin}`,
  );

  const tally = { succeeded: 0, failed: 0, retries: 0, rateLimited: 0, sent: 0, inputTokens: 0, outputTokens: 0 };
  /** Requests started (their results not written yet, or written): exact, where progress is throttled. */
  let started = 0;
  const inFlight = (): number => started - tally.succeeded - tally.failed;
  const limits = settings.limits;
  const registry = new LimiterRegistry({
    providers: { [provider]: { default: limits ?? 'auto' } },
    create: (options) => {
      const limiter = new Limiter(options);
      limiter.on('retry', () => tally.retries++);
      return limiter;
    },
  });
  const report = settings.report === undefined ? undefined : new ReportRecorder();
  report?.attach(registry);
  // Aborted by the first Ctrl-C (or a spent --max-spend): nothing new leaves after it.
  const stop = new AbortController();
  const mode = settings.fastEstimate ? 'fast' : 'tiktoken';
  const onSpent = (): void => stop.abort(new BudgetSpentError(settings.spend?.maxSpend ?? 0));
  const budget = settings.spend && new RunBudget(settings.spend, provider, registry, mode, onSpent);
  report?.setSpendLimit(settings.spend?.maxSpend);
  const send = createRequestSender({
    provider,
    baseUrl,
    apiKey,
    limiter: registry,
    retry: { maxAttempts: settings.maxAttempts, attemptTimeoutMs: settings.timeoutMs },
    counts: tally,
    onStart: () => {
      started++;
      report?.started();
    },
    stop: stop.signal,
    ...(settings.fastEstimate && { estimateMode: 'fast' as const }),
    sync: settings.sync,
  });

  let progress: BatchProgress | undefined;
  let interrupted: InterruptSignal | undefined;
  let startedAt = performance.now();
  const summary = (abandoned?: number): string => {
    const elapsedMs = performance.now() - startedAt;
    const limiters = registry.entries().map(([, limiter]) => limiter);
    const counts: BatchSummary = {
      input,
      out,
      todo,
      ...tally,
      skipped,
      badLines: scan.bad.length,
      elapsedMs,
      allowedRequests: allowedDuring(limiters, 'requests', elapsedMs),
      allowedTokens: allowedDuring(limiters, 'tokens', elapsedMs),
      interrupted,
      abandoned,
      ...(budget && { spend: { spent: budget.spent, limit: budget.settings.maxSpend, stopped: budget.stopped } }),
    };
    // The report is written with the summary, so it is there whenever the summary is.
    const failed =
      report && writeReportFile(settings.report as string, report.data(counts, registry, provider, startedAt), scrub);
    if (failed !== undefined) warn(failed);
    return scrub(formatBatchSummary(counts));
  };
  const unfinished = (): number =>
    budget?.stopped ? BudgetSpentError.exitCode : tally.failed + scan.bad.length > 0 ? 1 : 0;
  const exitCode = (): number => (interrupted !== undefined ? INTERRUPT_EXIT_CODES[interrupted] : unfinished());

  if (todo === 0) {
    process.stdout.write(summary());
    await Promise.all([registry.close(), budget?.close()]);
    return exitCode();
  }

  // Loading the tokenizer blocks for about a second: before the clock starts, not in the middle.
  if (!settings.fastEstimate) await preloadTokenizer({ model: scan.firstModel }).catch(() => undefined);

  const writer = new ResultsWriter(out);
  const removeHandlers = onInterrupt(
    (signal) => {
      interrupted = signal;
      warn(
        `${signal === 'SIGINT' ? 'Ctrl-C' : signal}: starting no more requests; waiting for the ${inFlight()} in flight ` +
          `(${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to quit at once)`,
      );
      stop.abort(new InterruptedError(signal));
      // Requests still waiting in a limiter never leave: their waits end now (those in flight keep
      // their leases and are written; a retry they would need is not sent).
      void registry.close();
    },
    (signal) => {
      interrupted ??= signal;
      display?.stop();
      writer.close();
      process.stdout.write(summary(inFlight()));
      process.exit(INTERRUPT_EXIT_CODES[signal]);
    },
  );
  if (!settings.quiet) {
    display = new ProgressDisplay(process.stderr, () => ({
      done: tally.succeeded + tally.failed,
      total: todo,
      failed: tally.failed,
      inFlight: inFlight(),
      ratePerSecond: progress?.ratePerSecond ?? 0,
      etaMs: progress?.etaMs,
      rateLimited: tally.rateLimited,
      retries: tally.retries,
    }));
  }

  startedAt = performance.now();
  try {
    const worker = budget?.wrap(send, stop.signal, (amount, id) => report?.spent(amount, id)) ?? send;
    const results = streamBatch(pendingRequests(input, scan.ids, previous.done), report?.wrap(worker) ?? worker, {
      concurrency: settings.concurrency,
      signal: stop.signal,
      total: todo,
      onProgress: (p) => {
        progress = p;
        display?.update();
      },
    });
    for await (const result of results) {
      // `send` turns every failure into a record, so there is always a value.
      if (!result.ok) throw result.error;
      const { record, ok, usage } = result.value;
      writer.writeLine(scrub(JSON.stringify(record)));
      if (ok) tally.succeeded++;
      else tally.failed++;
      if (usage !== undefined) {
        tally.inputTokens += usage.input;
        tally.outputTokens += usage.output;
      }
      display?.update();
    }
  } catch (error) {
    if (!(error instanceof InterruptedError) && !(error instanceof BudgetSpentError)) throw error;
  } finally {
    removeHandlers();
    display?.stop();
    writer.close();
    await Promise.all([registry.close(), budget?.close()]);
  }
  process.stdout.write(summary());
  return exitCode();
}
