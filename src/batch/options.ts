import type { Clock } from '../internal/clock.js';
import { systemClock } from '../internal/clock.js';
import { describeValue } from '../internal/describe.js';
import {
  abortSignal,
  callable,
  knownKeys,
  nonNegativeInteger,
  plainObject,
  positiveInteger,
  positiveNumber,
} from '../internal/validate.js';
import type { Lease } from '../limiter/lease.js';
import type { Limiter } from '../limiter/limiter.js';
import { resolveRetryOptions, type RetryOptions } from '../retry/options.js';
import type { AcquireOptions } from '../core/vocabulary.js';
import type { BatchProgress } from './progress.js';

/** What a batch worker receives besides the item. */
export interface BatchWorkerContext {
  /** The item's position in the input, from 0. */
  readonly index: number;
  /** 1, or with `retry` the attempt number (2 for the first retry). */
  readonly attempt: number;
  /**
   * Aborted when this attempt should stop: the batch was aborted with `abortInFlight`, a
   * `streamBatch` consumer stopped iterating, or (with `retry`) the attempt timed out. Pass it on
   * to `fetch` or the SDK call.
   */
  readonly signal: AbortSignal;
  /** This attempt's lease when the batch has a `limiter` (and `acquire` is not `false`); released for you. */
  readonly lease?: Lease;
}

/** Does the work for one item; a rejection (or a throw) is that item's failure, never the batch's. */
export type BatchWorker<T, R> = (item: T, context: BatchWorkerContext) => R | PromiseLike<R>;

/** The outcome of one item: its value, or the error its worker failed with. */
export type BatchResult<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/** What `streamBatch` yields: an item's outcome and its position in the input. */
export type BatchStreamResult<R> = BatchResult<R> & { readonly index: number };

/** Acquire options for one item's lease (the batch passes the signal). */
export type BatchAcquireOptions = Omit<AcquireOptions, 'signal'>;

/** `retry()` options for each item, without those the batch sets itself. */
export type BatchRetryOptions<R> = Omit<RetryOptions<R, Lease>, 'limiter' | 'acquire' | 'signal'>;

/** Options of `runBatch` and `streamBatch`. */
export interface BatchOptions<T, R> {
  /**
   * Each item (with `retry`: each attempt) waits for a lease from it before its worker runs, and
   * the worker gets the lease as `context.lease` (to `reconcile` the tokens used). Its `retry` and
   * `rateLimited` events during the run count in the progress. @default none
   */
  readonly limiter?: Limiter | undefined;
  /**
   * The lease each item asks the `limiter` for, e.g. `{ tokens: 1_200 }`, or a function of the item
   * giving it (`(item, index) => ({ tokens: estimate(item) })`; an exception there fails that item).
   * `false` takes no lease here: the worker's own calls take them, e.g. through a
   * `createLimitedFetch` on the same limiter, whose events still count in the progress. @default {}
   */
  readonly acquire?: BatchAcquireOptions | ((item: T, index: number) => BatchAcquireOptions) | false | undefined;
  /**
   * Retry each item's failures as `retry()` does (`maxAttempts`, backoff, `fallback`, ...). With a
   * `limiter`, every attempt takes its own lease and a 429 pauses the limiter for every item. An
   * item that still fails gets the `RetryError` as its `error` (or the `fallback` as its value).
   * @default no retries
   */
  readonly retry?: BatchRetryOptions<R> | undefined;
  /**
   * Items whose worker runs (or waits for its lease) at once. Throughput is at most
   * `concurrency / latency`: 16 calls of 2 s each make 8 per second, whatever the limiter allows,
   * so raise it for slow calls and let the limiter keep the rate. @default 16
   */
  readonly concurrency?: number | undefined;
  /**
   * Items read from the input ahead of a free worker, so a slow input does not leave workers idle.
   * At most `concurrency + readAhead` items are held (read and not yet finished) at any time.
   * @default 8
   */
  readonly readAhead?: number | undefined;
  /**
   * Stops the batch: no item starts after the abort, items waiting for a lease are dropped, and
   * items whose worker runs finish (unless `abortInFlight`). Then the call rejects with the
   * signal's reason; every item that finished was delivered to `onResult` (and, for `streamBatch`,
   * yielded) first. Items dropped or aborted are not delivered.
   */
  readonly signal?: AbortSignal | undefined;
  /** On abort, also abort the signals of workers that are running. @default false (let them finish) */
  readonly abortInFlight?: boolean | undefined;
  /**
   * Called with each item's result as it finishes (in completion order), before the batch settles;
   * an exception thrown here stops the batch and rejects it with that exception.
   */
  readonly onResult?: ((result: BatchResult<R>, index: number) => void) | undefined;
  /**
   * Called with counts as the batch goes: at most once per `progressIntervalMs`, and once more at
   * the end (also after an abort). An exception thrown here stops the batch like `onResult`.
   */
  readonly onProgress?: ((progress: BatchProgress) => void) | undefined;
  /** The least time between two `onProgress` calls. @default 100 */
  readonly progressIntervalMs?: number | undefined;
  /**
   * How many items the input holds, when it is not an array (a stream of lines you counted), for
   * `progress.total` and the ETA. @default the array's length; otherwise unknown until the input ends
   */
  readonly total?: number | undefined;
  /** The clock for progress timing; inject a fake one in tests. @default performance.now() and Node's timers */
  readonly clock?: Clock | undefined;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedBatchOptions<T, R> {
  readonly limiter: Limiter | undefined;
  readonly acquire: BatchAcquireOptions | ((item: T, index: number) => BatchAcquireOptions) | false;
  readonly retry: BatchRetryOptions<R> | undefined;
  readonly concurrency: number;
  readonly readAhead: number;
  readonly signal: AbortSignal | undefined;
  readonly abortInFlight: boolean;
  readonly onResult: BatchOptions<T, R>['onResult'];
  readonly onProgress: BatchOptions<T, R>['onProgress'];
  readonly progressIntervalMs: number;
  readonly total: number | undefined;
  readonly clock: Clock;
}

/** Every option `runBatch` and `streamBatch` take. */
const KEYS = [
  'limiter',
  'acquire',
  'retry',
  'concurrency',
  'readAhead',
  'signal',
  'abortInFlight',
  'onResult',
  'onProgress',
  'progressIntervalMs',
  'total',
  'clock',
] as const;

/** The default `concurrency`. */
export const DEFAULT_BATCH_CONCURRENCY = 16;
/** The default `readAhead`. */
export const DEFAULT_BATCH_READ_AHEAD = 8;

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describeValue(value)}`);
  return value;
}

// By shape, not `instanceof`: the limiter may come from the other build (ESM/CJS) of this package.
function limiterLike(value: unknown): Limiter {
  const obj = plainObject('limiter', value);
  for (const method of ['acquire', 'pause', 'emit', 'on', 'off']) callable(`limiter.${method}`, obj[method]);
  return value as Limiter;
}

function retryOptions<R>(value: unknown): BatchRetryOptions<R> {
  const retry = plainObject('retry', value);
  for (const key of ['limiter', 'acquire', 'signal'] as const) {
    if (Object.hasOwn(retry, key)) {
      throw new TypeError(
        `Unexpected \`retry.${key}\`: give \`${key}\` to the batch itself; every attempt then ${
          key === 'signal' ? 'listens to it' : 'takes its own lease'
        }`,
      );
    }
  }
  // Misuse is reported now, not once per item.
  resolveRetryOptions(retry as RetryOptions<R>);
  return retry as BatchRetryOptions<R>;
}

