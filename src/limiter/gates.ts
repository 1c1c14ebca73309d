import type { ConcurrencyChangedEvent, PaceChangedEvent, RateLimitedEvent } from '../core/events.js';
import { PROVIDER_WINDOW_KINDS } from '../core/vocabulary.js';
import type { HeaderSync } from '../feedback/header-sync.js';
import { type RateLimitAnswer, rateLimitedEvent } from '../feedback/rate-limit-policy.js';
import { AdaptiveCap } from './adaptive-concurrency.js';
import type { ResolvedOptions } from './limits.js';
import { Pace } from './pace.js';

/** Where the gates' changes are told. */
export interface GateEvents {
  concurrencyChanged(event: ConcurrencyChangedEvent): void;
  paceChanged(event: PaceChangedEvent): void;
}

/**
 * What the limiter holds back itself, on top of what the store admits: one request first until
 * the provider has answered (header sync), the adaptive concurrency cap, and the pace that
 * repeated 429s set. Each is local to this limiter (a shared store's other processes have theirs).
 */
export class Gates {
  #adaptive: AdaptiveCap | undefined;
  readonly #pace: Pace;
  /**
   * Whether any rate limit is set or learned (a spend budget is none): a 429 with none means
   * overload to adaptive concurrency.
   */
  #hasWindows = false;
  /** Until when the pause after this limiter's last 429 lasts (for `diagnose()`). */
  rateLimitedUntil = 0;

  constructor(
    readonly sync: HeaderSync,
    /** Leases held now. */
    readonly inFlight: () => number,
    readonly events: GateEvents,
  ) {
    this.#pace = new Pace((event) => events.paceChanged(event));
  }

  /** The adaptive cap, when concurrency is adaptive. */
  get adaptive(): AdaptiveCap | undefined {
    return this.#adaptive;
  }

  /** The pace's least time between admissions; 0 when not pacing. */
  get paceIntervalMs(): number {
    return this.#pace.intervalMs;
  }

  /** The limits in force changed. */
  configure(limits: ResolvedOptions): void {
    const bounds = limits.adaptive;
    if (bounds === undefined) this.#adaptive = undefined;
    else if (this.#adaptive === undefined) this.#adaptive = new AdaptiveCap(bounds, this.events.concurrencyChanged);
    else this.#adaptive.rebound(bounds);
    this.#pace.configure(limits.requests);
    this.#hasWindows = PROVIDER_WINDOW_KINDS.some((kind) => limits[kind].length > 0);
  }

  /**
   * Until when nothing more may be admitted: in the past when an admission may start now,
   * Infinity until a lease is released.
   */
  holdUntil(now: number): number {
    const inFlight = this.inFlight();
    if (inFlight > 0 && (this.sync.probing || (this.#adaptive !== undefined && inFlight >= this.#adaptive.limit))) {
      return Number.POSITIVE_INFINITY;
    }
    return this.#pace.holdUntil(now);
  }

  /**
   * How many admissions may start together now (for a store that admits several per round trip):
   * none while `holdUntil` holds; one while the first contact is awaited or a pace spaces them (each
   * admission moves the pace on); the adaptive cap less the leases held; else Infinity.
   */
  room(now: number): number {
    if (this.holdUntil(now) > now) return 0;
    if (this.sync.probing || this.#pace.active) return 1;
    const adaptive = this.#adaptive;
    return adaptive === undefined ? Number.POSITIVE_INFINITY : adaptive.limit - this.inFlight();
  }

  /** A lease was issued now. */
  admitted(now: number): void {
    this.#pace.admitted(now);
  }

  /** A lease was released; `demand` is leases held (it included) plus callers waiting. */
  released(lease: object, cancelled: boolean, demand: number): void {
    this.#adaptive?.released(lease, cancelled, demand);
  }

  /** The provider answered overloaded to the request admitted at `admittedAt`. */
  overloaded(lease: object | undefined, admittedAt: number, now: number): void {
    this.#adaptive?.overloaded(lease, admittedAt, now);
  }

  /**
   * A 429 arrived now (`limiter.rateLimited(answer)`): it may slow the pace, and where no limit is
   * known it is an overload signal. Returns the `rateLimited` event, with its pause: while pacing,
   * a 429 naming no delay pauses one interval (a leaky bucket refuses what came early).
   */
  rateLimited(answer: RateLimitAnswer, now: number): RateLimitedEvent {
    const event = rateLimitedEvent(answer);
    const { admittedAt } = answer;
    if (!this.#hasWindows && admittedAt !== undefined) this.overloaded(undefined, admittedAt, now);
    this.#pace.refused(admittedAt, now);
    const paced =
      this.#pace.active && answer.retryAfterMs === undefined
        ? rateLimitedEvent({ ...answer, defaultPauseMs: this.#pace.intervalMs })
        : event;
    this.rateLimitedUntil = Math.max(this.rateLimitedUntil, now + paced.pauseMs);
    return paced;
  }
}
