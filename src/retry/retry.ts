import { LimiterClosedError, RetryError, type RetryStopReason } from '../core/errors.js';
import type { RetryEvent } from '../core/events.js';
import type { TimerHandle } from '../internal/clock.js';
import { redactString } from '../internal/redact.js';
import { callable } from '../internal/validate.js';
import { AttemptTimeoutError } from '../core/attempt-timeout-error.js';
import { fullJitterDelay } from './backoff.js';
import { classifyFailure, responseOf } from '../feedback/classify.js';
import { keepSafely } from './kept-failure.js';
import { resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions } from './options.js';
import type { RetryCostKind } from './retry-budget.js';
import { sleep } from './sleep.js';
import type { FailureClassification, RetryContext, RetryLease } from './types.js';

type AttemptOutcome<T> =
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'error'; readonly error: unknown; readonly timedOut: boolean }
  // The call's signal aborted (the caller's signal or the deadline) while the attempt ran.
  | { readonly kind: 'stopped' };

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: RetryError };

const MAX_SUMMARY = 300;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A one-line, redacted description of a failure for a `RetryError` message. */
function summarize(error: unknown): string {
  let text: string;
  if (error instanceof Response) {
    text = `HTTP ${error.status}${error.statusText === '' ? '' : ` ${error.statusText}`}`;
  } else if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  ) {
    const { name, message } = error as { name?: unknown; message: string };
    // openai-node's errors keep `name` "Error"; their class names (RateLimitError) say more.
    const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
    const label =
      typeof name === 'string' && name !== 'Error' ? name : typeof ctor === 'string' && ctor !== '' ? ctor : 'Error';
    text = `${label}: ${message}`;
  } else {
    try {
      text = String(error);
    } catch {
      text = typeof error;
    }
  }
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return redactString(oneLine.length > MAX_SUMMARY ? `${oneLine.slice(0, MAX_SUMMARY)}…` : oneLine);
}

function costKind(classification: FailureClassification): RetryCostKind {
  return classification.reason === 'timeout' || classification.reason === 'connection' ? 'timeout' : 'retry';
}

/** Runs one call of `retry`: the state every attempt shares. */
class RetryRun<T, L extends RetryLease> {
  readonly #fn: (context: RetryContext<L>) => T | Promise<T>;
  readonly #o: ResolvedRetryOptions<T, L>;
  readonly #errors: unknown[] = [];
  /** Aborted by the caller's signal or by the deadline; every wait and attempt listens to it. */
  readonly #call = new AbortController();
  readonly #startedAt: number;
  #deadlineAt: number | undefined;
  #attempt = 0;
  /** What the budget charged for the retry now running, given back if it succeeds. */
  #lastRetryCost = 0;

  constructor(fn: (context: RetryContext<L>) => T | Promise<T>, o: ResolvedRetryOptions<T, L>) {
    this.#fn = fn;
    this.#o = o;
    this.#startedAt = o.clock.now();
  }

  async run(): Promise<Settled<T>> {
    const { signal, clock, deadlineMs } = this.#o;
    const onCallerAbort = (): void => this.#call.abort(signal?.reason);
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    // A closed limiter admits nobody again: a wait between attempts ends now, not at its end.
    const onClosed = (): void => this.#call.abort(new LimiterClosedError());
    this.#o.limiter?.once?.('closed', onClosed);
    let deadlineTimer: TimerHandle | undefined;
    if (deadlineMs !== undefined) {
      this.#deadlineAt = this.#startedAt + deadlineMs;
      deadlineTimer = clock.setTimeout(() => {
        this.#call.abort(new AttemptTimeoutError(Math.max(this.#attempt, 1), 'deadlineMs', deadlineMs));
      }, deadlineMs);
    }
    try {
      return await this.#loop();
    } finally {
      // Every path ends here, so no listener or timer outlives the call.
      signal?.removeEventListener('abort', onCallerAbort);
      this.#o.limiter?.off?.('closed', onClosed);
      if (deadlineTimer !== undefined) clock.clearTimeout(deadlineTimer);
    }
  }

