import { type Clock, type TimerHandle, unrefTimer } from '../internal/clock.js';
import { RingDeque } from '../internal/ring-deque.js';

/** Counts a batch reports to `onProgress`. */
export interface BatchProgress {
  /** Items finished, failed ones included. */
  readonly done: number;
  /**
   * Items in the input: the array's length or the `total` option; otherwise undefined until the
   * input has been read to its end.
   */
  readonly total: number | undefined;
  /** Items whose worker succeeded (or whose retries fell back to `fallback`). */
  readonly succeeded: number;
  /** Items whose worker failed. */
  readonly failed: number;
  /**
   * Retries during the run: the limiter's `retry` events (attempts retried by the batch's `retry`
   * and by a `createLimitedFetch` on the same limiter), plus the batch's own retries without a limiter.
   */
  readonly retries: number;
  /**
   * 429 answers during the run: the limiter's `rateLimited` events; without a limiter, retries
   * whose reason was `rate-limited`.
   */
  readonly rateLimited: number;
  /** Items whose worker is running (between attempts included). */
  readonly inFlight: number;
  /** Items read from the input and not started yet: waiting for a worker slot or for their lease. */
  readonly queued: number;
  /** Items finished per second over the last 10 seconds (0 until the first finishes). */
  readonly ratePerSecond: number;
  /** Estimated milliseconds until every item is done; undefined while `total` or the rate is unknown. */
  readonly etaMs: number | undefined;
  /** Milliseconds since the batch started. */
  readonly elapsedMs: number;
}

/** The live counts a {@link ProgressMeter} reads when it reports. */
export type ProgressCounts = Omit<BatchProgress, 'ratePerSecond' | 'etaMs' | 'elapsedMs'>;

/** The span the rate is measured over: long enough to smooth bursts, short enough to follow change. */
const RATE_SPAN_MS = 10_000;

/**
 * Throttles progress reports to one per `intervalMs` (the first at once, later changes batched into
 * a report at the end of the interval), and works out the rate and ETA.
 */
export class ProgressMeter {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #report: (progress: BatchProgress) => void;
  readonly #read: () => ProgressCounts;
  readonly #startedAt: number;
  /** (time, done) pairs, oldest first, covering a little more than the rate span. */
  readonly #samples = new RingDeque<{ at: number; done: number }>();
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  #ended = false;

  constructor(clock: Clock, intervalMs: number, read: () => ProgressCounts, report: (progress: BatchProgress) => void) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#read = read;
    this.#report = report;
    this.#startedAt = clock.now();
    this.#samples.push({ at: this.#startedAt, done: 0 });
  }

  /** Something changed: report now, or at the end of the current interval. */
  changed(): void {
    if (this.#ended || this.#timer !== undefined) return;
    const wait = this.#lastAt + this.#intervalMs - this.#clock.now();
    if (wait <= 0) {
      this.#emit();
      return;
    }
    // A pending report must not keep the process alive on its own.
    this.#timer = unrefTimer(
      this.#clock.setTimeout(() => {
        this.#timer = undefined;
        if (!this.#ended) this.#emit();
      }, wait),
    );
  }

  /** The last report, whatever the interval; later calls to `changed` are ignored. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#emit();
  }

  /** Stops reporting without a last report (the report callback failed). */
  cancel(): void {
    this.#ended = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #emit(): void {
    const now = this.#clock.now();
    this.#lastAt = now;
    const counts = this.#read();
    this.#samples.push({ at: now, done: counts.done });
    // Keep one sample at or before the span's start, so the rate always covers the whole span.
    while (this.#samples.length > 2 && (this.#samples.at(1)?.at ?? now) <= now - RATE_SPAN_MS) this.#samples.shift();
    const oldest = this.#samples.front() ?? { at: this.#startedAt, done: 0 };
    const spanMs = now - oldest.at;
    const ratePerSecond = spanMs > 0 ? ((counts.done - oldest.done) * 1_000) / spanMs : 0;
    let etaMs: number | undefined;
    if (counts.total !== undefined) {
      const left = Math.max(0, counts.total - counts.done);
      etaMs = left === 0 ? 0 : ratePerSecond > 0 ? Math.round((left / ratePerSecond) * 1_000) : undefined;
    }
    this.#report({ ...counts, ratePerSecond, etaMs, elapsedMs: now - this.#startedAt });
  }
}
