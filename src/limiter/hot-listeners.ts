/**
 * Calls `set(event, listening)` whenever the first listener of one of `events` is added or the
 * last one removed, so the hot path can read a field instead of calling `listenerCount`.
 */
export function watchListeners(
  emitter: NodeJS.EventEmitter,
  events: readonly string[],
  set: (event: string, listening: boolean) => void,
): void {
  // 'newListener' fires before the listener is added, 'removeListener' after it is gone.
  emitter.on('newListener', (event: string | symbol) => {
    if (typeof event === 'string' && events.includes(event)) set(event, true);
  });
  emitter.on('removeListener', (event: string | symbol) => {
    if (typeof event === 'string' && events.includes(event)) set(event, emitter.listenerCount(event) !== 0);
  });
}

/** Whether each of `events` has a listener now, kept up to date (see `watchListeners`). */
export function hotListeners<E extends string>(emitter: NodeJS.EventEmitter, events: readonly E[]): Record<E, boolean> {
  const hears = {} as Record<E, boolean>;
  for (const event of events) hears[event] = emitter.listenerCount(event) !== 0;
  watchListeners(emitter, events, (event, on) => {
    hears[event as E] = on;
  });
  return hears;
}

/**
 * Where a limiter calls a function with each admission's wait, when one is set: what metrics need
 * of every acquire, for the price of a call rather than an `acquired` event (a payload and an
 * emit). Internal: `forestall/otel` sets it.
 */
export const ACQUIRE_HOOK: unique symbol = Symbol('forestall.acquireHook');

/** @internal The fetch wrapper tells a limiter its leases will be restamped (see `LimiterStore.expectRestamps`). */
export const EXPECT_RESTAMPS: unique symbol = Symbol('forestall.expectRestamps');
