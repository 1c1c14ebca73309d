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

/**
 * The real clock: `performance.now()` and Node's timers. `performance` comes from
 * `node:perf_hooks` because the global one is a lazy getter that costs a lookup on every call.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Checks a clock handed in as an option: an object with `now`, `setTimeout` and `clearTimeout`. */
export function validateClock(value: unknown): Clock {
  const clock = plainObject('clock', value);
  callable('clock.now', clock.now);
  callable('clock.setTimeout', clock.setTimeout);
  callable('clock.clearTimeout', clock.clearTimeout);
  return value as Clock;
}