  async #loop(): Promise<Settled<T>> {
    const o = this.#o;
    for (let attempt = 1; ; attempt++) {
      this.#attempt = attempt;
      let lease: L | undefined;
      if (o.limiter !== undefined) {
        try {
          lease = await o.limiter.acquire({ ...o.acquire, signal: this.#call.signal });
        } catch (error) {
          if (this.#call.signal.aborted) return this.#stopped(attempt - 1, 'while waiting for a lease');
          // The limiter's own errors (QueueFullError, CapacityError, LimiterClosedError, ...) are
          // typed already, and another attempt would meet the same limiter.
          throw error;
        }
      }

      let failure: unknown;
      let classification: FailureClassification;
      let safeError: unknown;
      try {
        const outcome = await this.#runAttempt(attempt, lease);
        if (outcome.kind === 'stopped') {
          this.#errors.push(this.#call.signal.reason);
          return this.#stopped(attempt, `during attempt ${attempt}`);
        }
        if (outcome.kind === 'value' && !(outcome.value instanceof Response && !outcome.value.ok)) {
          o.budget?.recordSuccess(this.#lastRetryCost);
          return { ok: true, value: outcome.value };
        }
        failure = outcome.kind === 'value' ? outcome.value : outcome.error;
        // What is kept (errors, cause, events) is a redacted copy, response bodies included; the
        // body read for it is the one the classification needs.
        const kept = await keepSafely(failure, { clock: o.clock, signal: this.#call.signal });
        safeError = kept.safe;
        classification =
          outcome.kind === 'error' && outcome.timedOut
            ? { retryable: true, reason: 'timeout' }
            : classifyFailure(failure, kept.body === undefined ? {} : { body: kept.body });
        // Overload signals, for adaptive concurrency: before the release, which is then no success.
        if (classification.reason === 'overloaded' || classification.reason === 'timeout') lease?.overloaded?.();
      } finally {
        // An attempt that ran counts against the limits, whatever its outcome: release, not cancel.
        lease?.release();
      }

      this.#errors.push(safeError);
      if (this.#call.signal.aborted) return this.#stopped(attempt, `during attempt ${attempt}`);

      const decided = this.#decide(failure, attempt, classification);
      const named = classification.retryAfterMs;
      if (o.limiter !== undefined && classification.status === 429 && classification.reason === 'rate-limited') {
        // A 429 is about everyone's traffic: every caller of the limiter waits, not only this one.
        o.limiter.rateLimited({ retryAfterMs: named, maxPauseMs: o.maxRetryAfterMs, admittedAt: lease?.acquiredAt });
      }

      const last = `the last failed with ${classification.reason}: ${summarize(safeError)}`;
      if (!decided.retry) {
        const why = decided.overridden ? 'shouldRetry returned false' : classification.reason;
        return this.#fail(
          'not-retryable',
          `Attempt ${attempt} failed and is not retried (${why}): ${summarize(safeError)}`,
          classification,
        );
      }
      if (attempt >= o.maxAttempts) {
        return this.#fail(
          'exhausted',
          `Gave up after ${plural(attempt, 'attempt')} (maxAttempts ${o.maxAttempts}); ${last}`,
          classification,
        );
      }
      if (named !== undefined && named > o.maxRetryAfterMs) {
        return this.#fail(
          'retry-after-too-long',
          `The server asked to wait ${named} ms before retrying, more than maxRetryAfterMs ${o.maxRetryAfterMs}; ${last}`,
          classification,
          named,
        );
      }
      const delayMs = named ?? fullJitterDelay(attempt, o);
      const now = o.clock.now();
      if (this.#deadlineAt !== undefined && now + delayMs >= this.#deadlineAt) {
        return this.#fail(
          'deadline',
          `Stopped after ${plural(attempt, 'attempt')}: a retry in ${delayMs} ms would start at or after ` +
            `deadlineMs ${o.deadlineMs} (${Math.round(now - this.#startedAt)} ms elapsed); ${last}`,
          classification,
        );
      }
      if (o.budget !== undefined) {
        const kind = costKind(classification);
        if (!o.budget.tryWithdraw(kind)) {
          return this.#fail(
            'budget',
            `Stopped after ${plural(attempt, 'attempt')}: the shared retry budget is exhausted ` +
              `(${o.budget.available} left, a retry costs ${o.budget.costOf(kind)}); ${last}`,
            classification,
          );
        }
        this.#lastRetryCost = o.budget.costOf(kind);
      }

      const event: RetryEvent = { attempt, delayMs, error: safeError, reason: classification.reason };
      await o.onRetry?.(event);
      o.limiter?.retrying(event);
      discardBody(failure);
      try {
        await sleep(delayMs, o.clock, this.#call.signal);
      } catch {
        return this.#stopped(attempt, 'while waiting to retry');
      }
    }
  }

  /** Runs `fn` once, settling at its result, at the attempt timeout, or when the call stops. */
  #runAttempt(attempt: number, lease: L | undefined): Promise<AttemptOutcome<T>> {
    const { clock, attemptTimeoutMs } = this.#o;
    const call = this.#call.signal;
    return new Promise((resolve) => {
      const controller = new AbortController();
      let settled = false;
      let timer: TimerHandle | undefined;
      const finish = (outcome: AttemptOutcome<T>): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        call.removeEventListener('abort', onStop);
        resolve(outcome);
      };
      // Settle at once rather than wait for `fn` to notice the abort: it may ignore its signal.
      const onStop = (): void => {
        controller.abort(call.reason);
        finish({ kind: 'stopped' });
      };
      if (call.aborted) return onStop();
      call.addEventListener('abort', onStop, { once: true });
      if (attemptTimeoutMs !== undefined) {
        timer = clock.setTimeout(() => {
          const reason = new AttemptTimeoutError(attempt, 'attemptTimeoutMs', attemptTimeoutMs);
          controller.abort(reason);
          finish({ kind: 'error', error: reason, timedOut: true });
        }, attemptTimeoutMs);
      }
      const context: RetryContext<L> =
        lease === undefined ? { attempt, signal: controller.signal } : { attempt, signal: controller.signal, lease };
      let result: T | Promise<T>;
      try {
        result = this.#fn(context);
      } catch (error) {
        finish({ kind: 'error', error, timedOut: false });
        return;
      }
      // Both handlers are attached even after a timeout, so a late rejection is never unhandled.
      Promise.resolve(result).then(
        (value) => finish({ kind: 'value', value }),
        (error: unknown) => finish({ kind: 'error', error, timedOut: false }),
      );
    });
  }

