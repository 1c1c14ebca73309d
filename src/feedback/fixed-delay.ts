import { type Clock, type TimerHandle, unrefTimer } from '../internal/clock.js';

/** A call `afterDelay()` will make, until cancelled. */
export interface Delayed {
  cancel(): void;
}

interface Item extends Delayed {
  readonly at: number;
  run: (() => void) | undefined;
}

/**
 * Calls made a fixed delay after they were added, behind one timer: with one delay, they are due
 * in the order they came, so a queue holds them, and adding or cancelling one costs no timer of
 * its own (a timer set and cleared per request cost 7 µs of the fetch wrapper's 60): one timer
 * runs while there is something to call, re-armed for the next due one when it fires, and Node's
 * is unreferenced, so it never keeps a process alive.
 */
class FixedDelayQueue {
  #items: Item[] = [];
  #head = 0;
  #live = 0;
  #timer: TimerHandle | undefined;

  constructor(
    readonly clock: Clock,
    readonly ms: number,
  ) {}

  add(run: () => void): Delayed {
    const item: Item = {
      at: this.clock.now() + this.ms,
      run,
      cancel: () => {
        if (item.run === undefined) return;
        item.run = undefined;
        // The timer stays (unreferenced) for the next requests: one per delay, not per request.
        this.#live--;
      },
    };
    this.#items.push(item);
    this.#live++;
    if (this.#timer === undefined) this.#arm();
    return item;
  }

  #arm(): void {
    while (this.#head < this.#items.length && (this.#items[this.#head] as Item).run === undefined) this.#head++;
    const next = this.#items[this.#head];
    if (next === undefined || this.#live === 0) {
      this.#items = [];
      this.#head = 0;
      return;
    }
    // Nothing it calls needs the process kept alive for it.
    this.#timer = unrefTimer(this.clock.setTimeout(() => this.#fire(), Math.max(0, next.at - this.clock.now())));
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.clock.now();
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as Item;
      if (item.at > now) break;
      this.#head++;
      const run = item.run;
      if (run === undefined) continue;
      item.run = undefined;
      this.#live--;
      run();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}

const queues = new WeakMap<Clock, Map<number, FixedDelayQueue>>();

/** Calls `run` `ms` after now on `clock`, unless cancelled first. */
export function afterDelay(clock: Clock, ms: number, run: () => void): Delayed {
  let byDelay = queues.get(clock);
  if (byDelay === undefined) {
    byDelay = new Map();
    queues.set(clock, byDelay);
  }
  let queue = byDelay.get(ms);
  if (queue === undefined) {
    queue = new FixedDelayQueue(clock, ms);
    byDelay.set(ms, queue);
  }
  return queue.add(run);
}
