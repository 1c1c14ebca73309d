import { describeValue } from './describe.js';

/*
 * Option checks shared by every public entry point. Each throws at once with a message that names
 * the option (with its path, e.g. `requests[1].windowMs`) and shows the value it got.
 */

function fail(kind: 'type' | 'range', name: string, expected: string, value: unknown): never {
  const message = `Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

function number(name: string, value: unknown, expected: string): number {
  if (typeof value !== 'number') fail('type', name, expected, value);
  if (!Number.isFinite(value)) fail('range', name, expected, value);
  return value;
}

/** A finite number > 0. */
export function positiveNumber(name: string, value: unknown): number {
  const n = number(name, value, 'a positive finite number');
  if (n <= 0) fail('range', name, 'a positive finite number', value);
  return n;
}

/** A finite number >= 0. */
export function nonNegativeNumber(name: string, value: unknown): number {
  const n = number(name, value, 'a non-negative finite number');
  if (n < 0) fail('range', name, 'a non-negative finite number', value);
  return n;
}

/** An integer >= 1. */
export function positiveInteger(name: string, value: unknown): number {
  const n = number(name, value, 'a positive integer');
  if (n < 1 || !Number.isInteger(n)) fail('range', name, 'a positive integer', value);
  return n;
}

/** An integer >= 0. */
export function nonNegativeInteger(name: string, value: unknown): number {
  const n = number(name, value, 'a non-negative integer');
  if (n < 0 || !Number.isInteger(n)) fail('range', name, 'a non-negative integer', value);
  return n;
}

/** Any finite number. */
export function finiteNumber(name: string, value: unknown): number {
  return number(name, value, 'a finite number');
}

/** `true` or `false`. */
export function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail('type', name, 'true or false', value);
  return value;
}

/** A plain object (not null, not an array). */
export function plainObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('type', name, 'an object', value);
  return value as Record<string, unknown>;
}

/** A function. */
export function callable<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== 'function') fail('type', name, 'a function', value);
  return value as T;
}

/** An `AbortSignal`. */
export function abortSignal(name: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) fail('type', name, 'an AbortSignal', value);
  return value;
}

/** Throws when `options` has a key outside `known` (a misspelt option must not be ignored). */
export function knownKeys(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option \`${key}\` in ${where}; expected one of: ${known.join(', ')}`);
    }
  }
}