  #decide(
    failure: unknown,
    attempt: number,
    classification: FailureClassification,
  ): { retry: boolean; overridden: boolean } {
    const { shouldRetry } = this.#o;
    if (shouldRetry === undefined) return { retry: classification.retryable, overridden: false };
    const verdict: unknown = shouldRetry(failure, {
      attempt,
      classification,
      elapsedMs: this.#o.clock.now() - this.#startedAt,
    });
    if (verdict === undefined) return { retry: classification.retryable, overridden: false };
    if (typeof verdict !== 'boolean') {
      throw new TypeError(
        `Expected \`shouldRetry\` to return true, false or undefined, got \`${String(verdict)}\` (${typeof verdict})`,
      );
    }
    return { retry: verdict, overridden: verdict !== classification.retryable };
  }

  /** The call's signal aborted: the caller's abort rejects with its reason; else the deadline passed. */
  #stopped(attempts: number, when: string): Settled<T> {
    const { signal, deadlineMs } = this.#o;
    if (signal?.aborted) throw signal.reason;
    if (this.#call.signal.reason instanceof LimiterClosedError) throw this.#call.signal.reason;
    const cause: unknown = this.#errors.at(-1) ?? this.#call.signal.reason;
    return {
      ok: false,
      error: new RetryError(
        `The deadline of ${deadlineMs} ms (deadlineMs) passed ${when}, after ${plural(attempts, 'attempt')}`,
        { reason: 'deadline', attempts, errors: Object.freeze([...this.#errors]), cause },
      ),
    };
  }

  #fail(
    reason: RetryStopReason,
    message: string,
    classification: FailureClassification,
    retryAfterMs?: number,
  ): Settled<T> {
    const { status } = classification;
    return {
      ok: false,
      error: new RetryError(message, {
        reason,
        attempts: this.#attempt,
        errors: Object.freeze([...this.#errors]),
        cause: this.#errors.at(-1),
        ...(status !== undefined && { status }),
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      }),
    };
  }
}

/** Frees the connection of a failed response that is about to be retried. */
function discardBody(failure: unknown): void {
  const response = responseOf(failure);
  const body = response?.body;
  if (body === null || body === undefined || response?.bodyUsed === true || body.locked) return;
  body.cancel().catch(() => undefined);
}

/**
 * Calls `fn` until it succeeds, retrying failures that another attempt may fix (see
 * `classifyFailure`), waiting between attempts with full-jitter exponential backoff, or exactly
 * as long as the server asked (`retry-after` and friends).
 *
 * `fn` receives `{ attempt, signal, lease? }`; pass `signal` on to the request. A returned non-ok
 * fetch `Response` counts as a failure, an ok one as success.
 *
 * With `limiter`, every attempt takes its own lease (released when the attempt ends), a retryable
 * 429 pauses the limiter for every caller (for the delay the server named, else 1 s: the one 429 policy) and
 * emits `rateLimited`, and each retry emits `retry`. Overload (503, 529) backs off this call only.
 *
 * Rejects with:
 * - the `signal`'s reason, unwrapped, when the caller aborts (no fallback then);
 * - a `RetryError` (`attempts`, `errors` with every attempt's error, `cause` the last one) for
 *   every other failure: not retryable, attempts used up, a server delay above `maxRetryAfterMs`,
 *   the deadline, or an exhausted budget. With `fallback`, resolves with the fallback instead;
 * - the limiter's own errors (`QueueFullError`, `CapacityError`, `AcquireTimeoutError`,
 *   `LimiterClosedError`) as they are.
 *
 * Errors in `RetryError` and in events have credentials redacted (API keys, `Authorization`).
 * A `Response` kept there is a copy whose body is the redacted text of the original's first
 * 64 KiB (read from a clone, within 1 s); `shouldRetry` gets the original, its body unread.
 * Turn off the SDK's own retries (`maxRetries: 0`), or every attempt here is several there.
 *
 * @example
 * const completion = await retry(
 *   ({ signal }) => openai.chat.completions.create(body, { signal }),
 *   { limiter, acquire: { tokens: 1_200 }, deadlineMs: 120_000 },
 * );
 */
export async function retry<T, L extends RetryLease = RetryLease>(
  fn: (context: RetryContext<L>) => T | Promise<T>,
  options: RetryOptions<T, L> = {},
): Promise<T> {
  callable('fn', fn);
  const o = resolveRetryOptions(options);
  if (o.signal?.aborted) throw o.signal.reason;
  const settled = await new RetryRun(fn, o).run();
  if (settled.ok) return settled.value;
  if (!o.hasFallback) throw settled.error;
  const { fallback } = o;
  return typeof fallback === 'function'
    ? await (fallback as (error: RetryError) => T | Promise<T>)(settled.error)
    : (fallback as T);
}
