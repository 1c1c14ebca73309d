import { readFileSync } from 'node:fs';
import { CapacityError } from '../core/errors.js';
import { actualSpend, estimatedSpend, type Prices, priceOf, resolvePrices } from '../fetch/prices.js';
import { Limiter } from '../limiter/limiter.js';
import type { Lease } from '../limiter/lease.js';
import type { ProviderName } from '../providers/types.js';
import type { LimiterRegistry } from '../registry/registry.js';
import { estimateRequestTokens } from '../tokens/estimate.js';
import { UsageError } from './args.js';
import type { BatchRequest } from './batch-input.js';
import type { SendOutcome } from './send-request.js';

/** `--max-spend` and the `--prices` it is counted with. */
export interface SpendSettings {
  readonly maxSpend: number;
  readonly prices: Prices;
}

/** The `--max-spend` budget ran out: the run starts nothing more (what is in flight is written). */
export class BudgetSpentError extends Error {
  override readonly name = 'BudgetSpentError' as const;
  /** `forestall batch`'s exit code when the budget ran out before every request was sent. */
  static readonly exitCode = 3;

  constructor(readonly maxSpend: number) {
    super(`The spend budget (--max-spend ${maxSpend}) is spent`);
  }
}

/**
 * Reads `--max-spend <amount>` and `--prices <json | file.json>` (per model or group, per million
 * input / cachedInput / output tokens). Either without the other is a usage error, as is a bad
 * amount or price table.
 */
export function readSpendFlags(
  command: string,
  maxSpend: string | undefined,
  prices: string | undefined,
): SpendSettings | undefined {
  if (maxSpend === undefined && prices === undefined) return undefined;
  if (maxSpend === undefined) throw new UsageError(`${command}: --prices is only used with --max-spend <amount>`);
  const amount = Number(maxSpend);
  if (maxSpend.trim() === '' || !Number.isFinite(amount) || amount <= 0) {
    throw new UsageError(`${command}: --max-spend must be a positive amount, got ${JSON.stringify(maxSpend)}`);
  }
  if (prices === undefined) {
    throw new UsageError(
      `${command}: --max-spend needs --prices (JSON, or a JSON file: {"gpt-4o-mini": {"input": 0.15, "output": 0.6}} per million tokens)`,
    );
  }
  let table: unknown;
  try {
    table = JSON.parse(prices.trimStart().startsWith('{') ? prices : readFileSync(prices, 'utf8'));
  } catch (error) {
    throw new UsageError(`${command}: --prices must be JSON or a JSON file: ${(error as Error).message}`);
  }
  try {
    return { maxSpend: amount, prices: resolvePrices(table) as Prices };
  } catch (error) {
    throw new UsageError(`${command}: --prices: ${(error as Error).message}`);
  }
}

/** A day's length times ten thousand: a window as long as the run. */
const RUN_WINDOW_MS = 864_000_000_000;

/**
 * The run's spend budget: before a request starts it reserves its estimated cost (its prompt and
 * the output it may produce, priced), waiting while requests in flight may still come in under
 * their reservation; once nothing is in flight and the next request does not fit, the budget is
 * spent and `spent()` is told. Each request is charged what its usage says it cost (a failure
 * without usage is charged nothing).
 */
export class RunBudget {
  readonly #limiter: Limiter;
  #spent = 0;
  #exhausted = false;

  constructor(
    readonly settings: SpendSettings,
    readonly provider: ProviderName,
    readonly registry: LimiterRegistry,
    readonly mode: 'fast' | 'tiktoken',
    readonly exhausted: () => void,
  ) {
    this.#limiter = new Limiter({ spend: { limit: settings.maxSpend, windowMs: RUN_WINDOW_MS } });
    const check = (): void => {
      const { queued, inFlight } = this.#limiter.stats();
      if (queued > 0 && inFlight === 0) this.#exhaust();
    };
    this.#limiter.on('queued', check);
    this.#limiter.on('released', check);
  }

  /** What the run has spent so far (requests done). */
  get spent(): number {
    return this.#spent;
  }

  /** Whether the budget ran out. */
  get stopped(): boolean {
    return this.#exhausted;
  }

  /** Wraps the batch worker: each request reserves, then is charged, its cost. */
  wrap<C>(
    worker: (request: BatchRequest, context: C) => Promise<SendOutcome>,
    stop: AbortSignal,
    charged?: (amount: number, customId: string) => void,
  ): (request: BatchRequest, context: C) => Promise<SendOutcome> {
    return async (request, context) => {
      const model = typeof request.body.model === 'string' ? request.body.model : undefined;
      const group = model === undefined ? undefined : this.registry.groupOf(this.provider, model);
      const price = priceOf(this.settings.prices, model, group);
      if (price === undefined) {
        throw new Error(
          `No price for model ${JSON.stringify(model ?? '(none)')} in --prices: it cannot be counted against --max-spend`,
        );
      }
      const estimate = await estimateRequestTokens(request.body, { provider: this.provider, mode: this.mode });
      let lease: Lease;
      try {
        lease = await this.#limiter.acquire({ spend: estimatedSpend(price, estimate), signal: stop });
      } catch (error) {
        // A request that could never fit the whole budget: the budget is spent for it.
        if (error instanceof CapacityError) this.#exhaust();
        throw stop.aborted ? stop.reason : error;
      }
      let cost = 0;
      try {
        const outcome = await worker(request, context);
        cost = outcome.usage === undefined ? 0 : actualSpend(price, outcome.usage, this.provider);
        this.#spent += cost;
        charged?.(cost, request.customId);
        return outcome;
      } finally {
        lease.reconcile(0, { spend: cost });
        lease.release();
      }
    };
  }

  close(): Promise<void> {
    return this.#limiter.close();
  }

  #exhaust(): void {
    if (this.#exhausted) return;
    this.#exhausted = true;
    this.exhausted();
  }
}
