import type { LimitOptions, WindowLimit } from '../core/vocabulary.js';
import { parseGoDuration } from '../providers/go-duration.js';
import { UsageError } from './args.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * A Go-style duration (`100ms`, `10s`, `1.5m`, `1h30m`, as OpenAI's reset headers write them):
 * milliseconds, or a usage error naming the flag. Days: `--rpd` and `--tpd`.
 */
export function parseDurationFlag(command: string, flag: string, raw: string): number {
  const ms = parseGoDuration(raw.trim());
  if (ms === undefined || !(ms >= 1) || ms > 2 ** 31 - 1) {
    throw new UsageError(
      `${command}: --${flag} expects a duration such as 100ms, 10s, 1m or 1h (at least 1 ms), got ${JSON.stringify(raw)}`,
    );
  }
  return Math.round(ms);
}

/** `10/1s`, `60/10s`, `500/1m`: a request window, or a usage error naming the flag. */
export function parseLimitFlag(command: string, raw: string): WindowLimit {
  const match = /^\s*(\d[\d_]*)\s*\/\s*(.+)$/.exec(raw);
  const limit = match === null ? Number.NaN : Number((match[1] as string).replaceAll('_', ''));
  if (match === null || !Number.isSafeInteger(limit) || limit < 1) {
    throw new UsageError(
      `${command}: --limit expects <requests>/<duration>, e.g. 10/1s or 500/1m, got ${JSON.stringify(raw)}`,
    );
  }
  return { limit, windowMs: parseDurationFlag(command, 'limit', match[2] as string) };
}

/** The limits given on the command line. */
export interface LimitFlags {
  readonly rpm?: number | undefined;
  readonly rpd?: number | undefined;
  readonly tpm?: number | undefined;
  readonly tpd?: number | undefined;
  readonly itpm?: number | undefined;
  readonly otpm?: number | undefined;
  /** `--limit`: request windows of any length. */
  readonly windows: readonly WindowLimit[];
  /** `--min-interval`: at most one request per this many milliseconds. */
  readonly minIntervalMs?: number | undefined;
}

/**
 * The limiter options the flags make, or undefined when none is given (all learned from the
 * headers). `--rpm n` is also kept as ceil(n / 60) per second: providers may enforce a minute's
 * limit over shorter intervals.
 */
export function limitsFromFlags(f: LimitFlags): LimitOptions | undefined {
  const requests: WindowLimit[] = [...f.windows];
  if (f.rpm !== undefined)
    requests.push({ limit: f.rpm, windowMs: MINUTE }, { limit: Math.ceil(f.rpm / 60), windowMs: 1_000 });
  if (f.rpd !== undefined) requests.push({ limit: f.rpd, windowMs: DAY });
  if (f.minIntervalMs !== undefined) requests.push({ limit: 1, windowMs: f.minIntervalMs });
  const tokens: WindowLimit[] = [];
  if (f.tpm !== undefined) tokens.push({ limit: f.tpm, windowMs: MINUTE });
  if (f.tpd !== undefined) tokens.push({ limit: f.tpd, windowMs: DAY });
  const limits: LimitOptions = {
    ...(requests.length > 0 && { requests }),
    ...(tokens.length > 0 && { tokens }),
    ...(f.itpm !== undefined && { inputTokens: { limit: f.itpm, windowMs: MINUTE } }),
    ...(f.otpm !== undefined && { outputTokens: { limit: f.otpm, windowMs: MINUTE } }),
  };
  return Object.keys(limits).length === 0 ? undefined : limits;
}
