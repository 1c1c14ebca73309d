import type { TokenCost } from '../core/vocabulary.js';

/**
 * A lease as the provider's answer settles it: counted from a later moment, charged the usage the
 * answer reported, given back when the request never counted, released when the answer is done.
 * The limiter's `Lease` is one.
 */
export interface AnsweredLease {
  /** When the limiter admitted the request. */
  readonly acquiredAt: number;
  /** Counts the request from `at` (default now) instead of its admission. */
  restamp(at?: number): void;
  /** Charges `actual` instead of the reservation (and `spend`, what it really cost, when given). */
  reconcile(actual: TokenCost, options?: { readonly spend?: number }): void;
  /** Frees the concurrency slot; the window entry stays. */
  release(): void;
  /** Gives the request slot and tokens back: the provider never counted it. */
  cancel(): void;
  /** The provider answered overloaded (503, 529, an overloaded error, a timeout). */
  overloaded(): void;
}
