import type { Clock } from '../internal/clock.js';

/**
 * Waits `ms` on `clock`. Aborting `signal` clears the timer and rejects at once with the signal's
 * reason, so a cancelled caller neither waits out the delay nor leaves a timer holding the process.
 */
export function sleep(ms: number, clock: Clock, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal.reason as unknown);
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
