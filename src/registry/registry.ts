import type { Diagnosis } from '../core/diagnosis.js';
import type { Clock } from '../internal/clock.js';
import { describeValue } from '../internal/describe.js';
import { defaultModelGroup } from '../providers/model-group.js';
import { callable, knownKeys, plainObject } from '../internal/validate.js';
import { Limiter } from '../limiter/limiter.js';
import type { LimitOptions } from '../core/vocabulary.js';
import type { LimiterOptions, LimiterStats } from '../limiter/options.js';
import type { LimiterEvents } from '../core/events.js';

/** Limits for one provider: a default and, optionally, per-model limits. */
export interface ProviderLimits {
  /**
   * Limits for models not listed in `models` (each model still gets its own limiter: providers
   * limit per model). `'auto'` learns them from the response headers. @default 'auto'
   */
  readonly default?: LimitOptions | 'auto' | undefined;
  /**
   * Limits per model group, e.g. `{ 'gpt-4o': { requests: ..., tokens: ... } }`: a key applies to
   * every model of its group (`gpt-4o-2024-08-06` too).
   */
  readonly models?: Readonly<Record<string, LimitOptions | 'auto'>> | undefined;
  /**
   * The limiter a model shares, by name: models of one group share one limiter, as the provider
   * pools their limits (e.g. `(m) => m.startsWith('claude-sonnet-4') ? 'claude-sonnet-4' : m`).
   * @default a dated snapshot or `-latest` alias shares its base model's (`defaultModelGroup`)
   */
  readonly group?: ((model: string) => string) | undefined;
}

/** Identifies one limiter of a registry. */
export interface LimiterKey {
  readonly provider: string;
  /** The model group the limiter serves (see `ProviderLimits.group`), or undefined for requests that name no model. */
  readonly model: string | undefined;
}

/** A listener `registry.on()` attached to every limiter. */
interface Subscription {
  readonly name: keyof LimiterEvents;
  readonly listener: (event: unknown, key: LimiterKey) => void;
  /** What it attached to each limiter, for `off`. */
  readonly forwards: Map<Limiter, (event: unknown) => void>;
}

type AnyListener = (name: string, fn: (event: unknown) => void) => Limiter;

/** Options of `new LimiterRegistry()`. */
export interface LimiterRegistryOptions {
  /** Limits per provider name (`openai`, `anthropic`, ...). Providers not listed learn theirs. */
  readonly providers?: Readonly<Record<string, ProviderLimits>> | undefined;
  /**
   * Makes each limiter, given the options the registry chose: e.g. to give it a Redis store keyed
   * by provider and model. @default `(options) => new Limiter(options)`
   */
  readonly create?: ((options: LimiterOptions, key: LimiterKey) => Limiter) | undefined;
  /** A clock for every limiter the registry makes (tests). */
  readonly clock?: Clock | undefined;
}

/**
 * One limiter per provider and per model, created on first use with the model's limits, else the
 * provider's default, else learned from the headers (`limits: 'auto'`). The same key always gives
 * the same instance.
 *
 * ```ts
 * const registry = new LimiterRegistry({
 *   providers: { openai: { models: { 'gpt-4o': { requests: { limit: 500, windowMs: 60_000 } } } } },
 * });
 * registry.get('openai', 'gpt-4o') === registry.get('openai', 'gpt-4o'); // true
 * ```
 */
export class LimiterRegistry {
  readonly #providers: Readonly<Record<string, ProviderLimits>>;
  readonly #create: (options: LimiterOptions, key: LimiterKey) => Limiter;
  readonly #clock: Clock | undefined;
  readonly #limiters = new Map<string, { key: LimiterKey; limiter: Limiter }>();
  readonly #subscriptions: Subscription[] = [];
  /** `eachLimiter` callbacks, told of every limiter created. */
  readonly #watchers = new Set<(limiter: Limiter, key: LimiterKey) => void>();

