import {
  type PerWindowKind,
  type ResolvedWindow,
  WINDOW_KIND_TABLE,
  PROVIDER_WINDOW_KINDS,
  type ProviderWindowKind,
} from '../core/vocabulary.js';
import type { TokenAmounts } from './mock-limits.js';

/** What happened to one request. */
export type MockOutcome =
  /** Still being read or waiting for its turn at the limits. */
  | 'pending'
  /** Admitted and answered (or being answered) normally. */
  | 'accepted'
  /** Refused with 429: over a limit for now. */
  | 'rate-limited'
  /** Refused with 429: larger than a whole limit, can never succeed. */
  | 'too-large'
  /** Admitted, then answered with a deliberate 500. */
  | 'error500'
  /** Admitted, then its connection was destroyed on purpose. */
  | 'reset'
  /** Admitted, then never answered on purpose. */
  | 'hang'
  /** Refused with 529 (Anthropic) or 503 (OpenAI): over `capacity.concurrency` in flight. Never reaches the limits. */
  | 'overloaded'
  /** Refused with 400: not JSON, or a required field missing. Never reaches the limits. */
  | 'bad-request'
  /** A path or method the mock does not serve (404). Never reaches the limits. */
  | 'not-found';

/** One request the server saw. */
export interface MockRequestRecord {
  /** Arrival order, from 1. */
  readonly seq: number;
  /** Arrival time in milliseconds since the server started (monotonic clock). */
  readonly arrivedAt: number;
  readonly method: string;
  /** The path without query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly outcome: MockOutcome;
  /** The HTTP status sent; absent for resets and hangs. */
  readonly status?: number;
  /**
   * The caller's identifier for the request: header `x-forestall-id`, `x-request-id` or
   * `idempotency-key`, else body `metadata.forestall_id`, `metadata.id` or `metadata.custom_id`.
   */
  readonly id?: string;
  /** SHA-256 of the raw body (first 16 hex digits), to spot identical bodies. */
  readonly bodyHash: string;
  readonly model?: string;
  readonly stream?: boolean;
  /** The up-front charge (prompt tokens + maximum output). */
  readonly reserved?: TokenAmounts;
  /** What the request is charged now: the reservation until corrected, then real usage (0 for faults). */
  readonly charged?: TokenAmounts;
}

/** The busiest window of one configured limit. */
export interface MockWindowStats {
  readonly kind: ProviderWindowKind;
  readonly limit: number;
  readonly windowMs: number;
  /** Most units (requests or corrected tokens) admitted in any interval of `windowMs`. */
  readonly maxInWindow: number;
  /**
   * The same over every request that reached the limits, refused ones included (at their
   * requested amounts): what the client sent, whatever the server made of it.
   */
  readonly maxArrivedInWindow: number;
}

/** What `server.stats()` reports since the start or the last `reset()`. */
export interface MockStats {
  /** Every request received. */
  readonly total: number;
  /** Admitted and answered normally. */
  readonly accepted: number;
  /** Answered 429 (rate limited or too large). */
  readonly rejected429: number;
  readonly errors500: number;
  readonly resets: number;
  readonly hangs: number;
  /** Answered overloaded (529 or 503): over `capacity.concurrency` in flight. */
  readonly overloaded: number;
  /** Most requests in flight at once (admitted and not yet answered). */
  readonly maxInFlight: number;
  /** Answered 400 or 404. */
  readonly badRequests: number;
  /**
   * Most requests admitted in any window of the first configured request window's length (60 s when
   * none is configured). "Admitted" includes faulted requests, which take a request slot too.
   */
  readonly maxRequestsInWindow: number;
  /** Most requests that arrived (refused ones too) in any such window. */
  readonly maxArrivalsInWindow: number;
  /** Most tokens (corrected) admitted in any window of the first `tokens` window's length (else 60 s). */
  readonly maxTokensInWindow: number;
  /** The same for input tokens and the first `inputTokens` window. */
  readonly maxInputTokensInWindow: number;
  /** The same for output tokens and the first `outputTokens` window. */
  readonly maxOutputTokensInWindow: number;
  /** Every configured limit's busiest window, in configuration order. */
  readonly windows: readonly MockWindowStats[];
  /** Tokens charged over all admitted requests after correction (input + output). */
  readonly tokensCharged: number;
  /** Input tokens charged after correction. */
  readonly inputTokens: number;
  /** Output tokens charged after correction. */
  readonly outputTokens: number;
  /** Requests per path. */
  readonly byPath: Readonly<Record<string, number>>;
  /** Identifiers (see {@link MockRequestRecord.id}) of requests accepted more than once. */
  readonly duplicates: readonly string[];
  /** Every request, in arrival order. */
  readonly requestsSeen: readonly MockRequestRecord[];
}

