import { RequestWindow } from '../windows/request-window.js';
import { BUCKETED_FROM_MS, BucketedTokenWindow } from '../windows/bucketed-token-window.js';
import { TokenWindow } from '../windows/token-window.js';
import { closestWindow, refusalHeadroom, reportHold } from './remaining-report.js';
import type { AdmitResult, BlockingWindow, LimiterStore, RemainingReport, StoreEntry, StoreUsage } from './store.js';
import {
  type Cost,
  perWindowKind,
  type ResolvedLimits,
  TOKEN_WINDOW_KINDS,
  type WindowUsage,
} from '../core/vocabulary.js';

/** A token window: an exact log, or buckets for a long one (an hour or more). */
type TokenRule = TokenWindow<MemoryEntry> | BucketedTokenWindow<MemoryEntry>;

class MemoryEntry implements StoreEntry {
  released = false;
  cancelled = false;

  constructor(
    public start: number,
    public input: number,
    public output: number,
    public spend = 0,
  ) {}
}

/**
 * The default store: window logs in this process's memory. Every method answers synchronously,
 * so an acquire that need not wait completes without a timer or a microtask of its own.
 */
export class MemoryStore implements LimiterStore {
  /** Every method answers at once. */
  readonly synchronous = true;
  #requests: RequestWindow[] = [];
  #tokens: TokenRule[] = [];
  #concurrency = Number.POSITIVE_INFINITY;
  #inFlight = 0;
  #pausedUntil = 0;

