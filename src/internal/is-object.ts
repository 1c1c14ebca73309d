/** A JSON object: what `JSON.parse` gives for `{...}`, or an options bag. */
export type JsonObject = Record<string, unknown>;

/** True for a non-null object that is not an array, so its fields can be read by name. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
