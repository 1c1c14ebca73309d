import { parseArgs, type ParseArgsConfig } from 'node:util';
import { messageOf } from '../internal/message-of.js';

/** A mistake in how the command was called: reported with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError' as const;
}

/** The option definitions `parseArgs` takes. */
export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/** What `parseFlags` returns: the values by long name, and the positionals. */
export interface ParsedFlags {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/**
 * `parseArgs` in strict mode, with its errors turned into `UsageError`s that name the command
 * (`forestall batch: unknown option --foo`).
 */
export function parseFlags(command: string, args: readonly string[], options: FlagSpec): ParsedFlags {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    const message = messageOf(error);
    // Node's messages end with advice about `--` that does not apply here.
    throw new UsageError(`${command}: ${message.replace(/\s*To specify a positional argument.*$/s, '')}`);
  }
}

/** A string flag's value, or undefined when absent. */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A flag that must be a whole number of at least 1, or undefined when absent. */
export function positiveIntegerFlag(command: string, flags: ParsedFlags, name: string): number | undefined {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return undefined;
  const value = Number(raw.replaceAll('_', ''));
  if (!/^\s*[0-9_]+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${command}: --${name} expects a whole number of at least 1, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A flag that must be a positive number, or undefined when absent. */
export function positiveNumberFlag(command: string, flags: ParsedFlags, name: string): number | undefined {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${command}: --${name} expects a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}
