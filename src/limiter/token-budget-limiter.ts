import { Limiter } from './limiter.js';
import type { Lease } from './lease.js';
import { knownKeys, plainObject } from '../internal/validate.js';
import type { AcquireOptions, LimiterOptions } from './options.js';
import type { WindowLimit } from '../core/vocabulary.js';

/** Options of `new TokenBudgetLimiter()`: one token budget, plus any other limiter option. */
export interface TokenBudgetLimiterOptions
  extends WindowLimit,
    Omit<LimiterOptions, 'requests' | 'tokens' | 'inputTokens' | 'outputTokens'> {}

/**
 * A limiter with a single token budget: at most `limit` tokens charged to requests started in any
 * `windowMs`. Its `acquire` and `tryAcquire` also take a plain number of tokens.
 */
export class TokenBudgetLimiter extends Limiter {
  constructor(options: TokenBudgetLimiterOptions) {
    plainObject('options', options);
    knownKeys('TokenBudgetLimiter options', options, [
      'limit',
      'windowMs',
      'concurrency',
      'maxQueue',
      'marginMs',
      'clock',
      'store',
    ]);
    const { limit, windowMs, ...rest } = options;
    super({ ...rest, tokens: { limit, windowMs } });
  }

  /** `acquire(1_200)` is `acquire({ tokens: 1_200 })`. */
  override acquire(options?: number | AcquireOptions): Promise<Lease> {
    return super.acquire(typeof options === 'number' ? { tokens: options } : options);
  }

  /** `tryAcquire(1_200)` is `tryAcquire({ tokens: 1_200 })`. */
  override tryAcquire(options?: number | Omit<AcquireOptions, 'signal' | 'timeoutMs'>): Lease | undefined {
    return super.tryAcquire(typeof options === 'number' ? { tokens: options } : options);
  }
}
