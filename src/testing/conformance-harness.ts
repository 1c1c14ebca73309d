import { performance } from 'node:perf_hooks';
import type { LimitOptions } from '../core/vocabulary.js';
import type { Lease } from '../limiter/lease.js';
import { Limiter } from '../limiter/limiter.js';
import type { StoreCapabilities, StoreCapability } from '../stores/capabilities.js';
import type { LimiterStore } from '../stores/store.js';
import { AT_ONCE, CallLog, recordingStore, Tracked } from './conformance-recording.js';
import { FakeClock } from './fake-clock.js';
import { sleep } from '../internal/sleep.js';

/*
 * What every conformance case drives a store with: a real `Limiter` on a fake clock (exact) or on
 * real timers (with tolerances, for a store that keeps its own clock), a record of every call the
 * limiter makes to the store, and assertions on when acquires are admitted.
 */

/** What `limiter.acquire()` takes. */
type AcquireOptions = Parameters<Limiter['acquire']>[0];

/** Slack of the real-time variants, in the direction that cannot break a limit. */
const SLACK_MS = 5;
/**
 * The same for a store that keeps its own clock (Redis `TIME`): it tells when room comes back on
 * its clock, which the limiter maps to its own through a round trip, off by up to half of one on
 * a busy machine. The limit holds on the store's clock; ours sees it a few ms early.
 */
const OWN_CLOCK_SLACK_MS = 15;

/** One macrotask turn: every pending promise callback runs first. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** How a case runs: on a fake clock, or on real timers for a store with its own clock. */
export interface HarnessSettings {
  /** Real timers and tolerances (the store declares `ownClock: true`). */
  readonly real: boolean;
  /** The window length the cases use: 1,000 on the fake clock, `options.windowMs` on real timers. */
  readonly windowMs: number;
}

/** What a hung case reports: the step it was at. */
export interface Progress {
  /** What the case was doing last, in words: `waiting for the 4th start to start at 1000 ms`. */
  step: string;
}

/** One conformance case, as the suite defines it. */
export interface ConformanceCaseSpec {
  /** The case's name, unique within the suite. */
  readonly name: string;
  /** The capabilities the case needs, with the value it needs (skipped otherwise). */
  readonly needs?: Partial<Record<StoreCapability, boolean>>;
  /** Drives the harness's store; rejects with the contract broken. */
  run(h: Harness): Promise<void>;
}

/** A fresh store, a real limiter over it, and assertions on when acquires start. */
export class Harness {
  /** Real timers (with tolerances) rather than a fake clock. */
  readonly real: boolean;
  /** The window length the case uses. */
  readonly windowMs: number;
  /** Real timers: how much earlier than exact a start may be seen (clock conversions). 0 on the fake clock. */
  readonly slackMs: number;
  /** Real timers: how much later than exact a start may come (timers, round trips). 0 on the fake clock. */
  readonly lateMs: number;
  /** The store under test, seen through the recording proxy: hand this one to limiters. */
  readonly store: LimiterStore;
  /** The store as `makeStore()` made it. */
  readonly raw: LimiterStore;
  /** Every call the limiter made to the store. */
  readonly log = new CallLog();
  readonly #clock: FakeClock | undefined;
  readonly #origin: number;
  readonly #progress: Progress;
  readonly #storeErrors: string[] = [];
  /** Real timers: when the acquire of each lease admitted at once was made. */
  readonly #issued = new WeakMap<Lease, number>();
  #limiter: Limiter | undefined = undefined;
  #stopped = false;

  constructor(store: LimiterStore, settings: HarnessSettings, progress: Progress) {
    this.real = settings.real;
    this.windowMs = settings.windowMs;
    this.slackMs = !this.real ? 0 : store.ownClock === true ? OWN_CLOCK_SLACK_MS : SLACK_MS;
    this.lateMs = this.real ? Math.max(50, settings.windowMs / 2) : 0;
    this.raw = store;
    this.store = recordingStore(store, this.log);
    this.#clock = this.real ? undefined : new FakeClock();
    this.#origin = this.now();
    this.#progress = progress;
  }

  /** Names what the case is doing, for the message of a case that hangs. */
  step(label: string): void {
    this.#progress.step = label;
  }

