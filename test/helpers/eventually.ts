import { sleep } from './sleep.js';

/** How `eventually` polls. */
export interface EventuallyOptions {
  /** Give up (throw) once this long has passed. @default 2_000 */
  readonly timeoutMs?: number;
  /** Milliseconds between two checks. @default 5 */
  readonly intervalMs?: number;
  /**
   * A check that throws counts as "not yet" (a client still reconnecting) instead of failing the
   * test at once. @default false
   */
  readonly retryOnError?: boolean;
}

/**
 * Waits until `check` holds, for what lands a little later than the call that caused it
 * (fire-and-forget writes, a recovery, a child process's output).
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 2_000, intervalMs = 5, retryOnError = false }: EventuallyOptions = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      if (!retryOnError) throw error;
    }
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(intervalMs);
  }
}
