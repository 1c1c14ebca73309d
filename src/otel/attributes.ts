import type { Attributes } from '@opentelemetry/api';
import type { FallbackEvent, OperationEvent, RejectReason } from '../core/events.js';
import type { WindowKind } from '../core/vocabulary.js';
import { ATTR, DEFAULT_OPERATION_NAME } from './names.js';

/** What `forestall.outcome` says of an acquire that ended without a lease. */
function outcomeOf(reason: RejectReason): 'timed_out' | 'aborted' | 'rejected' {
  return reason === 'timeout' ? 'timed_out' : reason === 'aborted' ? 'aborted' : 'rejected';
}

/**
 * The attributes of one limiter's measurements, built once per limiter: a listener on the hot
 * path (every acquire) reads a field and allocates nothing. Sets that depend on an event's value
 * (a reject reason, a status) are built on first use and kept; those are few per limiter.
 */
export class LimiterAttributes {
  /** Every measurement of this limiter carries these: the user's, then its provider and model. */
  readonly base: Attributes;
  /** `forestall.acquire.duration` of an admitted acquire. */
  readonly admitted: Attributes;
  /** `gen_ai.client.token.usage`, per token type. */
  readonly inputTokens: Attributes;
  readonly outputTokens: Attributes;
  readonly #operationName: string;
  readonly #rejected = new Map<RejectReason, Attributes>();
  readonly #retries = new Map<string, Attributes>();
  readonly #rateLimited = new Map<number, Attributes>();
  readonly #windows = new Map<string, Attributes>();

  /**
   * @param user the attributes given to `instrument()`
   * @param key the registry key, whose provider and model name the limiter (absent for a bare limiter)
   */
  constructor(user: Attributes, key?: { readonly provider: string; readonly model: string | undefined }) {
    const base: Attributes = { ...user };
    if (key !== undefined) {
      base[ATTR.provider] = key.provider;
      if (key.model !== undefined) base[ATTR.requestModel] = key.model;
    }
    this.base = Object.freeze(base);
    const named = user[ATTR.operationName];
    this.#operationName = typeof named === 'string' ? named : DEFAULT_OPERATION_NAME;
    this.admitted = this.#with({ [ATTR.outcome]: 'admitted' });
    const genAi = { ...base, [ATTR.operationName]: this.#operationName };
    this.inputTokens = Object.freeze({ ...genAi, [ATTR.tokenType]: 'input' });
    this.outputTokens = Object.freeze({ ...genAi, [ATTR.tokenType]: 'output' });
  }

  /** `forestall.acquire.duration` of an acquire rejected for `reason`. */
  rejected(reason: RejectReason): Attributes {
    let found = this.#rejected.get(reason);
    if (found === undefined) {
      const outcome = outcomeOf(reason);
      found = this.#with(
        outcome === 'rejected' ? { [ATTR.outcome]: outcome, [ATTR.rejectReason]: reason } : { [ATTR.outcome]: outcome },
      );
      this.#rejected.set(reason, found);
    }
    return found;
  }

  /** `forestall.retries` for a retry judged retryable for `reason`. */
  retry(reason: string): Attributes {
    let found = this.#retries.get(reason);
    if (found === undefined) {
      found = this.#with({ [ATTR.retryReason]: reason });
      this.#retries.set(reason, found);
    }
    return found;
  }

  /** `forestall.rate_limited` for an answer with HTTP `status`. */
  rateLimited(status: number): Attributes {
    let found = this.#rateLimited.get(status);
    if (found === undefined) {
      found = this.#with({ [ATTR.httpStatus]: status });
      this.#rateLimited.set(status, found);
    }
    return found;
  }

  /** `forestall.window.utilization` of one window. */
  window(kind: WindowKind, windowMs: number): Attributes {
    const id = `${kind}:${windowMs}`;
    let found = this.#windows.get(id);
    if (found === undefined) {
      found = this.#with({ [ATTR.limitKind]: kind, [ATTR.windowMs]: windowMs });
      this.#windows.set(id, found);
    }
    return found;
  }

  /**
   * `forestall.fallbacks`: the model asked for and the one that served (the event's own, not the
   * limiter's group). Fallbacks are rare, so built per event.
   */
  fallback(event: FallbackEvent): Attributes {
    return {
      ...this.base,
      [ATTR.requestModel]: event.requested,
      [ATTR.responseModel]: event.served,
      [ATTR.fallbackReason]: event.reason,
    };
  }

  /**
   * `gen_ai.client.operation.duration`: the request's own model names it where it says one. Once
   * per HTTP request (not per acquire), so built per event.
   */
  operation(event: OperationEvent): Attributes {
    const out: Attributes = { ...this.base, [ATTR.operationName]: this.#operationName };
    if (typeof event.requestedModel === 'string') out[ATTR.requestModel] = event.requestedModel;
    if (typeof event.model === 'string') out[ATTR.responseModel] = event.model;
    // A reason or an error name (never a message: those may quote the request or a key).
    if (typeof event.error === 'string') out[ATTR.errorType] = event.error;
    return out;
  }

  #with(extra: Attributes): Attributes {
    return Object.freeze({ ...this.base, ...extra });
  }
}
