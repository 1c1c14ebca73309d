import type { Block } from './diagnosis.js';
import type { LimitOptions, WindowKind } from './vocabulary.js';

/** Payload of the `acquired` event. */
export interface AcquiredEvent {
  readonly waitedMs: number;
  readonly input: number;
  readonly output: number;
  readonly priority: number;
  /** What held it back when it joined the queue (empty when it never waited). */
  readonly blockedBy: readonly Block[];
}

/** Payload of the `released` event. */
export interface ReleasedEvent {
  readonly heldMs: number;
  /** True when the lease was cancelled (the request was never sent). */
  readonly cancelled: boolean;
}

/** Payload of the `queued` event. */
export interface QueuedEvent {
  /** Waiters in the queue, this one included. */
  readonly queued: number;
  readonly priority: number;
  /** What holds it back (see `limiter.diagnose()`). */
  readonly blockedBy: readonly Block[];
}

/** Payload of the `paused` event. */
export interface PausedEvent {
  /** The length of the pause asked for. */
  readonly ms: number;
  /** Until when, on the limiter's clock, admissions are held. */
  readonly until: number;
}

/** Why an acquire was rejected. */
/** (`withdrawn`: `acquireAny` took another candidate's lease, so this candidate's wait ended.) */
export type RejectReason =
  | 'capacity'
  | 'queue-full'
  | 'timeout'
  | 'aborted'
  | 'withdrawn'
  | 'closed'
  | 'invalid'
  | 'store';

/** Payload of the `rejected` event. */
export interface RejectedEvent {
  readonly reason: RejectReason;
  readonly error: unknown;
  /** How long the caller waited in the queue before it was rejected (0 when rejected at once). */
  readonly waitedMs: number;
}

/** Payload of the `reconciled` event: a lease's charge was replaced by what the request used. */
export interface ReconciledEvent {
  /** What the request used, as reconciled. */
  readonly input: number;
  readonly output: number;
  /** What was charged before (the reservation, or an earlier reconcile). */
  readonly reservedInput: number;
  readonly reservedOutput: number;
  /** A better estimate replaced the reservation, not the usage the provider reported (metrics leave it out). */
  readonly estimate: boolean;
}

/** Payload of the `retry` event: emitted before each wait between attempts. */
export interface RetryEvent {
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  /** How long the caller waits before the next attempt. */
  readonly delayMs: number;
  readonly error: unknown;
  /** Why the failure was judged retryable, e.g. `rate-limited`, `server-error`, `timeout`. */
  readonly reason: string;
}

/** Payload of the `rateLimited` event: the server answered 429. */
export interface RateLimitedEvent {
  readonly status: number;
  /** The delay the server named, if it named one. */
  readonly retryAfterMs: number | undefined;
  /** How long the limiter was paused for everyone. */
  readonly pauseMs: number;
}

/** Payload of the `limitsChanged` event. */
export interface LimitsChangedEvent {
  readonly limits: LimitOptions;
}

/** Payload of the `othersShare` event: the server reported less remaining than the limiter believed. */
export interface OthersShareEvent {
  readonly kind: WindowKind;
  /** Others' share of the window now in force. */
  readonly amount: number;
  /** What the server said remains. */
  readonly remaining: number;
}

/** Payload of the `storeError` event: a store write (reconcile, cancel, release, pause) failed. */
export interface StoreErrorEvent {
  readonly operation: 'reconcile' | 'cancel' | 'release' | 'pause' | 'restamp';
  readonly error: unknown;
}

/** Why the fetch wrapper sent a request to a fallback model. */
export type FallbackReason = 'wait' | 'rate-limited' | 'overloaded';

/**
 * Payload of the `fallback` event: the fetch wrapper sent a request to a fallback model instead of
 * the one it named. Emitted by the limiter of the model that served it.
 */
export interface FallbackEvent {
  /** The model the request named. */
  readonly requested: string;
  /** The model that served it. */
  readonly served: string;
  /**
   * `wait`: the requested model's limiter would have made it wait longer than `afterMs`;
   * `rate-limited`: the requested model is paused by a 429; `overloaded`: it answered overloaded.
   */
  readonly reason: FallbackReason;
}

/** Payload of the `concurrencyChanged` event: adaptive concurrency moved its cap. */
export interface ConcurrencyChangedEvent {
  /** The cap now in force. */
  readonly concurrency: number;
  readonly previous: number;
  /**
   * `succeeded`: requests succeed at the cap, it grows; `overloaded`: an overload signal shrank it;
   * `limits`: `updateLimits` moved its bounds.
   */
  readonly reason: 'succeeded' | 'overloaded' | 'limits';
}

/**
 * Payload of the `paceChanged` event: 429s kept coming although the limits had room, so the
 * limiter spaces its admissions (or, recovering, spaces them less; or stops).
 */
export interface PaceChangedEvent {
  /** The share of the limits' rate now allowed (1 and `intervalMs` 0: pacing ended). */
  readonly factor: number;
  /** The least time between two admissions; 0 when not pacing. */
  readonly intervalMs: number;
  /** `rate-limited`: a 429 slowed the pace; `recovered`: quiet windows sped it up again. */
  readonly reason: 'rate-limited' | 'recovered';
}

/**
 * Payload of the `operation` event: the fetch wrapper's request is over (its final answer came, or
 * it failed). Emitted by the limiter that admitted its last attempt.
 */
export interface OperationEvent {
  /**
   * From the first attempt's admission to the final answer: its headers (a stream: its first
   * content), or the error it failed with. Waits for the limiter before the first attempt are not
   * included; waits between attempts are.
   */
  readonly durationMs: number;
  /** The model the request named (the body's `model`, or the URL's). */
  readonly requestedModel: string | undefined;
  /** The model that served it: a fallback's, or the same. */
  readonly model: string | undefined;
  /** The last answer's HTTP status; undefined when no answer came (a connection error). */
  readonly status: number | undefined;
  /** Why it failed (`rate-limited`, `overloaded`, `timeout`, an HTTP status, an error name); undefined when it succeeded. */
  readonly error: string | undefined;
  /** Whether the answer was a server-sent-event stream. */
  readonly streaming: boolean;
  /** Attempts made (1 without retries). */
  readonly attempts: number;
}

/** Every event a limiter emits, for `limiter.on(name, listener)`. */
export interface LimiterEvents {
  acquired: (event: AcquiredEvent) => void;
  released: (event: ReleasedEvent) => void;
  queued: (event: QueuedEvent) => void;
  paused: (event: PausedEvent) => void;
  rejected: (event: RejectedEvent) => void;
  retry: (event: RetryEvent) => void;
  rateLimited: (event: RateLimitedEvent) => void;
  limitsChanged: (event: LimitsChangedEvent) => void;
  storeError: (event: StoreErrorEvent) => void;
  reconciled: (event: ReconciledEvent) => void;
  operation: (event: OperationEvent) => void;
  othersShare: (event: OthersShareEvent) => void;
  fallback: (event: FallbackEvent) => void;
  concurrencyChanged: (event: ConcurrencyChangedEvent) => void;
  paceChanged: (event: PaceChangedEvent) => void;
  /** Nobody waits and nothing is held. */
  idle: () => void;
  /** `close()` ran: every waiter was rejected, and retries waiting between attempts stop. */
  closed: () => void;
}
