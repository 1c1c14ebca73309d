import { performance } from 'node:perf_hooks';
import { callable, plainObject } from './validate.js';

/** An opaque timer handle returned by a {@link Clock}. */
export type TimerHandle = unknown;

/**
 * A monotonic clock and the timers that go with it. The limiter never reads `Date.now`: wall-clock
 * steps (NTP, DST, a user changing the time) must not open or close windows. Tests inject a fake one.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences matter. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The longest delay Node's timers hold (2^31-1 ms, 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay longer than Node's timers hold, as a chain of timers that each stay under the cap. */
class ChainedTimer {
  #timer: ReturnType<typeof setTimeout>;
  #unref = false;

  constructor(fn: () => void, ms: number) {
    const end = performance.now() + ms;
    const arm = (): ReturnType<typeof setTimeout> => {
      const left = end - performance.now();
      return setTimeout(
        () => {
          if (end - performance.now() > 0 && left > MAX_TIMER_MS) {
            this.#timer = arm();
            if (this.#unref) this.#timer.unref();
          } else fn();
        },
        Math.min(Math.max(0, left), MAX_TIMER_MS),
      );
    };
    this.#timer = arm();
  }

  clear(): void {
    clearTimeout(this.#timer);
  }

  unref(): void {
    this.#unref = true;
    this.#timer.unref();
  }
}

/**
 * The real clock: `performance.now()` and Node's timers, chained for delays longer than a timer
 * holds (a monthly window, a day-long `retry-after`), so nothing fires early or warns.
 * `performance` comes from `node:perf_hooks` because the global one is a lazy getter that costs a
 * lookup on every call.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new ChainedTimer(fn, ms) : setTimeout(fn, ms)),
  clearTimeout: (handle) => {
    if (handle instanceof ChainedTimer) handle.clear();
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** Checks a clock handed in as an option: an object with `now`, `setTimeout` and `clearTimeout`. */
export function validateClock(value: unknown): Clock {
  const clock = plainObject('clock', value);
  callable('clock.now', clock.now);
  callable('clock.setTimeout', clock.setTimeout);
  callable('clock.clearTimeout', clock.clearTimeout);
  return value as Clock;
}

/**
 * Lets a timer not keep the process alive, when the clock's timers can (Node's can; a fake clock's
 * have no `unref` and need none). Returns the handle.
 */
export function unrefTimer(handle: TimerHandle): TimerHandle {
  (handle as { unref?: () => void } | undefined)?.unref?.();
  return handle;
}
