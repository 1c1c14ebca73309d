import type { TokenCost } from '../core/vocabulary.js';
import { resolveCost } from '../limiter/limits.js';
import type { AnsweredLease } from '../feedback/answered-lease.js';
import type { Limiter } from '../limiter/limiter.js';
import type { ProviderName } from '../providers/types.js';
import { LimiterRegistry } from '../registry/registry.js';
import { estimatedSpend, PricedLease, type Prices, priceOf } from './prices.js';

/**
 * What one request of the fetch wrapper costs and how it went, across its attempts: the spend to
 * reserve (with `prices`), a lease that reconciles what it really cost, and the `operation` event
 * when it is over (only when someone listens).
 */
export class RequestAccount {
  #startedAt: number | undefined;
  #attempts = 0;
  #limiter: Limiter | undefined;
  #model: string | undefined;
  /** A stream's error before its content, when one came. */
  #error: string | undefined;

  constructor(
    readonly prices: Prices | undefined,
    readonly provider: ProviderName,
    readonly source: Limiter | LimiterRegistry,
    readonly requestedModel: string | undefined,
  ) {}

  /**
   * The spend to reserve for `cost` sent as `model` through `limiter`, from `prices`; undefined
   * without prices. A limiter that keeps a spend budget with no price for the model throws: a
   * request it cannot price would slip past the budget.
   */
  spendFor(model: string | undefined, limiter: Limiter, cost: TokenCost): number | undefined {
    if (this.prices === undefined) return undefined;
    const price = priceOf(this.prices, model, this.#groupOf(model));
    if (price !== undefined) return estimatedSpend(price, resolveCost(cost));
    if (limiter.limits.spend === undefined) return undefined;
    throw new TypeError(
      `No price for model ${JSON.stringify(model ?? '(none)')} in \`prices\`, and its limiter keeps a spend budget: price it (or its group) so its cost is counted`,
    );
  }

  /** An attempt was admitted by `limiter` as `model`: its lease, priced when prices are given. */
  sent(lease: AnsweredLease, limiter: Limiter, model: string | undefined): AnsweredLease {
    this.#attempts++;
    this.#startedAt ??= limiter.clock.now();
    this.#limiter = limiter;
    this.#model = model;
    const price = this.prices === undefined ? undefined : priceOf(this.prices, model, this.#groupOf(model));
    return price === undefined ? lease : new PricedLease(lease, price, this.provider);
  }

  /** A stream failed before its content (`kind`: rate-limit, overloaded, ...). */
  streamFailed(kind: string): void {
    this.#error = kind;
  }

  /**
   * The request is over: the final answer (its headers; a stream's first content) or the error
   * it failed with. Emits `operation` on the limiter of its last attempt, when someone listens.
   */
  settled(outcome: Response | { readonly error: unknown }): void {
    const limiter = this.#limiter;
    if (limiter === undefined || this.#startedAt === undefined || limiter.listenerCount('operation') === 0) return;
    const response = outcome instanceof Response ? outcome : undefined;
    const error =
      response === undefined
        ? errorName((outcome as { error: unknown }).error)
        : response.ok
          ? this.#error
          : String(response.status);
    limiter.emit('operation', {
      durationMs: limiter.clock.now() - this.#startedAt,
      requestedModel: this.requestedModel,
      model: this.#model,
      status: response?.status,
      error,
      streaming: (response?.headers.get('content-type') ?? '').includes('text/event-stream'),
      attempts: this.#attempts,
    });
  }

  #groupOf(model: string | undefined): string | undefined {
    return model !== undefined && this.source instanceof LimiterRegistry
      ? this.source.groupOf(this.provider, model)
      : undefined;
  }
}

/** A failure's name for metrics: never its message (it may echo a key). */
function errorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error === 'object' && error !== null ? 'error' : typeof error;
}
