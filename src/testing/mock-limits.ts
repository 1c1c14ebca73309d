import {
  type PerWindowKind,
  type ResolvedWindow,
  WINDOW_KIND_TABLE,
  PROVIDER_WINDOW_KINDS,
  type ProviderWindowKind,
} from '../core/vocabulary.js';
import type { Meter, MeterCharge } from './meter.js';
import type { MockAlgorithm } from './mock-options.js';
import { SlidingLogMeter } from './sliding-log-meter.js';
import { TokenBucketMeter } from './token-bucket-meter.js';

/** A request's token amounts: prompt tokens and (maximum or actual) output tokens. */
export interface TokenAmounts {
  readonly input: number;
  readonly output: number;
}

/** One meter's state at a moment, for rate-limit headers. */
export interface MeterState {
  readonly kind: ProviderWindowKind;
  readonly limit: number;
  readonly windowMs: number;
  readonly remaining: number;
  readonly resetMs: number;
}

/** Why a request was refused. */
export type Refusal =
  | {
      /** Over a limit now; it would fit after `waitMs`. */
      readonly reason: 'rate-limited';
      readonly kind: ProviderWindowKind;
      readonly limit: number;
      readonly windowMs: number;
      readonly used: number;
      readonly requested: number;
      /** Until every blocking meter admits the request. */
      readonly waitMs: number;
    }
  | {
      /** Larger than a whole limit: it can never fit. */
      readonly reason: 'too-large';
      readonly kind: ProviderWindowKind;
      readonly limit: number;
      readonly windowMs: number;
      readonly requested: number;
    };

/** What an admitted request was charged, to be corrected once its real usage is known. */
export interface Admission {
  readonly charges: readonly {
    readonly kind: ProviderWindowKind;
    readonly meter: Meter;
    readonly charge: MeterCharge;
  }[];
}

/** True for the meters that count requests rather than tokens. */
function countsRequests(kind: ProviderWindowKind): boolean {
  return WINDOW_KIND_TABLE[kind].unit === 'requests';
}

/** Every limit the mock server enforces, judged together so a request takes all or nothing. */
export class MockLimits {
  readonly #meters: { readonly kind: ProviderWindowKind; readonly meter: Meter }[] = [];

  constructor(windows: PerWindowKind<readonly ResolvedWindow[]>, algorithm: MockAlgorithm) {
    for (const kind of PROVIDER_WINDOW_KINDS) {
      for (const w of windows[kind]) {
        const meter =
          algorithm === 'token-bucket'
            ? new TokenBucketMeter(w.limit, w.windowMs)
            : new SlidingLogMeter(w.limit, w.windowMs);
        this.#meters.push({ kind, meter });
      }
    }
  }

  /**
   * Admits a request that arrived at `at` with an up-front token charge, or says why not. With
   * `countRejected`, a refused request still takes a slot in every request meter.
   */
  admit(tokens: TokenAmounts, at: number, countRejected: boolean): Admission | Refusal {
    let blocked: Extract<Refusal, { reason: 'rate-limited' }> | undefined;
    let longest = 0;
    for (const { kind, meter } of this.#meters) {
      const requested = WINDOW_KIND_TABLE[kind].charge(tokens);
      const wait = meter.waitFor(requested, at);
      if (wait === Number.POSITIVE_INFINITY) {
        return { reason: 'too-large', kind, limit: meter.limit, windowMs: meter.windowMs, requested };
      }
      if (wait <= 0) continue;
      longest = Math.max(longest, wait);
      // Requests are reported first, as OpenAI does; among token meters the longest wait.
      const better =
        blocked === undefined || (!countsRequests(blocked.kind) && (countsRequests(kind) || wait > blocked.waitMs));
      if (better) {
        blocked = {
          reason: 'rate-limited',
          kind,
          limit: meter.limit,
          windowMs: meter.windowMs,
          used: Math.ceil(meter.used(at)),
          requested,
          waitMs: wait,
        };
      }
    }
    if (blocked !== undefined) {
      if (countRejected) {
        for (const { kind, meter } of this.#meters) if (countsRequests(kind)) meter.charge(1, at);
      }
      return { ...blocked, waitMs: longest };
    }
    return {
      charges: this.#meters.map(({ kind, meter }) => ({
        kind,
        meter,
        charge: meter.charge(WINDOW_KIND_TABLE[kind].charge(tokens), at),
      })),
    };
  }

  /** Replaces an admission's up-front token charge with the request's real usage. */
  correct(admission: Admission, actual: TokenAmounts): void {
    for (const { kind, meter, charge } of admission.charges) {
      if (!countsRequests(kind)) meter.correct(charge, WINDOW_KIND_TABLE[kind].charge(actual));
    }
  }

  /** Every meter's state at `now`, in configuration order. */
  states(now: number): MeterState[] {
    return this.#meters.map(({ kind, meter }) => ({
      kind,
      limit: meter.limit,
      windowMs: meter.windowMs,
      remaining: Math.max(0, Math.floor(meter.limit - meter.used(now) + 1e-9)),
      resetMs: meter.resetMs(now),
    }));
  }
}

/** True when `result` is a refusal rather than an admission. */
export function isRefusal(result: Admission | Refusal): result is Refusal {
  return 'reason' in result;
}
