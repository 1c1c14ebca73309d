/**
 * The ground floor: the words every part of forestall shares (window kinds, costs, limits,
 * usage). Imports nothing of forestall's, so any module may import it.
 */

/** What one request takes: its tokens, and what it costs in the user's currency (spend budgets). */
export interface Cost {
  readonly input: number;
  readonly output: number;
  /** The price of the request, for `spend` budgets. @default 0 */
  readonly spend?: number;
}

/** What one kind of window is, and what a request takes of it. */
export interface WindowKindInfo {
  /** What the window counts, for messages. */
  readonly unit: 'requests' | 'tokens' | 'spend';
  /** The kind in words, for messages: `input tokens`. */
  readonly label: string;
  /** Whether a limit of this kind must be a whole number. */
  readonly whole: boolean;
  /** How much of a window of this kind a request with `cost` takes. */
  charge(cost: Cost): number;
}

/**
 * The kinds of window a limiter keeps, declared once. Options, resolved limits, stats, usage,
 * events, stores and the mock derive their fields from this table, so a new kind is one entry
 * here (and a store that keeps it).
 */
export const WINDOW_KIND_TABLE = {
  /**
   * Request windows: at most `limit` starts in any `windowMs` (a sliding log, not fixed buckets).
   * Several at once, e.g. `[{ limit: 20, windowMs: 1_000 }, { limit: 500, windowMs: 60_000 }]`.
   */
  requests: { unit: 'requests', label: 'requests', whole: true, charge: (_cost: Cost): number => 1 },
  /** Token budgets per window, charged `input + output` of each request. */
  tokens: { unit: 'tokens', label: 'tokens', whole: false, charge: (cost: Cost): number => cost.input + cost.output },
  /** Input-token budgets per window (Anthropic ITPM), charged the cost's `input`. */
  inputTokens: { unit: 'tokens', label: 'input tokens', whole: false, charge: (cost: Cost): number => cost.input },
  /** Output-token budgets per window (Anthropic OTPM), charged the cost's `output`. */
  outputTokens: { unit: 'tokens', label: 'output tokens', whole: false, charge: (cost: Cost): number => cost.output },
  /**
   * Spend budgets per window, in the currency the user prices in (`$10` a day): charged the
   * request's `spend`, reserved at its estimate and reconciled to what it really cost.
   */
  spend: { unit: 'spend', label: 'spend', whole: false, charge: (cost: Cost): number => cost.spend ?? 0 },
} as const satisfies Record<string, WindowKindInfo>;

/** The kinds of window a limiter keeps: `requests`, `tokens`, `inputTokens`, `outputTokens`, `spend`. */
export type WindowKind = keyof typeof WINDOW_KIND_TABLE;

/** The kinds that count tokens. */
export type TokenWindowKind = Exclude<WindowKind, 'requests'>;

/** The window kinds, in a fixed order. */
export const WINDOW_KINDS = Object.freeze(Object.keys(WINDOW_KIND_TABLE)) as readonly WindowKind[];

/** The kinds a provider's rate-limit headers report (all but `spend`), in a fixed order. */
export type ProviderWindowKind = Exclude<WindowKind, 'spend'>;
export const PROVIDER_WINDOW_KINDS = WINDOW_KINDS.filter((kind) => kind !== 'spend') as readonly ProviderWindowKind[];

/** The token kinds, in a fixed order. */
export const TOKEN_WINDOW_KINDS = WINDOW_KINDS.filter((kind) => kind !== 'requests') as readonly TokenWindowKind[];

/** One value per window kind (the table's own docs carry over to each field). */
export type PerWindowKind<T> = { readonly [K in keyof typeof WINDOW_KIND_TABLE]: T };

/** Builds a value per window kind. */
export function perWindowKind<T>(make: (kind: WindowKind) => T): PerWindowKind<T> {
  const out = {} as Record<WindowKind, T>;
  for (const kind of WINDOW_KINDS) out[kind] = make(kind);
  return out;
}

/** One window of a resolved configuration: `limit` units in any `windowMs` (margin not included). */
export interface ResolvedWindow {
  readonly limit: number;
  readonly windowMs: number;
}

/** A limiter's limits after validation: every list present (maybe empty), numbers checked. */
export interface ResolvedLimits extends PerWindowKind<readonly ResolvedWindow[]> {
  /** `Infinity` when unlimited. */
  readonly concurrency: number;
  /** Added to every window's length. */
  readonly marginMs: number;
}

/** Use of one window at a moment, for `limiter.stats()`. */
export interface WindowUsage {
  readonly limit: number;
  readonly windowMs: number;
  /** Requests started (or tokens charged) in the window ending now. */
  readonly used: number;
  readonly remaining: number;
}

/** At most `limit` units in **any** interval of `windowMs` milliseconds. */
export interface WindowLimit {
  /** How many request starts (or tokens) one window allows. */
  readonly limit: number;
  /** The window's length in milliseconds. */
  readonly windowMs: number;
}

/** `concurrency: { adaptive: true, max, min?, initial? }` (see `LimitOptions.concurrency`). */
export interface AdaptiveConcurrency {
  readonly adaptive: true;
  /** Never more leases at once. */
  readonly max: number;
  /** Never fewer. @default 1 */
  readonly min?: number | undefined;
  /** Where the cap starts. @default min */
  readonly initial?: number | undefined;
}

/** A token cost: a plain number counts as input tokens. */
export type TokenCost = number | { readonly input?: number; readonly output?: number };

/** One window, or several at once. */
export type WindowLimits = WindowLimit | readonly WindowLimit[];

/** The limits a limiter enforces; every field is optional, and any subset can be changed later. */
export interface LimitOptions extends Partial<PerWindowKind<WindowLimits | undefined>> {
  /**
   * At most this many leases held at once; or `{ adaptive: true, max, min?, initial? }`: a cap the
   * limiter finds from the provider's answers, growing while requests succeed and shrinking on
   * overload signals, never below `min` (default 1) or above `max`. @default unlimited
   */
  readonly concurrency?: number | AdaptiveConcurrency | undefined;
  /** Waiting callers beyond this many are rejected at once with `QueueFullError`. @default unlimited */
  readonly maxQueue?: number | undefined;
  /**
   * Extra milliseconds added to every window, so a provider that sees arrival times with network
   * jitter still sees the limit kept. @default 0
   */
  readonly marginMs?: number | undefined;
}

/** Options of `limiter.acquire()` and `limiter.tryAcquire()`. */
export interface AcquireOptions {
  /** The token reservation: a number (input tokens) or `{ input, output }`. @default 0 */
  readonly tokens?: TokenCost | undefined;
  /** What the request is expected to cost, for `spend` budgets (reconcile it to the real cost). @default 0 */
  readonly spend?: number | undefined;
  /** Higher goes first; equal priorities are served in arrival order. @default 0 */
  readonly priority?: number | undefined;
  /** Aborting it removes the caller from the queue and rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Reject with `AcquireTimeoutError` when not admitted within this many ms. */
  readonly timeoutMs?: number | undefined;
}
