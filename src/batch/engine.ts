import type { RetryEvent } from '../core/events.js';
import { RingDeque } from '../internal/ring-deque.js';
import type { Lease } from '../limiter/lease.js';
import type { Limiter } from '../limiter/limiter.js';
import { retry } from '../retry/retry.js';
import type { RetryLimiter } from '../retry/types.js';
import type { AcquireOptions } from '../core/vocabulary.js';
import type { BatchResult, BatchWorker, ResolvedBatchOptions } from './options.js';
import { ProgressMeter, type BatchProgress, type ProgressCounts } from './progress.js';
import { isThenable } from '../internal/is-thenable.js';

/** One item between its start and its result. */
interface ItemRun {
  readonly index: number;
  /** The worker's signal: aborted only when running workers must stop. */
  readonly controller: AbortController;
  /** True once the worker has been called (its lease, if any, was granted). */
  started: boolean;
}

/** Where finished items go: `runBatch` stores them, `streamBatch` queues them for its consumer. */
export type BatchSink<R> = (index: number, result: BatchResult<R>) => void;

/**
 * Runs a batch: reads the input lazily, keeps up to `concurrency` items started, delivers each
 * result as it finishes, and settles `settled` once nothing runs and the input is used up (or the
 * batch was stopped: then it rejects with the reason).
 *
 * Items take a slot from their start until `release()` (right after delivery when `hold` is
 * false), so a consumer that falls behind stops the reading: at most `concurrency + readAhead`
 * items are ever read and not yet released.
 */
export class BatchEngine<T, R> {
  readonly settled: Promise<void>;
  readonly #iterator: Iterator<T> | AsyncIterator<T>;
  readonly #async: boolean;
  readonly #worker: BatchWorker<T, R>;
  readonly #o: ResolvedBatchOptions<T, R>;
  readonly #deliver: BatchSink<R>;
  readonly #hold: boolean;
  /** Read ahead, not started. */
  readonly #buffer = new RingDeque<{ readonly item: T; readonly index: number }>();
  readonly #active = new Set<ItemRun>();
  /** Aborted when the batch stops: cancels waits for a first lease, never a running worker. */
  readonly #admission = new AbortController();
  readonly #progress: ProgressMeter | undefined;
  /** True when the batch's own `retry` calls count their retries (no limiter events report them). */
  readonly #countsOwnRetries: boolean;
  readonly #onRetry: ((event: RetryEvent) => void | Promise<void>) | undefined;
  #resolve!: () => void;
  #reject!: (reason: unknown) => void;
  #nextIndex = 0;
  #exhausted = false;
  #pulling = false;
  /** Started and not yet released. */
  #occupied = 0;
  #running = 0;
  #waiting = 0;
  #done = 0;
  #succeeded = 0;
  #failed = 0;
  #retries = 0;
  #rateLimited = 0;
  #total: number | undefined;
  #stopped: { readonly reason: unknown } | undefined;
  #finished = false;
  #started = false;
  #lateError: { readonly error: unknown } | undefined;

