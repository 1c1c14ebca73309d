import type { PaceChangedEvent } from '../core/events.js';
import type { ResolvedWindow } from '../core/vocabulary.js';

/** What a 429 that slows the pace leaves of it. */
const DECREASE = 0.8;
/** The slowest pace: a twentieth of the limits' rate (429s from others' use alone must not stall it). */
const SLOWEST = 0.05;
/** What each quiet step gives back, as a share of the limits' rate, well below the pace refused. */
const QUICK = 0.05;
/** ... and near it: how far below the refused pace quick recovery stops. */
const NEAR = 0.95;
/** Beyond that, a window's worth of quiet gives back half a percent: the refused pace is met seldom. */
const SLOW = 0.005;
/** Quiet steps at the full rate after which pacing ends. */
const STEPS_TO_END = 10;

/**
 * Repeated 429s although the limits had room: a server that enforces a leaky bucket (nginx's
 * `limit_req`, one request per interval) refuses a burst the sliding window allows, and a limit
 * shared with unknown others refuses what ours allows. A 429 to a request admitted after the
 * previous 429 arrived (so the pause did not help) within two windows of it starts pacing:
 * admissions at least `interval` apart, at `factor` times the limits' rate (their tightest request
 * window's `limit / windowMs`). Each further such 429 lowers the factor by a fifth (to a twentieth
 * at the least). Each quiet step
 * (the tightest window's length without one) gives back 5% of the rate up to 95% of the pace last
 * refused, then 0.5% (slowly, where the server refused before: jitter in the way to a leaky bucket
 * refuses near its rate); ten quiet steps at the full rate end pacing. A limiter with no request window cannot pace.
 */
export class Pace {
  #factor = 1;
  /** The factor the last slowing 429 refused. */
  #refused = 1;
  #active = false;
  /** The limits' tightest request window: the rate (limit / windowMs) and the step (windowMs). */
  #window: ResolvedWindow | undefined;
  #lastRefusalAt = Number.NEGATIVE_INFINITY;
  #changedAt = 0;
  #nextAt = Number.NEGATIVE_INFINITY;

  constructor(readonly changed: (event: PaceChangedEvent) => void) {}

  /** Whether admissions are spaced. */
  get active(): boolean {
    return this.#active;
  }

  /** The least time between two admissions now; 0 when not pacing. */
  get intervalMs(): number {
    const w = this.#window;
    return this.#active && w !== undefined ? w.windowMs / (w.limit * this.#factor) : 0;
  }

  /** The request windows in force (configured or learned). */
  configure(requests: readonly ResolvedWindow[]): void {
    let tightest: ResolvedWindow | undefined;
    for (const w of requests)
      if (tightest === undefined || w.limit / w.windowMs < tightest.limit / tightest.windowMs) tightest = w;
    this.#window = tightest;
    if (tightest === undefined && this.#active) this.#end(this.#changedAt);
  }

  /**
   * A 429 to a request admitted at `admittedAt` arrived now; returns true when it slowed the pace
   * (or started pacing).
   */
  refused(admittedAt: number | undefined, now: number): boolean {
    const w = this.#window;
    const previous = this.#lastRefusalAt;
    this.#lastRefusalAt = now;
    if (w === undefined || admittedAt === undefined) return false;
    if (admittedAt < previous || now - previous > 2 * w.windowMs) return false;
    this.#recover(now);
    this.#refused = this.#active ? this.#factor : 1;
    this.#factor = Math.max(SLOWEST, this.#refused * DECREASE);
    this.#active = true;
    this.#changedAt = now;
    this.#nextAt = Math.max(this.#nextAt, now + this.intervalMs);
    this.changed({ factor: this.#factor, intervalMs: this.intervalMs, reason: 'rate-limited' });
    return true;
  }

  /** The earliest moment the next admission may start (in the past when it may start now). */
  holdUntil(now: number): number {
    if (!this.#active) return Number.NEGATIVE_INFINITY;
    this.#recover(now);
    return this.#nextAt;
  }

  /** An admission started now: the next one waits an interval. */
  admitted(now: number): void {
    if (this.#active) this.#nextAt = now + this.intervalMs;
  }

  #recover(now: number): void {
    const w = this.#window;
    if (!this.#active || w === undefined) return;
    const steps = Math.floor((now - this.#changedAt) / w.windowMs);
    if (steps <= 0) return;
    const at = this.#changedAt + steps * w.windowMs;
    if (this.#factor >= 1) {
      if (steps >= STEPS_TO_END) this.#end(at);
      return;
    }
    const near = this.#refused * NEAR;
    let factor = this.#factor;
    for (let i = 0; i < steps && factor < 1; i++)
      factor = factor < near ? Math.min(near, factor + QUICK) : factor + SLOW;
    this.#factor = Math.min(1, factor);
    this.#changedAt = at;
    this.changed({ factor: this.#factor, intervalMs: this.intervalMs, reason: 'recovered' });
  }

  #end(at: number): void {
    this.#active = false;
    this.#factor = 1;
    this.#changedAt = at;
    this.#nextAt = Number.NEGATIVE_INFINITY;
    this.changed({ factor: 1, intervalMs: 0, reason: 'recovered' });
  }
}