/** The items as an iterator, and whether it is asynchronous. */
export function iteratorOf<T>(items: unknown): { iterator: Iterator<T> | AsyncIterator<T>; async: boolean } {
  if (typeof items === 'object' && items !== null) {
    const asyncIterator = (items as Partial<AsyncIterable<T>>)[Symbol.asyncIterator];
    if (typeof asyncIterator === 'function') return { iterator: asyncIterator.call(items), async: true };
    const iterator = (items as Partial<Iterable<T>>)[Symbol.iterator];
    if (typeof iterator === 'function') return { iterator: iterator.call(items), async: false };
  }
  // A string is iterable, but a batch of its characters is surely a mistake.
  throw new TypeError(
    `Expected \`items\` to be an array, an iterable or an async iterable, got ${describeValue(items)}`,
  );
}

/** Validates batch options and fills in defaults; throws naming the option and the value. */
export function resolveBatchOptions<T, R>(options: BatchOptions<T, R>): ResolvedBatchOptions<T, R> {
  plainObject('options', options);
  knownKeys('batch options', options, KEYS);
  const o = options;
  let acquire: ResolvedBatchOptions<T, R>['acquire'] = {};
  if (o.acquire === false || typeof o.acquire === 'function') acquire = o.acquire;
  else if (o.acquire !== undefined) {
    const given = plainObject('acquire', o.acquire);
    if (Object.hasOwn(given, 'signal')) {
      throw new TypeError(
        'Unexpected `acquire.signal`: give `signal` to the batch itself; it also cancels each acquire',
      );
    }
    acquire = o.acquire;
  }
  if (o.acquire !== undefined && o.acquire !== false && o.limiter === undefined) {
    throw new TypeError('Unexpected `acquire` without `limiter`: leases need a limiter to come from');
  }
  if (o.clock !== undefined) {
    const clock = plainObject('clock', o.clock);
    for (const method of ['now', 'setTimeout', 'clearTimeout']) callable(`clock.${method}`, clock[method]);
  }
  return {
    limiter: o.limiter === undefined ? undefined : limiterLike(o.limiter),
    acquire,
    retry: o.retry === undefined ? undefined : retryOptions<R>(o.retry),
    concurrency:
      o.concurrency === undefined ? DEFAULT_BATCH_CONCURRENCY : positiveInteger('concurrency', o.concurrency),
    readAhead: o.readAhead === undefined ? DEFAULT_BATCH_READ_AHEAD : nonNegativeInteger('readAhead', o.readAhead),
    signal: o.signal === undefined ? undefined : abortSignal('signal', o.signal),
    abortInFlight: o.abortInFlight === undefined ? false : boolean('abortInFlight', o.abortInFlight),
    onResult:
      o.onResult === undefined
        ? undefined
        : callable<NonNullable<BatchOptions<T, R>['onResult']>>('onResult', o.onResult),
    onProgress:
      o.onProgress === undefined
        ? undefined
        : callable<NonNullable<BatchOptions<T, R>['onProgress']>>('onProgress', o.onProgress),
    progressIntervalMs:
      o.progressIntervalMs === undefined ? 100 : positiveNumber('progressIntervalMs', o.progressIntervalMs),
    total: o.total === undefined ? undefined : nonNegativeInteger('total', o.total),
    clock: o.clock ?? systemClock,
  };
}
