import { CandidateWithdrawn } from '../core/errors.js';
import type { Cost, TokenCost } from '../core/vocabulary.js';
import { describeValue } from '../internal/describe.js';
import { abortSignal, finiteNumber, knownKeys, nonNegativeNumber, plainObject } from '../internal/validate.js';
import type { Lease } from './lease.js';
import { Limiter } from './limiter.js';
import { resolveCost } from './limits.js';
import { earliestStart } from './start-estimate.js';

/** One candidate of `acquireAny`: a limiter, or a limiter with the cost of the request on it. */
export type AcquireAnyCandidate =
  | Limiter
  | { readonly limiter: Limiter; readonly tokens?: TokenCost | undefined; readonly spend?: number | undefined };

/** Options of `acquireAny(candidates, options)`. */
export interface AcquireAnyOptions {
  readonly signal?: AbortSignal | undefined;
  /** Give up after this long on every candidate (`AcquireTimeoutError`, the first candidate's). */
  readonly timeoutMs?: number | undefined;
  readonly priority?: number | undefined;
  /**
   * When a less preferred candidate admits first, wait up to this long for a more preferred one
   * that could admit within that time (the less preferred lease is held meanwhile, then given
   * back unused). Candidates share a clock; the first candidate's times this wait. @default 0
   */
  readonly preferFirstMs?: number | undefined;
}

interface Resolved {
  readonly limiter: Limiter;
  readonly cost: Cost;
  readonly tokens: TokenCost | undefined;
  readonly spend: number | undefined;
}

const KEYS = ['signal', 'timeoutMs', 'priority', 'preferFirstMs'];

/** Reads the candidates and options, throwing at once on anything invalid. */
function resolveCandidates(candidates: unknown, options: AcquireAnyOptions): Resolved[] {
  if (!Array.isArray(candidates) || candidates.length === 0) {
    throw new TypeError(
      `Expected \`candidates\` to be a non-empty array of limiters, got ${describeValue(candidates)}`,
    );
  }
  plainObject('options', options);
  knownKeys('acquireAny options', options, KEYS);
  if (options.signal !== undefined) abortSignal('signal', options.signal);
  if (options.timeoutMs !== undefined) nonNegativeNumber('timeoutMs', options.timeoutMs);
  if (options.priority !== undefined) finiteNumber('priority', options.priority);
  if (options.preferFirstMs !== undefined) nonNegativeNumber('preferFirstMs', options.preferFirstMs);
  return candidates.map((candidate: unknown, i) => {
    if (candidate instanceof Limiter) {
      return { limiter: candidate, cost: resolveCost(undefined), tokens: undefined, spend: undefined };
    }
    const c = candidate as { limiter?: unknown; tokens?: TokenCost; spend?: number } | null;
    if (typeof c !== 'object' || c === null || !(c.limiter instanceof Limiter)) {
      throw new TypeError(
        `Expected \`candidates[${i}]\` to be a Limiter or { limiter, tokens?, spend? }, got ${describeValue(candidate)}`,
      );
    }
    knownKeys(`candidates[${i}]`, c, ['limiter', 'tokens', 'spend']);
    return { limiter: c.limiter, cost: resolveCost(c.tokens, 'tokens', c.spend), tokens: c.tokens, spend: c.spend };
  });
}

/**
 * A lease from whichever candidate admits first, candidates in order of preference (a model, then
 * its fallbacks; one provider, then another). The caller waits in every candidate's queue at once
 * and is withdrawn from the others the moment one admits: never two leases, and nothing charged to
 * the others (a lease another candidate granted meanwhile is cancelled: never sent). With
 * `preferFirstMs`, a more preferred candidate that could admit within that time is waited for.
 * `lease.limiter` says which one admitted. Rejects when every candidate has (the first one's error).
 *
 * ```ts
 * await using lease = await acquireAny([gpt4o, { limiter: claude, tokens: 1_500 }], { timeoutMs: 30_000 });
 * ```
 */
