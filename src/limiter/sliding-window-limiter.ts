import { Limiter } from './limiter.js';
import { knownKeys, plainObject } from '../internal/validate.js';
import type { LimiterOptions } from './options.js';
import type { WindowLimit } from '../core/vocabulary.js';

/** Options of `new SlidingWindowLimiter()`: one request window, plus any other limiter option. */
export interface SlidingWindowLimiterOptions
  extends WindowLimit,
    Omit<LimiterOptions, 'requests' | 'tokens' | 'inputTokens' | 'outputTokens'> {}

/** Everything but the window, for the `perSecond` and `perMinute` shortcuts. */
export type SlidingWindowExtraOptions = Omit<SlidingWindowLimiterOptions, 'limit' | 'windowMs'>;

const EXTRA_KEYS = ['concurrency', 'maxQueue', 'marginMs', 'clock', 'store'] as const;

/**
 * A limiter with a single request window: at most `limit` starts in any `windowMs`.
 * `SlidingWindowLimiter.perSecond(20)` is 20 starts in any second.
 */
export class SlidingWindowLimiter extends Limiter {
  constructor(options: SlidingWindowLimiterOptions) {
    plainObject('options', options);
    knownKeys('SlidingWindowLimiter options', options, ['limit', 'windowMs', ...EXTRA_KEYS]);
    const { limit, windowMs, ...rest } = options;
    super({ ...rest, requests: { limit, windowMs } });
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