  configure(limits: ResolvedLimits): void {
    const history = this.#history();
    const margin = limits.marginMs;
    // A bucketed window of the same kind and length is kept as it is (its limit set): its buckets
    // hold no entries, so one rebuilt from them could not reconcile the requests in flight.
    const kept = new Map<string, BucketedTokenWindow<MemoryEntry>>();
    for (const rule of this.#tokens) if (rule instanceof BucketedTokenWindow) kept.set(shapeOf(rule), rule);
    const reused = new Set<TokenRule>();
    this.#requests = limits.requests.map((w) => new RequestWindow(w.limit, w.windowMs, w.windowMs + margin));
    this.#tokens = TOKEN_WINDOW_KINDS.flatMap((kind) =>
      limits[kind].map((w): TokenRule => {
        const span = w.windowMs + margin;
        if (w.windowMs < BUCKETED_FROM_MS) return new TokenWindow<MemoryEntry>(kind, w.limit, w.windowMs, span);
        const same = kept.get(shapeOf({ kind, windowMs: w.windowMs, span }));
        if (same === undefined || reused.has(same))
          return new BucketedTokenWindow<MemoryEntry>(kind, w.limit, w.windowMs, span);
        same.limit = w.limit;
        reused.add(same);
        return same;
      }),
    );
    this.#concurrency = limits.concurrency;
    // Requests already started keep counting against the new limits; nothing is forgotten.
    for (const start of history.starts) for (const rule of this.#requests) rule.add(start);
    for (const rule of this.#tokens) {
      if (reused.has(rule)) continue;
      const exact = rule instanceof TokenWindow && history.entries.length > 0;
      for (const entry of exact || history.summary.length === 0 ? history.entries : history.summary) rule.add(entry);
    }
  }

  earliest(cost: Cost, now: number): number {
    if (this.#inFlight >= this.#concurrency) return Number.POSITIVE_INFINITY;
    let at = Math.max(this.#pausedUntil, now);
    for (const rule of this.#requests) {
      const t = rule.earliest(now);
      if (t > at) at = t;
    }
    for (const rule of this.#tokens) {
      const amount = rule.charge(cost);
      if (amount === 0) continue;
      const t = rule.earliest(amount, now);
      if (t > at) at = t;
    }
    return at;
  }

  admit(cost: Cost, now: number): AdmitResult {
    const at = this.earliest(cost, now);
    if (at > now) return at;
    const entry = new MemoryEntry(now, cost.input, cost.output, cost.spend);
    for (const rule of this.#requests) rule.add(now);
    for (const rule of this.#tokens) rule.add(entry);
    this.#inFlight++;
    return entry;
  }

  /**
   * Counts a request admitted elsewhere at `at`, beyond the limits if so, holding no concurrency
   * slot: the Redis store's own recent admissions, when an outage hands its quota to these books.
   * @internal
   */
  record(cost: Cost, at: number, now: number): void {
    const entry = new MemoryEntry(at, cost.input, cost.output, cost.spend);
    entry.released = true;
    for (const rule of this.#requests) rule.insert(at, now);
    for (const rule of this.#tokens) rule.insert(entry, now);
  }

  reconcile(entry: StoreEntry, cost: Cost, now: number): void {
    const e = entry as MemoryEntry;
    if (e.cancelled) return;
    for (const rule of this.#tokens) rule.recharge(e, cost, now);
    e.input = cost.input;
    e.output = cost.output;
    e.spend = cost.spend ?? 0;
  }

  cancel(entry: StoreEntry, now: number): void {
    const e = entry as MemoryEntry;
    if (e.cancelled) return;
    e.cancelled = true;
    for (const rule of this.#requests) rule.remove(e.start, now);
    for (const rule of this.#tokens) rule.remove(e, now);
  }

  restamp(entry: StoreEntry, at: number, now: number = at): void {
    const e = entry as MemoryEntry;
    if (e.cancelled || at <= e.start) return;
    for (const rule of this.#requests) {
      rule.remove(e.start, now);
      rule.insert(at, now);
    }
    for (const rule of this.#tokens) rule.remove(e, now);
    e.start = at;
    for (const rule of this.#tokens) rule.insert(e, now);
  }

  learnOthersShare(report: RemainingReport, now: number): number {
    const rule =
      report.kind === 'requests'
        ? closestWindow(this.#requests, report.windowMs)
        : closestWindow(
            this.#tokens.filter((r) => r.kind === report.kind),
            report.windowMs,
          );
    if (rule === undefined) return 0;
    // The least others must have used: as if the server had counted every request of ours, even
    // those that left the window between its answer and now, so ours are never taken for theirs.
    let seen = rule.limit - rule.usedSince(report.since, now) - report.remaining;
    const refused = rule instanceof RequestWindow && report.refused === true && report.remaining < 1;
    if (rule instanceof RequestWindow) seen = Math.floor(seen);
    const { foreign, until } = reportHold(report, rule.limit, now);
    // What the server counts as used now, by everyone: no share of others' can be more.
    const total = foreign ? undefined : rule.limit - report.remaining;
    const level = rule.others.observe(seen, until, now, total);
    // A 429 the limiter let through: room for one more of theirs (at most a tenth of the limit).
    return refused ? rule.others.refused(refusalHeadroom(rule.limit), until, now) : level;
  }

  release(entry: StoreEntry): void {
    const e = entry as MemoryEntry;
    if (e.released) return;
    e.released = true;
    this.#inFlight--;
  }

  pause(until: number, now: number = until): void {
    if (until > this.#pausedUntil) this.#pausedUntil = until;
    // Nothing is sent, so nothing is learned, during a pause: others' shares must outlast it.
    for (const rule of [...this.#requests, ...this.#tokens]) {
      rule.others.outlast(until, rule.windowMs, now);
    }
  }

  usage(now: number): StoreUsage {
    // What the limiter counts as used: ours plus what others were seen to use.
    const used = (rule: RequestWindow | TokenRule): number => rule.used(now) + rule.others.at(now);
    const of = (rule: RequestWindow | TokenRule): WindowUsage => windowUsage(rule.limit, rule.windowMs, used(rule));
    return {
      ...perWindowKind((kind) =>
        kind === 'requests' ? this.#requests.map(of) : this.#tokens.filter((rule) => rule.kind === kind).map(of),
      ),
      inFlight: this.#inFlight,
      pausedUntil: this.#pausedUntil > now ? this.#pausedUntil : 0,
    };
  }

  blocking(cost: Cost, now: number): BlockingWindow[] {
    const out: BlockingWindow[] = [];
    const add = (rule: RequestWindow | TokenRule, needs: number, freesAt: number): void => {
      const kind = rule instanceof RequestWindow ? 'requests' : rule.kind;
      const { windowMs, limit } = rule;
      out.push({ kind, windowMs, limit, used: rule.used(now), othersShare: rule.others.at(now), needs, freesAt });
    };
    for (const rule of this.#requests) {
      const at = rule.earliest(now);
      if (at > now) add(rule, 1, at);
    }
    for (const rule of this.#tokens) {
      const amount = rule.charge(cost);
      const at = amount === 0 ? now : rule.earliest(amount, now);
      if (at > now) add(rule, amount, at);
    }
    return out;
  }

  /**
   * Starts and token entries still in some window, oldest first. Every window records every
   * admission, so the longest window of each kind holds all of its kind. When there were request
   * windows but no token windows (or the reverse), the other kind is rebuilt from what there is.
   * A bucketed window keeps no entries: its buckets come as entries of their own (`summary`,
   * each counted from its latest start), which a new bucketed window takes (and an exact one, when
   * no exact window kept the entries themselves).
   */
  #history(): { starts: number[]; entries: MemoryEntry[]; summary: MemoryEntry[] } {
    const longest = <R extends { span: number }>(rules: readonly R[]): R | undefined =>
      rules.reduce<R | undefined>((best, r) => (best === undefined || r.span > best.span ? r : best), undefined);
    const requestRule = longest(this.#requests);
    const exact = longest(this.#tokens.filter((r): r is TokenWindow<MemoryEntry> => r instanceof TokenWindow));
    const bucketed = longest(this.#tokens.filter((r) => r instanceof BucketedTokenWindow));
    const entries = exact === undefined ? [] : [...exact.entries()];
    const summary: MemoryEntry[] = [];
    if (bucketed instanceof BucketedTokenWindow) {
      for (const b of bucketed.summary()) {
        const entry = new MemoryEntry(b.start, b.input, b.output, b.spend);
        entry.released = true;
        summary.push(entry);
      }
    }
    let starts = requestRule === undefined ? [] : [...requestRule.starts()];
    if (exact !== undefined && (requestRule === undefined || exact.span > requestRule.span)) {
      starts = entries.map((e) => e.start);
    }
    return { starts, entries, summary };
  }
}

/** A token window's kind and length, which a new configuration may keep. */
function shapeOf(rule: { readonly kind: string; readonly windowMs: number; readonly span: number }): string {
  return `${rule.kind}:${rule.windowMs}:${rule.span}`;
}

function windowUsage(limit: number, windowMs: number, used: number): WindowUsage {
  return { limit, windowMs, used, remaining: Math.max(0, limit - used) };
}
