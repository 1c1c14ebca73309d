import type { Clock } from '../internal/clock.js';
import { afterDelay, type Delayed } from './fixed-delay.js';
import { parseRateLimitHeaders } from '../providers/headers.js';
import type { ProviderName, RateLimitSnapshot } from '../providers/types.js';
import type { AnsweredLease } from './answered-lease.js';
import { AttemptTimeoutError } from '../core/attempt-timeout-error.js';
import { classifyFailure } from './classify.js';
import type { RateLimitAnswer } from './rate-limit-policy.js';
import { readErrorBody } from './response-body.js';
import { neverLeft } from './send-failure.js';
import { type SentWatch, watchSent } from './sent-time.js';

/** The limiter as the provider's answer reaches it. A `Limiter` is one. */
export interface AnswerLimiter {
  readonly clock: Clock;
  observe(snapshot: RateLimitSnapshot, options: { since: number; refused: boolean }): void;
  rateLimited(answer: RateLimitAnswer): number;
}

/** How one limited fetch counts a request and reads its answer. */
export interface AnswerPolicy {
  readonly provider: ProviderName;
  /** Learn from the rate-limit headers of every answer. */
  readonly sync: boolean;
  /** The pause after a 429 naming no delay. */
  readonly rateLimitPauseMs: number;
  /** When a request counts from: when it left (`'sent'`), its response, or its admission. */
  readonly countFrom: 'sent' | 'response' | 'admission';
  /** `'sent'`: how much after it left it is taken to arrive. */
  readonly sentMarginMs: number;
  /** `'sent'`, when the fetch did not report the send: how long after admission. */
  readonly sentFallbackMs: number;
  /** `'response'`: the latest moment after admission a request is counted from. */
  readonly maxCountDelayMs: number;
}

/** A fetch's arguments. */
export type FetchArgs = [input: string | URL | Request, init: RequestInit | undefined];

/**
 * One request on its way to the provider, and the provider's answer to it. It counts from when it
 * left, as the provider counts it on arrival: the moment its headers were written (Node's fetch
 * reports it), then `sentMarginMs` later once it has left, or `sentFallbackMs` after admission when
 * the send was not reported; never later than now.
 */
export class SentRequest {
  /** The fetch arguments to send: tagged, with `'sent'`, so the send can be recognised. */
  readonly args: FetchArgs;
  readonly #watch: SentWatch | undefined;
  #sentAt: number | undefined;
  /** Moves the count to `sentMarginMs` after the send when no answer came by then. */
  #margin: Delayed | undefined;

  constructor(
    readonly lease: AnsweredLease,
    readonly limiter: AnswerLimiter,
    readonly policy: AnswerPolicy,
    args: FetchArgs,
  ) {
    const watch =
      policy.countFrom === 'sent'
        ? watchSent(args, () => {
            this.#sentAt = limiter.clock.now();
            lease.restamp(this.#sentAt);
            // An answer slower than the window would otherwise find its entry expired at the send
            // plus a window, before the margin (added at the answer) had moved it.
            if (policy.sentMarginMs > 0) {
              this.#margin = afterDelay(limiter.clock, policy.sentMarginMs, () => {
                this.#margin = undefined;
                this.#countSent();
              });
            }
          })
        : undefined;
    this.args = watch?.args ?? args;
    this.#watch = watch;
  }

  /** The fetch failed: given back if the request never left, else it stays counted and charged. */
  failed(error: unknown): void {
    this.#watch?.settle();
    this.#stopMargin();
    // Refused at connect: never sent. Anything else (an abort or timeout after sending, a reset)
    // may have reached the provider, which charges what it admitted (OpenAI: the estimate, up
    // front): the slot and the reservation stay.
    if (neverLeft(error)) this.lease.cancel();
    else {
      this.#countSent();
      // An attempt that timed out is an overload signal (adaptive concurrency hears it).
      if (error instanceof AttemptTimeoutError) this.lease.overloaded();
      this.lease.release();
    }
  }

  /**
   * The response's headers arrived: counted from its arrival, the rate-limit headers learned, and
   * a failure settled (a 429 given back and everyone paused; any other error keeps its charge:
   * failed requests count toward the provider's limits). Resolves once that is done; a success is
   * left for its body to reconcile.
   */
  async answered(response: Response): Promise<void> {
    this.#watch?.settle();
    this.#stopMargin();
    const { lease, limiter, policy } = this;
    if (policy.countFrom === 'response') {
      lease.restamp(Math.min(limiter.clock.now(), lease.acquiredAt + policy.maxCountDelayMs));
    }
    this.#countSent();
    if (policy.sync) {
      const snapshot = parseRateLimitHeaders(response.headers, policy.provider);
      limiter.observe(snapshot, { since: lease.acquiredAt, refused: response.status === 429 });
    }
    if (response.ok) return;
    if (response.status !== 429) {
      // It reached the provider, which may count it (OpenAI counts failed requests toward TPM):
      // its slot and reservation stay. 503 and 529 are overload signals.
      if (classifyFailure(response).reason === 'overloaded') lease.overloaded();
      lease.release();
      return;
    }
    // Refused at the door: the provider did not count it. (One that does shows it in the
    // headers, and `observe` above has already counted the difference.)
    lease.cancel();
    const failure = classifyFailure(response, { body: await readErrorBody(response) });
    if (failure.retryable) {
      limiter.rateLimited({
        retryAfterMs: failure.retryAfterMs,
        defaultPauseMs: policy.rateLimitPauseMs,
        admittedAt: lease.acquiredAt,
      });
    }
  }

  #stopMargin(): void {
    this.#margin?.cancel();
    this.#margin = undefined;
  }

  #countSent(): void {
    if (this.policy.countFrom !== 'sent') return;
    const { lease, limiter, policy } = this;
    const at =
      this.#sentAt === undefined ? lease.acquiredAt + policy.sentFallbackMs : this.#sentAt + policy.sentMarginMs;
    lease.restamp(Math.min(limiter.clock.now(), at));
  }
}
