import { Limiter } from './limiter.js';
import type { Lease } from './lease.js';
import { type SingleWindowOptions, singleWindowOptions } from './single-window.js';
import type { AcquireOptions } from '../core/vocabulary.js';

/** Options of `new TokenBudgetLimiter()`: one token budget, plus any other limiter option. */
export interface TokenBudgetLimiterOptions extends SingleWindowOptions {}

/**
 * A limiter with a single token budget: at most `limit` tokens charged to requests started in any
 * `windowMs`. Its `acquire` and `tryAcquire` also take a plain number of tokens.
 */
export class TokenBudgetLimiter extends Limiter {
  constructor(options: TokenBudgetLimiterOptions) {
    super(singleWindowOptions('TokenBudgetLimiter', 'tokens', options));
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
