import type { JsonObject } from '../internal/is-object.js';

/*
 * Request bodies come from users and SDKs, not from us: a field of the wrong type is treated as
 * absent (the provider will reject the request itself), never as a reason to throw here.
 */

/** `body[name]` when it is a whole number >= `min`, else `undefined`. Internal. */
export function integerField(body: JsonObject, name: string, min = 0): number | undefined {
  const value = body[name];
  return typeof value === 'number' && Number.isInteger(value) && value >= min ? value : undefined;
}

/** True for an array of numbers: one pre-tokenized text. Internal. */
export function isTokenIds(value: unknown): value is readonly number[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'number');
}
