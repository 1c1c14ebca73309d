import type { AcquireOptions } from '../core/vocabulary.js';
import { callable, plainObject } from '../internal/validate.js';
import { classifyFailure } from '../feedback/classify.js';
import { retry } from '../retry/retry.js';
import type { RetryLimiter } from '../retry/types.js';
import type { Lease } from './lease.js';
import type { RunContext, RunOptions } from './options.js';

/** A signal that never aborts, for runs without one. */
const NEVER_ABORTED = new AbortController().signal;

function withoutRetry(options: RunOptions<unknown>): AcquireOptions {
  if (!Object.hasOwn(options, 'retry')) return options;
  const { retry: _ignored, ...acquire } = options;
  return acquire;
}

/** `limiter.run(fn, options)`: acquire, call `fn`, release in `finally`; with `retry`, as `retry()` does. */
export async function runWithLease<T>(
  limiter: RetryLimiter<Lease>,
  fn: (lease: Lease, context: RunContext) => T | PromiseLike<T>,
  options: RunOptions<T> | undefined,
): Promise<T> {
  callable('fn', fn);
  if (options?.retry !== undefined) {
    const { retry: retryOptions, ...acquire } = options;
    plainObject('retry', retryOptions);
    return retry<T, Lease>(async (context) => fn(context.lease as Lease, context), {
      ...retryOptions,
      limiter,
      acquire,
    });
  }
  const lease = await limiter.acquire(options === undefined ? undefined : withoutRetry(options));
  try {
    return await fn(lease, { attempt: 1, signal: options?.signal ?? NEVER_ABORTED });
  } catch (error) {
    // An overload (503, 529, an overloaded error) shrinks an adaptive concurrency cap.
    if (classifyFailure(error).reason === 'overloaded') lease.overloaded();
    throw error;
  } finally {
    lease.release();
  }
}