  readonly #onAbort = (): void => this.stop(this.#o.signal?.reason, this.#o.abortInFlight);
  readonly #onLimiterRetry = (): void => {
    this.#retries++;
    this.#changed();
  };
  readonly #onLimiterRateLimited = (): void => {
    this.#rateLimited++;
    this.#changed();
  };

  constructor(
    source: { readonly iterator: Iterator<T> | AsyncIterator<T>; readonly async: boolean },
    worker: BatchWorker<T, R>,
    options: ResolvedBatchOptions<T, R>,
    deliver: BatchSink<R>,
    hold: boolean,
    knownLength: number | undefined,
  ) {
    this.#iterator = source.iterator;
    this.#async = source.async;
    this.#worker = worker;
    this.#o = options;
    this.#deliver = deliver;
    this.#hold = hold;
    this.#total = knownLength ?? options.total;
    this.settled = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const { onProgress, limiter, acquire, retry: retryOptions } = options;
    if (onProgress !== undefined) {
      this.#progress = new ProgressMeter(
        options.clock,
        options.progressIntervalMs,
        () => this.#counts(),
        (p) => this.#report(onProgress, p),
      );
    }
    this.#countsOwnRetries = limiter === undefined || acquire === false;
    if (retryOptions !== undefined) {
      const userOnRetry = retryOptions.onRetry;
      this.#onRetry = (event) => {
        if (this.#countsOwnRetries) {
          this.#retries++;
          if (limiter === undefined && event.reason === 'rate-limited') this.#rateLimited++;
          this.#changed();
        }
        return userOnRetry?.(event);
      };
    }
  }

  /** Starts reading and working; call once. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const { signal, limiter } = this.#o;
    if (signal?.aborted) {
      this.stop(signal.reason, false);
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    limiter?.on('retry', this.#onLimiterRetry);
    limiter?.on('rateLimited', this.#onLimiterRateLimited);
    this.#changed();
    this.#fill();
  }

  /** A held result was taken by the consumer: its slot is free. */
  release(): void {
    this.#occupied--;
    this.#fill();
  }

  /**
   * Stops admitting: nothing starts any more, items waiting for a first lease are dropped, and
   * running workers are aborted when `abortWorkers` (a later call can still ask for that).
   * `settled` rejects with the first reason once no worker runs.
   */
  stop(reason: unknown, abortWorkers: boolean): void {
    if (this.#finished) return;
    if (this.#stopped === undefined) {
      this.#stopped = { reason };
      this.#admission.abort(reason);
      this.#buffer.clear();
      if (!this.#exhausted) this.#closeInput();
    }
    if (abortWorkers) for (const run of this.#active) run.controller.abort(reason);
    this.#changed();
    this.#checkDone();
  }

  /** Lets the input release what it holds (an open file, a database cursor). */
  #closeInput(): void {
    try {
      const closing = this.#iterator.return?.();
      // An async generator answers later (after a pending `next`); its failure is of no interest now.
      if (isThenable(closing)) closing.then(undefined, () => undefined);
    } catch {
      // The batch is stopping already; an input that fails to close changes nothing.
    }
  }

  #counts(): ProgressCounts {
    return {
      done: this.#done,
      total: this.#total,
      succeeded: this.#succeeded,
      failed: this.#failed,
      retries: this.#retries,
      rateLimited: this.#rateLimited,
      inFlight: this.#running,
      queued: this.#buffer.length + this.#waiting,
    };
  }

  #report(onProgress: (progress: BatchProgress) => void, progress: BatchProgress): void {
    try {
      onProgress(progress);
    } catch (error) {
      this.#progress?.cancel();
      if (this.#finished) this.#lateError ??= { error };
      else this.stop(error, true);
    }
  }

  #changed(): void {
    this.#progress?.changed();
  }

  #hasRoom(): boolean {
    return this.#buffer.length + this.#occupied < this.#o.concurrency + this.#o.readAhead;
  }

  /** Starts what the slots allow, and reads on when there is room. */
  #fill(): void {
    if (this.#finished) return;
    this.#startReady();
    if (this.#stopped === undefined && !this.#exhausted && !this.#pulling && this.#hasRoom()) void this.#pull();
    this.#checkDone();
  }

  #startReady(): void {
    while (this.#stopped === undefined && this.#occupied < this.#o.concurrency) {
      const next = this.#buffer.shift();
      if (next === undefined) return;
      this.#start(next.item, next.index);
    }
  }

  /** Reads items while there is room; one read at a time, since iterators are not reentrant. */
  async #pull(): Promise<void> {
    this.#pulling = true;
    try {
      while (this.#stopped === undefined && !this.#exhausted && this.#hasRoom()) {
        let step: IteratorResult<T>;
        try {
          step = this.#async
            ? await (this.#iterator as AsyncIterator<T>).next()
            : (this.#iterator as Iterator<T>).next();
        } catch (error) {
          // The input failed (a file read error): the batch cannot go on, but what runs may finish.
          this.#exhausted = true;
          this.stop(error, this.#o.abortInFlight);
          return;
        }
        // An item read after the stop is dropped: it never started.
        if (this.#stopped !== undefined) return;
        if (step.done === true) {
          this.#exhausted = true;
          this.#total = this.#nextIndex;
          this.#changed();
          break;
        }
        this.#buffer.push({ item: step.value, index: this.#nextIndex++ });
        this.#startReady();
        this.#changed();
      }
    } finally {
      this.#pulling = false;
    }
    this.#checkDone();
  }

  #start(item: T, index: number): void {
    this.#occupied++;
    const run: ItemRun = { index, controller: new AbortController(), started: false };
    this.#active.add(run);
    const { limiter, acquire } = this.#o;
    if (limiter !== undefined && acquire !== false) this.#waiting++;
    else {
      run.started = true;
      this.#running++;
    }
    this.#runItem(run, item).then(
      (value) => this.#complete(run, { ok: true, value }),
      (error: unknown) => this.#complete(run, { ok: false, error }),
    );
  }

  #markStarted(run: ItemRun): void {
    if (run.started) return;
    run.started = true;
    this.#waiting--;
    this.#running++;
    this.#changed();
  }

  async #runItem(run: ItemRun, item: T): Promise<R> {
    const { limiter, acquire, retry: retryOptions } = this.#o;
    const { index } = run;
    const signal = run.controller.signal;
    if (limiter !== undefined && acquire !== false) {
      const acquireOptions = typeof acquire === 'function' ? acquire(item, index) : acquire;
      if (retryOptions !== undefined) {
        return retry<R, Lease>(
          async (context) => {
            this.#markStarted(run);
            return this.#worker(item, {
              index,
              attempt: context.attempt,
              signal: context.signal,
              ...(context.lease && { lease: context.lease }),
            });
          },
          {
            ...retryOptions,
            limiter: this.#leasesFor(run, limiter),
            acquire: acquireOptions,
            signal,
            onRetry: this.#onRetry,
          },
        );
      }
      const lease = await limiter.acquire({
        ...acquireOptions,
        signal: AbortSignal.any([signal, this.#admission.signal]),
      });
      this.#markStarted(run);
      try {
        return await this.#worker(item, { index, attempt: 1, signal, lease });
      } finally {
        lease.release();
      }
    }
    if (retryOptions !== undefined) {
      return retry<R>(
        async (context) => this.#worker(item, { index, attempt: context.attempt, signal: context.signal }),
        {
          ...retryOptions,
          signal,
          onRetry: this.#onRetry,
        },
      );
    }
    return this.#worker(item, { index, attempt: 1, signal });
  }

  /**
   * The limiter as `retry` sees it for one item: until the item's first lease is granted, the wait
   * also ends when the batch stops (the item never started, so it is dropped); later attempts
   * belong to a started item and only its own signal ends them.
   */
  #leasesFor(run: ItemRun, limiter: Limiter): RetryLimiter<Lease> {
    const admission = this.#admission.signal;
    return {
      acquire: (options?: AcquireOptions) => {
        if (run.started) return limiter.acquire(options);
        const signal = options?.signal === undefined ? admission : AbortSignal.any([options.signal, admission]);
        return limiter.acquire({ ...options, signal });
      },
      rateLimited: (answer) => limiter.rateLimited(answer),
      retrying: (event) => limiter.retrying(event),
    };
  }

  #complete(run: ItemRun, result: BatchResult<R>): void {
    this.#active.delete(run);
    if (run.started) this.#running--;
    else this.#waiting--;
    // Not delivered: an item stopped before its worker ran, or a worker that failed after the
    // batch aborted it. Neither finished; both can be done again later.
    // A worker that rejects with the stop's own reason stopped before doing anything (it had not
    // sent its request): not done either.
    const stoppedBeforeWork =
      !result.ok && this.#admission.signal.aborted && result.error === this.#admission.signal.reason;
    const cancelled =
      !result.ok &&
      ((!run.started && this.#admission.signal.aborted) || run.controller.signal.aborted || stoppedBeforeWork);
    if (cancelled) {
      this.#occupied--;
    } else {
      this.#done++;
      if (result.ok) this.#succeeded++;
      else this.#failed++;
      try {
        this.#deliver(run.index, result);
        this.#o.onResult?.(result, run.index);
      } catch (error) {
        this.stop(error, true);
      }
      if (!this.#hold) this.#occupied--;
    }
    this.#changed();
    this.#fill();
  }

  #checkDone(): void {
    if (this.#finished || this.#active.size > 0) return;
    if (this.#stopped === undefined && !(this.#exhausted && this.#buffer.length === 0)) return;
    this.#finished = true;
    const { signal, limiter } = this.#o;
    signal?.removeEventListener('abort', this.#onAbort);
    limiter?.off('retry', this.#onLimiterRetry);
    limiter?.off('rateLimited', this.#onLimiterRateLimited);
    this.#progress?.end();
    if (this.#stopped !== undefined) this.#reject(this.#stopped.reason);
    else if (this.#lateError !== undefined) this.#reject(this.#lateError.error);
    else this.#resolve();
  }
}
