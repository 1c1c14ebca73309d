/**
 * True for a promise or any object with a `then` method: what `await` would wait for. Stores and
 * inputs may answer either at once or later, and the hot path must not await what is already there.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}
