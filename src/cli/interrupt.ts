/** The signals a run stops on, and the exit code each means (128 + the signal's number). */
export const INTERRUPT_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** A signal that stops a run. */
export type InterruptSignal = keyof typeof INTERRUPT_EXIT_CODES;

/**
 * Handles Ctrl-C (and SIGTERM) in two steps: the first calls `graceful` (stop starting work,
 * let what runs finish), the second calls `immediate` (quit now). Returns a function that removes
 * the handlers.
 */
export function onInterrupt(
  graceful: (signal: InterruptSignal) => void,
  immediate: (signal: InterruptSignal) => void,
): () => void {
  let count = 0;
  const handler = (signal: InterruptSignal): void => {
    count++;
    if (count === 1) graceful(signal);
    else immediate(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** What a run is aborted with when the user interrupts it. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError' as const;
  readonly signal: InterruptSignal;

  constructor(signal: InterruptSignal) {
    super(`Interrupted by ${signal}`);
    this.signal = signal;
  }
}
