import { Limiter } from './limiter.js';
import { type SingleWindowExtraOptions, type SingleWindowOptions, singleWindowOptions } from './single-window.js';

/** Options of `new SlidingWindowLimiter()`: one request window, plus any other limiter option. */
export interface SlidingWindowLimiterOptions extends SingleWindowOptions {}

/** Everything but the window, for the `perSecond` and `perMinute` shortcuts. */
export type SlidingWindowExtraOptions = SingleWindowExtraOptions;

/**
 * A limiter with a single request window: at most `limit` starts in any `windowMs`.
 * `SlidingWindowLimiter.perSecond(20)` is 20 starts in any second.
 */
export class SlidingWindowLimiter extends Limiter {
  constructor(options: SlidingWindowLimiterOptions) {
    super(singleWindowOptions('SlidingWindowLimiter', 'requests', options));
  }

  /** At most `limit` request starts in any 1,000 ms. */
  static perSecond(limit: number, options: SlidingWindowExtraOptions = {}): SlidingWindowLimiter {
    return new SlidingWindowLimiter({ ...options, limit, windowMs: 1_000 });
  }

  /** At most `limit` request starts in any 60,000 ms. */
  static perMinute(limit: number, options: SlidingWindowExtraOptions = {}): SlidingWindowLimiter {
    return new SlidingWindowLimiter({ ...options, limit, windowMs: 60_000 });
  }
}