  /** The limiter of this case (one per case: closing it closes the store). */
  limiter(limits: LimitOptions): Limiter {
    if (this.#limiter !== undefined) throw new Error('conformance harness: one limiter per case');
    const limiter = new Limiter({
      ...limits,
      store: this.store,
      ...(this.#clock === undefined ? {} : { clock: this.#clock }),
    });
    limiter.on('storeError', ({ operation, error }) => this.#storeErrors.push(`${operation}: ${messageOf(error)}`));
    this.#limiter = limiter;
    return limiter;
  }

  /** The limiter's clock. */
  now(): number {
    return this.#clock === undefined ? performance.now() : this.#clock.now();
  }

  /** A time for messages: milliseconds since the case began. */
  fmt(t: number): string {
    const ms = t - this.#origin;
    return this.real ? `${ms.toFixed(1)} ms` : `${ms} ms`;
  }

  /** Watches an acquire, made by `start` (the time is read first: it comes before any admission). */
  track(label: string, start: () => Promise<Lease>): Tracked {
    const issuedAt = this.now();
    return new Tracked(label, issuedAt, start());
  }

  /**
   * The earliest the lease's request can count from. On the fake clock, its admission. On real
   * timers, for a lease admitted at once, when its acquire was made: a store with its own clock
   * counts it from some moment between then and its admission, and the limiter may see the answer
   * late (a busy event loop), so a window measured from `acquiredAt` could look shorter than it is.
   */
  startOf(lease: Lease): number {
    return this.real ? (this.#issued.get(lease) ?? lease.acquiredAt) : lease.acquiredAt;
  }

  /** Acquires and expects the lease at once. */
  async startNow(limiter: Limiter, label: string, contract: string, options?: AcquireOptions): Promise<Lease> {
    const p = this.track(label, () => limiter.acquire(options));
    return this.admittedAt(p, p.issuedAt, contract);
  }

  /**
   * Lets every answer the store owes arrive, without moving the fake clock. Gives up waiting once
   * the limiter has kept asking the store for many turns in a row (it polls: nothing will settle).
   */
  async settle(): Promise<void> {
    for (let quiet = 0, asking = 0, turns = 0; quiet < (this.real ? 3 : 2) && asking < 64; turns++) {
      this.#checkRunning();
      const calls = this.log.calls.length;
      // On real timers, or when a store on the fake clock waits for real time (a socket).
      await (this.real || (turns >= 20 && this.log.pending > 0) ? sleep(1) : turn());
      const asked = this.log.calls.length !== calls;
      quiet = this.log.pending === 0 && !asked ? quiet + 1 : 0;
      if (asked) asking++;
    }
  }

  /** Moves the limiter's clock to `t`: fires fake timers one by one, or sleeps on real timers. */
  async advanceTo(t: number): Promise<void> {
    const clock = this.#clock;
    if (clock === undefined) {
      while (this.now() < t) {
        this.#checkRunning();
        await sleep(Math.max(1, Math.ceil(t - this.now())));
      }
      return;
    }
    for (let fired = 0; ; fired++) {
      await this.settle();
      const next = clock.nextTimerAt;
      if (next === undefined || next > t) break;
      if (fired > 10_000) throw new Error(`timers kept firing before ${this.fmt(t)}: a timer is set in a loop`);
      // One timer at a time, with every answer it caused settled before the clock moves on.
      await clock.advance(Math.max(0, next - clock.now()));
    }
    if (t > clock.now()) await clock.advance(t - clock.now());
    await this.settle();
  }

  /**
   * Expects `p` admitted at `at`: exactly on the fake clock (still waiting 1 ms before), within
   * `[at - slackMs, at + lateMs]` on real timers. Returns the lease.
   */
  async admittedAt(p: Tracked, at: number, contract: string): Promise<Lease> {
    this.step(`waiting for ${p.label} to start at ${this.fmt(at)} (${contract})`);
    if (this.real) {
      await Promise.race([p.settled, this.#sleepUntil(at + this.lateMs)]);
      const lease = this.#admitted(p, contract, `${this.lateMs} ms after ${this.fmt(at)}`);
      if (lease.acquiredAt < at - this.slackMs) {
        throw new Error(
          `${contract}: ${p.label} was admitted at ${this.fmt(lease.acquiredAt)}, before ${this.fmt(at)} (${this.slackMs} ms slack)`,
        );
      }
      if (at <= p.issuedAt) this.#issued.set(lease, p.issuedAt);
      return lease;
    }
    if (at > this.now()) {
      await this.advanceTo(at - 1);
      if (p.state === 'rejected') throw new Error(`${contract}: ${p.label} was rejected: ${messageOf(p.error)}`);
      if (p.lease !== undefined) {
        throw new Error(
          `${contract}: ${p.label} was admitted at ${this.fmt(p.lease.acquiredAt)}, before ${this.fmt(at)}`,
        );
      }
      await this.advanceTo(at);
    } else {
      await this.settle();
    }
    const lease = this.#admitted(p, contract, this.fmt(at));
    if (lease.acquiredAt !== at) {
      throw new Error(`${contract}: ${p.label} was admitted at ${this.fmt(lease.acquiredAt)}, not at ${this.fmt(at)}`);
    }
    return lease;
  }

  /** Expects `p` still waiting once the store has answered everything asked so far. */
  async waiting(p: Tracked, contract: string): Promise<void> {
    this.step(`checking that ${p.label} waits (${contract})`);
    await this.settle();
    if (p.lease !== undefined) {
      throw new Error(`${contract}: ${p.label} was admitted at ${this.fmt(p.lease.acquiredAt)}`);
    }
    if (p.state === 'rejected') throw new Error(`${contract}: ${p.label} was rejected: ${messageOf(p.error)}`);
  }

  /** Expects `p` rejected by `by` (on real timers, `lateMs` later at most). Returns the error. */
  async rejectedBy(p: Tracked, by: number, contract: string): Promise<unknown> {
    this.step(`waiting for ${p.label} to be rejected by ${this.fmt(by)} (${contract})`);
    if (this.real) await Promise.race([p.settled, this.#sleepUntil(by + this.lateMs)]);
    else await this.advanceTo(Math.max(by, this.now()));
    if (p.lease !== undefined) {
      throw new Error(`${contract}: ${p.label} was admitted at ${this.fmt(p.lease.acquiredAt)}, not rejected`);
    }
    if (p.state === 'waiting') throw new Error(`${contract}: ${p.label} was still waiting at ${this.fmt(this.now())}`);
    return p.error;
  }

  /** Expects no more than `limit` of `starts` in any half-open window (`slackMs` shorter on real timers). */
  checkStarts(starts: readonly number[], limit: number, windowMs: number, contract: string): void {
    const sorted = [...starts].sort((a, b) => a - b);
    const span = windowMs - this.slackMs;
    for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
      while ((sorted[hi] as number) - (sorted[lo] as number) >= span) lo++;
      if (hi - lo + 1 > limit) {
        const within = sorted.slice(lo, hi + 1).map((t) => this.fmt(t));
        throw new Error(`${contract}: ${hi - lo + 1} starts within ${windowMs} ms (at ${within.join(', ')})`);
      }
    }
  }

  /** Fails on what the limiter saw go wrong meanwhile: failed writes, promises where answers were due at once. */
  checkCalls(synchronous: boolean): void {
    for (const call of this.log.calls) {
      if (!call.thenable || call.method === 'close') continue;
      if (AT_ONCE.has(call.method)) {
        throw new Error(
          `store.${call.method} returned a promise: it must answer at once (the limiter reads its result in the same turn)`,
        );
      }
      if (synchronous) {
        throw new Error(`store.${call.method} returned a promise although the store declares \`synchronous: true\``);
      }
    }
    if (this.#storeErrors.length > 0) throw new Error(`the store failed writes: ${this.#storeErrors.join('; ')}`);
  }

  /** Checks the store made for this case has what the case was chosen for. */
  checkDeclared(declared: StoreCapabilities, actual: StoreCapabilities, needs: ConformanceCaseSpec['needs']): void {
    if (declared.limiterClock && !actual.limiterClock) {
      throw new Error(
        'options.declares says limiterClock: true, but the store declares `ownClock: true`: a fake clock cannot drive it',
      );
    }
    for (const [capability, value] of Object.entries(needs ?? {})) {
      if (actual[capability as StoreCapability] !== value) {
        throw new Error(
          `this case needs ${capability}: ${value}, as options.declares says, but the store made for it has ${capability}: ${!value}`,
        );
      }
    }
  }

  /** Makes every wait of the case give up (the case timed out, or is over). */
  stop(): void {
    this.#stopped = true;
  }

  /** Closes the limiter, which closes the store; or the store itself when no limiter was made. */
  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#limiter !== undefined) await this.#limiter.close();
    else await this.raw.close?.();
  }

  #admitted(p: Tracked, contract: string, by: string): Lease {
    if (p.state === 'rejected') throw new Error(`${contract}: ${p.label} was rejected: ${messageOf(p.error)}`);
    if (p.lease === undefined) throw new Error(`${contract}: ${p.label} was still waiting at ${by}`);
    return p.lease;
  }

  /** Real timers: resolves at `t` or once the case is stopped; never rejects (it is raced). */
  async #sleepUntil(t: number): Promise<void> {
    while (!this.#stopped && this.now() < t) await sleep(Math.max(1, Math.ceil(t - this.now())));
  }

  #checkRunning(): void {
    if (this.#stopped) throw new Error('the case was stopped');
  }
}
