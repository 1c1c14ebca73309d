/**
 * Resolves after `ms` milliseconds of real time. For code that waits on the real clock whatever
 * the limiter's clock is; retries wait with `retry/sleep.ts`, which follows a clock and a signal.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
