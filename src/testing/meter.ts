/** One charge against a meter, kept so it can be corrected when the real amount is known. */
export interface MeterCharge {
  /** The amount currently charged. */
  amount: number;
}

/**
 * One enforced limit of the mock server: a budget of `limit` units per `windowMs`. Times are
 * milliseconds on the server's monotonic clock; admissions are evaluated at arrival times, which the
 * server feeds in non-decreasing order.
 */
export interface Meter {
  readonly limit: number;
  readonly windowMs: number;
  /** Milliseconds from `at` until `amount` fits: 0 when it fits now, `Infinity` when it never can. */
  waitFor(amount: number, at: number): number;
  /** Charges `amount` at `at`, even past the limit (the caller decided it counts). */
  charge(amount: number, at: number): MeterCharge;
  /** Replaces a charge's amount with `amount`: a refund, or an extra charge. */
  correct(charge: MeterCharge, amount: number): void;
  /** What is used at `now` (whole units for sliding windows, possibly fractional for buckets). */
  used(now: number): number;
  /** Milliseconds from `now` until the meter is back to full. */
  resetMs(now: number): number;
}
