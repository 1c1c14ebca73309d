import type { Cost, TokenCost } from '../core/vocabulary.js';
import { describeValue } from '../internal/describe.js';
import { knownKeys, nonNegativeNumber, plainObject } from '../internal/validate.js';
import type { AnsweredLease } from '../feedback/answered-lease.js';
import type { ProviderName } from '../providers/types.js';

/** What a model costs, per million tokens, in the currency of the limiter's `spend` budgets. */
export interface ModelPrice {
  /** Per million input tokens. */
  readonly input: number;
  /** Per million input tokens read from a prompt cache. @default input */
  readonly cachedInput?: number | undefined;
  /** Per million output tokens (reasoning included). */
  readonly output: number;
}

/** Prices per model, or per model group (a registry's group, such as `gpt-4o` for its snapshots). */
export type Prices = Readonly<Record<string, ModelPrice>>;

/** Checks a price table at once, naming the entry and field of anything wrong. */
export function resolvePrices(value: unknown): Prices | undefined {
  if (value === undefined) return undefined;
  const table = plainObject('prices', value);
  const out: Record<string, ModelPrice> = {};
  for (const [model, price] of Object.entries(table)) {
    if (model.trim() === '') {
      throw new TypeError(`Expected every key of \`prices\` to name a model, got ${describeValue(model)}`);
    }
    const name = `prices[${JSON.stringify(model)}]`;
    const p = plainObject(name, price);
    knownKeys(`\`${name}\``, p, ['input', 'cachedInput', 'output']);
    out[model] = {
      input: nonNegativeNumber(`${name}.input`, p.input),
      cachedInput: p.cachedInput === undefined ? undefined : nonNegativeNumber(`${name}.cachedInput`, p.cachedInput),
      output: nonNegativeNumber(`${name}.output`, p.output),
    };
  }
  if (Object.keys(out).length === 0) throw new TypeError('Expected `prices` to price at least one model, got `{}`');
  return out;
}

/** The price of `model`: its own entry, else its group's. */
export function priceOf(prices: Prices, model: string | undefined, group: string | undefined): ModelPrice | undefined {
  if (model !== undefined && Object.hasOwn(prices, model)) return prices[model];
  if (group !== undefined && Object.hasOwn(prices, group)) return prices[group];
  return undefined;
}

const PER = 1_000_000;

/** What a request of `cost` is expected to cost: its input and the output reserved. */
export function estimatedSpend(price: ModelPrice, cost: Cost): number {
  return (cost.input * price.input + cost.output * price.output) / PER;
}

/**
 * What a request really cost, from the usage its response reported. Cache reads are priced at
 * `cachedInput`: for Anthropic they are beside `input` (which holds the cache writes, priced as
 * input), for the others part of it.
 */
export function actualSpend(
  price: ModelPrice,
  usage: { readonly input: number; readonly output: number; readonly cachedInput?: number | undefined },
  provider: ProviderName,
): number {
  const cached = usage.cachedInput ?? 0;
  const uncached = provider === 'anthropic' ? usage.input : Math.max(0, usage.input - cached);
  return (uncached * price.input + cached * (price.cachedInput ?? price.input) + usage.output * price.output) / PER;
}

type Usage = { readonly cachedInput?: number | undefined };

/** A lease whose reconcile also charges what the request really cost, priced from its usage. */
export class PricedLease implements AnsweredLease {
  constructor(
    readonly lease: AnsweredLease,
    readonly price: ModelPrice,
    readonly provider: ProviderName,
  ) {}

  get acquiredAt(): number {
    return this.lease.acquiredAt;
  }

  restamp(at?: number): void {
    this.lease.restamp(at);
  }

  reconcile(actual: TokenCost, options?: { readonly spend?: number }): void {
    // A response's usage (`usageFromResponse`) may carry its cache reads.
    const usage =
      typeof actual === 'number'
        ? { input: actual, output: 0 }
        : { input: actual.input ?? 0, output: actual.output ?? 0, cachedInput: (actual as Usage).cachedInput };
    this.lease.reconcile(actual, { spend: options?.spend ?? actualSpend(this.price, usage, this.provider) });
  }

  release(): void {
    this.lease.release();
  }

  cancel(): void {
    this.lease.cancel();
  }

  overloaded(): void {
    this.lease.overloaded();
  }
}