  constructor(options: LimiterRegistryOptions = {}) {
    plainObject('options', options);
    knownKeys('LimiterRegistry options', options, ['providers', 'create', 'clock']);
    const providers = options.providers === undefined ? {} : plainObject('providers', options.providers);
    for (const [name, limits] of Object.entries(providers)) {
      const p = plainObject(`providers.${name}`, limits);
      knownKeys(`\`providers.${name}\``, p, ['default', 'models', 'group']);
      if (p.group !== undefined) callable(`providers.${name}.group`, p.group);
      if (p.models !== undefined) plainObject(`providers.${name}.models`, p.models);
    }
    this.#providers = providers as Record<string, ProviderLimits>;
    this.#create = options.create === undefined ? (o) => new Limiter(o) : callable('create', options.create);
    this.#clock = options.clock;
    // Fail now, not on the first request, when configured limits are invalid.
    for (const p of Object.values(this.#providers)) {
      for (const limits of [p.default, ...Object.values(p.models ?? {})]) {
        if (limits !== undefined && limits !== 'auto') void new Limiter({ ...limits, ...this.#clockOption() }).close();
      }
    }
  }

  /**
   * The limiter for this provider and model (its group: a snapshot shares its base model's),
   * created on first use.
   */
  get(provider: string, model?: string): Limiter {
    if (typeof provider !== 'string' || provider === '') {
      throw new TypeError(`Expected \`provider\` to be a non-empty string, got ${JSON.stringify(provider)}`);
    }
    if (model !== undefined) model = this.groupOf(provider, model);
    const id = `${provider}\u0000${model ?? ''}`;
    const found = this.#limiters.get(id);
    if (found !== undefined) return found.limiter;
    const key: LimiterKey = { provider, model };
    const limiter = this.#create(this.#optionsFor(key), key);
    if (!(limiter instanceof Limiter)) throw new TypeError('Expected `create` to return a Limiter');
    this.#limiters.set(id, { key, limiter });
    for (const subscription of this.#subscriptions) this.#attach(subscription, key, limiter);
    for (const watcher of this.#watchers) watcher(limiter, key);
    return limiter;
  }

  /** The model group `model` of `provider` belongs to: the name of the limiter it shares. */
  groupOf(provider: string, model: string): string {
    const group = this.#providers[provider]?.group;
    if (group === undefined) return defaultModelGroup(model);
    const name: unknown = group(model);
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(
        `Expected \`providers.${provider}.group\` to return a non-empty string for ${JSON.stringify(model)}, got ${describeValue(name)}`,
      );
    }
    return name;
  }

  /** Every limiter created so far, with its key. */
  entries(): Array<[LimiterKey, Limiter]> {
    return [...this.#limiters.values()].map(({ key, limiter }) => [key, limiter]);
  }

  /** Each limiter's `stats()`, with the provider and the model group it serves. */
  stats(): Array<LimiterKey & { readonly stats: LimiterStats }> {
    return [...this.#limiters.values()].map(({ key, limiter }) => ({ ...key, stats: limiter.stats() }));
  }

  /**
   * Calls `fn` with every limiter of the registry and its key, those created later too (as they
   * are created). Returns a function that stops calling it for new ones.
   */
  eachLimiter(fn: (limiter: Limiter, key: LimiterKey) => void): () => void {
    callable('fn', fn);
    this.#watchers.add(fn);
    for (const { key, limiter } of this.#limiters.values()) fn(limiter, key);
    return () => this.#watchers.delete(fn);
  }

  /** Each limiter's `diagnose()`, with the provider and the model group it serves. */
  diagnose(): Array<LimiterKey & { readonly diagnosis: Diagnosis }> {
    return [...this.#limiters.values()].map(({ key, limiter }) => ({ ...key, diagnosis: limiter.diagnose() }));
  }

  /**
   * Hears `name` from every limiter of the registry, those created later included, with the
   * provider and model group of the limiter that emitted it.
   */
  on<E extends keyof LimiterEvents>(
    name: E,
    listener: (event: Parameters<LimiterEvents[E]>[0], key: LimiterKey) => void,
  ): this {
    callable('listener', listener);
    const subscription: Subscription = { name, listener: listener as Subscription['listener'], forwards: new Map() };
    this.#subscriptions.push(subscription);
    for (const { key, limiter } of this.#limiters.values()) this.#attach(subscription, key, limiter);
    return this;
  }

  /** Stops `listener` hearing `name` from the registry's limiters (as given to `on`). */
  off<E extends keyof LimiterEvents>(
    name: E,
    listener: (event: Parameters<LimiterEvents[E]>[0], key: LimiterKey) => void,
  ): this {
    const i = this.#subscriptions.findIndex((s) => s.name === name && s.listener === listener);
    if (i < 0) return this;
    const [subscription] = this.#subscriptions.splice(i, 1) as [Subscription];
    for (const [limiter, forward] of subscription.forwards)
      (limiter.off as AnyListener).call(limiter, subscription.name, forward);
    return this;
  }

  #attach(subscription: Subscription, key: LimiterKey, limiter: Limiter): void {
    const forward = (event: unknown): void => subscription.listener(event, key);
    subscription.forwards.set(limiter, forward);
    (limiter.on as AnyListener).call(limiter, subscription.name, forward);
  }

  /** Closes every limiter (their waiters reject with `LimiterClosedError`). */
  async close(): Promise<void> {
    await Promise.all([...this.#limiters.values()].map(({ limiter }) => limiter.close()));
  }

  #optionsFor(key: LimiterKey): LimiterOptions {
    const p = this.#providers[key.provider];
    const limits =
      (key.model !== undefined ? this.#modelLimits(key.provider, key.model) : undefined) ?? p?.default ?? 'auto';
    return limits === 'auto' ? { limits: 'auto', ...this.#clockOption() } : { ...limits, ...this.#clockOption() };
  }

  /** The `models` entry for a group: its own key, else a key of the same group (a dated name). */
  #modelLimits(provider: string, group: string): LimitOptions | 'auto' | undefined {
    const models = this.#providers[provider]?.models;
    if (models === undefined) return undefined;
    if (Object.hasOwn(models, group)) return models[group];
    for (const [name, limits] of Object.entries(models)) if (this.groupOf(provider, name) === group) return limits;
    return undefined;
  }

  #clockOption(): { clock?: Clock } {
    return this.#clock === undefined ? {} : { clock: this.#clock };
  }
}