export function acquireAny(
  candidates: readonly AcquireAnyCandidate[],
  options: AcquireAnyOptions = {},
): Promise<Lease> {
  let list: Resolved[];
  try {
    list = resolveCandidates(candidates, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const { signal, timeoutMs, priority } = options;
  const preferFirstMs = options.preferFirstMs ?? 0;
  if (signal?.aborted) return Promise.reject(signal.reason);
  // At once where a store answers at once: the most preferred that admits now, with no wait at all.
  for (let i = 0; i < list.length; i++) {
    const { limiter, tokens, spend } = list[i] as Resolved;
    if (!limiter.capabilities.synchronous || limiter.closed) break;
    let lease: Lease | undefined;
    try {
      lease = limiter.tryAcquire({
        priority,
        ...(tokens !== undefined && { tokens }),
        ...(spend !== undefined && { spend }),
      });
    } catch {
      // A cost this candidate can never fit: its acquire below says so, the others may admit.
      break;
    }
    if (lease !== undefined) return Promise.resolve(lease);
    if (preferFirstMs > 0) break;
  }
  return new Promise<Lease>((resolve, reject) =>
    new AnyRace(list, resolve, reject, preferFirstMs, signal, timeoutMs, priority).start(),
  );
}

/** One `acquireAny` that waits: an acquire per candidate, the first lease kept, the rest given back. */
class AnyRace {
  readonly #leases: (Lease | undefined)[];
  readonly #errors: unknown[];
  readonly #controllers: AbortController[];
  #settled = 0;
  #done = false;
  /** Until when a less preferred lease is held for a more preferred candidate; set at the first hold. */
  #holdUntil: number | undefined = undefined;
  #holdTimer: unknown = undefined;
  #holdOver = false;
  /** The caller gave up: every candidate withdraws, and a lease held for a better one goes back. */
  readonly #onAbort = (): void => {
    if (this.#done) return;
    this.#done = true;
    this.#cleanUp();
    const reason = this.signal?.reason;
    for (const lease of this.#leases) lease?.cancel();
    for (const c of this.#controllers) c.abort(reason);
    this.reject(reason);
  };

  constructor(
    readonly list: readonly Resolved[],
    readonly resolve: (lease: Lease) => void,
    readonly reject: (error: unknown) => void,
    readonly preferFirstMs: number,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number | undefined,
    readonly priority: number | undefined,
  ) {
    this.#leases = list.map(() => undefined);
    this.#errors = list.map(() => undefined);
    this.#controllers = list.map(() => new AbortController());
  }

  start(): void {
    this.signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.list.forEach(({ limiter, tokens, spend }, i) => {
      const controller = this.#controllers[i] as AbortController;
      limiter
        .acquire({
          signal: controller.signal,
          ...(tokens === undefined ? {} : { tokens }),
          ...(spend === undefined ? {} : { spend }),
          ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }),
          ...(this.priority === undefined ? {} : { priority: this.priority }),
        })
        .then(
          (lease) => {
            // Another candidate won meanwhile: this request is never sent.
            if (this.#done) lease.cancel();
            else this.#leases[i] = lease;
            this.#answered();
          },
          (error: unknown) => {
            this.#errors[i] = error;
            this.#answered();
          },
        );
    });
  }

  #answered(): void {
    this.#settled++;
    this.#decide();
  }

  #decide(): void {
    if (this.#done) return;
    const best = this.#leases.findIndex((l) => l !== undefined);
    if (best < 0) {
      if (this.#settled === this.list.length) this.#fail();
      return;
    }
    // A lease of a less preferred candidate than the best held is never taken: back at once.
    for (let i = best + 1; i < this.#leases.length; i++) {
      this.#leases[i]?.cancel();
      this.#leases[i] = undefined;
    }
    if (this.#worthWaiting(best)) return;
    this.#finish(best);
  }

  /** A more preferred candidate, still waiting, could admit before the hold ends: hold `best`. */
  #worthWaiting(best: number): boolean {
    if (this.preferFirstMs === 0 || best === 0) return false;
    const clock = (this.list[0] as Resolved).limiter.clock;
    const now = clock.now();
    if (this.#holdUntil === undefined) {
      this.#holdUntil = now + this.preferFirstMs;
      this.#holdTimer = clock.setTimeout(() => {
        this.#holdTimer = undefined;
        this.#holdOver = true;
        this.#decide();
      }, this.preferFirstMs);
    }
    const until = this.#holdUntil;
    if (this.#holdOver || now >= until) return false;
    for (let j = 0; j < best; j++) {
      if (this.#errors[j] !== undefined) continue;
      const { limiter, cost } = this.list[j] as Resolved;
      const at = earliestStart(limiter, cost);
      if (at === undefined || at <= until) return true;
    }
    return false;
  }

  #finish(winner: number): void {
    this.#done = true;
    this.#cleanUp();
    this.#leases.forEach((lease, i) => {
      if (i === winner) return;
      if (lease !== undefined) lease.cancel();
      else if (this.#errors[i] === undefined) (this.#controllers[i] as AbortController).abort(new CandidateWithdrawn());
    });
    this.resolve(this.#leases[winner] as Lease);
  }

  #fail(): void {
    this.#done = true;
    this.#cleanUp();
    this.reject(this.#errors[0]);
  }

  #cleanUp(): void {
    this.signal?.removeEventListener('abort', this.#onAbort);
    if (this.#holdTimer !== undefined) (this.list[0] as Resolved).limiter.clock.clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
  }
}
