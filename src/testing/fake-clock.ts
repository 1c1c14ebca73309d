import type { Clock, TimerHandle } from '../internal/clock.js';

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Lets every pending promise callback run (a macrotask turn drains the microtask queue). */
function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A manual clock for tests: time moves only when you call `advance`, timers fire in order, and
 * promise callbacks run between them. Pass it as `new Limiter({ clock })`.
 *
 * ```ts
 * const clock = new FakeClock();
 * const limiter = new Limiter({ requests: { limit: 1, windowMs: 1_000 }, clock });
 * const second = limiter.acquire();   // waits
 * await clock.advance(1_000);         // now it is admitted
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.#timers.indexOf(handle as FakeTimer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** When the next timer fires, or undefined when none is set. */
  get nextTimerAt(): number | undefined {
    return this.#next()?.at;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(`Expected \`ms\` to be a non-negative finite number, got \`${ms}\``);
    }
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const timer = this.#next();
      if (timer === undefined || timer.at > target) break;
      this.#timers.splice(this.#timers.indexOf(timer), 1);
      if (timer.at > this.#now) this.#now = timer.at;
      timer.fn();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /** Advances to the next timer and fires it (and any due with it); false when none is set. */
  async next(): Promise<boolean> {
    const timer = this.#next();
    if (timer === undefined) return false;
    await this.advance(Math.max(0, timer.at - this.#now));
    return true;
  }

  /** Lets pending promise callbacks run without moving time. */
  flush(): Promise<void> {
    return flushMicrotasks();
  }

  #next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