/** A record the server fills in as the request goes along. */
export type MutableRecord = { -readonly [K in keyof MockRequestRecord]: MockRequestRecord[K] };

const ADMITTED: ReadonlySet<MockOutcome> = new Set(['accepted', 'error500', 'reset', 'hang']);
const REFUSED: ReadonlySet<MockOutcome> = new Set(['rate-limited', 'too-large']);
const DEFAULT_WINDOW_MS = 60_000;

/** A record without token amounts charges no tokens, and still counts in request windows. */
const NO_TOKENS: TokenAmounts = { input: 0, output: 0 };

function amountOf(kind: ProviderWindowKind, record: MockRequestRecord, use: 'charged' | 'reserved'): number {
  return WINDOW_KIND_TABLE[kind].charge(record[use] ?? record.charged ?? record.reserved ?? NO_TOKENS);
}

/**
 * The most units in any half-open interval `[t, t + windowMs)`; it suffices to try intervals that
 * start at an arrival. Records are in arrival order, so two pointers do it in one pass.
 */
function maxInWindow(points: readonly { at: number; amount: number }[], windowMs: number): number {
  let best = 0;
  let sum = 0;
  let end = 0;
  for (let start = 0; start < points.length; start++) {
    const from = (points[start] as { at: number }).at;
    while (end < points.length && (points[end] as { at: number }).at < from + windowMs) {
      sum += (points[end] as { amount: number }).amount;
      end++;
    }
    best = Math.max(best, sum);
    sum -= (points[start] as { amount: number }).amount;
  }
  return best;
}

/** Computes {@link MockStats} from the records. */
export function computeStats(
  records: readonly MutableRecord[],
  windows: PerWindowKind<readonly ResolvedWindow[]>,
  maxInFlight: number,
): MockStats {
  const admitted = records.filter((r) => ADMITTED.has(r.outcome));
  const arrived = records.filter((r) => ADMITTED.has(r.outcome) || REFUSED.has(r.outcome));
  const busiest = (kind: ProviderWindowKind, windowMs: number, which: 'admitted' | 'arrived'): number =>
    maxInWindow(
      (which === 'admitted' ? admitted : arrived).map((r) => ({
        at: r.arrivedAt,
        amount: amountOf(kind, r, ADMITTED.has(r.outcome) ? 'charged' : 'reserved'),
      })),
      windowMs,
    );
  const firstWindow = (kind: ProviderWindowKind): number => windows[kind][0]?.windowMs ?? DEFAULT_WINDOW_MS;

  const windowStats: MockWindowStats[] = [];
  for (const kind of PROVIDER_WINDOW_KINDS) {
    for (const w of windows[kind]) {
      windowStats.push({
        kind,
        limit: w.limit,
        windowMs: w.windowMs,
        maxInWindow: busiest(kind, w.windowMs, 'admitted'),
        maxArrivedInWindow: busiest(kind, w.windowMs, 'arrived'),
      });
    }
  }

  const byPath: Record<string, number> = {};
  for (const r of records) byPath[r.path] = (byPath[r.path] ?? 0) + 1;

  const seen = new Map<string, number>();
  for (const r of records)
    if (r.outcome === 'accepted' && r.id !== undefined) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);

  let input = 0;
  let output = 0;
  for (const r of admitted) {
    input += r.charged?.input ?? 0;
    output += r.charged?.output ?? 0;
  }
  const count = (outcome: MockOutcome): number => records.filter((r) => r.outcome === outcome).length;

  return {
    total: records.length,
    accepted: count('accepted'),
    rejected429: count('rate-limited') + count('too-large'),
    errors500: count('error500'),
    resets: count('reset'),
    hangs: count('hang'),
    overloaded: count('overloaded'),
    maxInFlight,
    badRequests: count('bad-request') + count('not-found'),
    maxRequestsInWindow: busiest('requests', firstWindow('requests'), 'admitted'),
    maxArrivalsInWindow: busiest('requests', firstWindow('requests'), 'arrived'),
    maxTokensInWindow: busiest('tokens', firstWindow('tokens'), 'admitted'),
    maxInputTokensInWindow: busiest('inputTokens', firstWindow('inputTokens'), 'admitted'),
    maxOutputTokensInWindow: busiest('outputTokens', firstWindow('outputTokens'), 'admitted'),
    windows: windowStats,
    tokensCharged: input + output,
    inputTokens: input,
    outputTokens: output,
    byPath,
    duplicates: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
    requestsSeen: records.map((r) => ({
      ...r,
      ...(r.reserved ? { reserved: { ...r.reserved } } : {}),
      ...(r.charged ? { charged: { ...r.charged } } : {}),
    })),
  };
}
