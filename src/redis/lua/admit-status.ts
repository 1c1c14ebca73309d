/** Status codes of the admit script's answers. */
export const ADMIT_STATUS = {
  /** Admitted now (or confirmed): `at` is the entry's start. */
  admitted: 1,
  /** A future slot was booked: `at` is its start. */
  booked: 2,
  /** Nothing taken: ask again at `at`. */
  wait: 3,
  /** The cost exceeds a whole budget: it can never fit. */
  tooLarge: 4,
} as const;
