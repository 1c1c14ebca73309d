import type { Lease } from '../limiter/lease.js';
import type { LimiterStore } from '../stores/store.js';
import { isThenable } from '../internal/is-thenable.js';

/*
 * What the conformance harness watches: every call the limiter makes to the store under test
 * (through a proxy), and acquires whose state can be read at any moment.
 */

/** The store methods that must answer at once, whatever the store declares. */
export const AT_ONCE: ReadonlySet<string> = new Set(['configure', 'earliest', 'withdraw', 'learnOthersShare', 'usage']);
/** Every store method the limiter calls. */
const METHODS: ReadonlySet<string> = new Set([
  ...AT_ONCE,
  'admit',
  'admitMany',
  'reconcile',
  'cancel',
  'release',
  'restamp',
  'pause',
  'close',
]);

/** One call the limiter made to the store. */
export interface StoreCall {
  /** The method called: `admit`, `usage`, ... */
  readonly method: string;
  /** What the limiter passed. */
  readonly args: readonly unknown[];
  /** What the store returned (a promise, when it answers later). */
  readonly result: unknown;
  /** The store answered with a promise (or another thenable). */
  readonly thenable: boolean;
}

/** Every call the limiter made to the store, and how many answers are still awaited. */
export class CallLog {
  readonly calls: StoreCall[] = [];
  /** Answers (promises) not settled yet. */
  pending = 0;
  /** The most admission answers (`admit` or `admitMany`) awaited at once. */
  maxAdmitting = 0;
  #admitting = 0;

  /** Notes a call and, when it answered with a promise, waits for it to settle. */
  record(method: string, args: readonly unknown[], result: unknown): void {
    const thenable = isThenable(result);
    this.calls.push({ method, args, result, thenable });
    if (!thenable) return;
    this.pending++;
    const admit = method === 'admit' || method === 'admitMany';
    if (admit) this.maxAdmitting = Math.max(this.maxAdmitting, ++this.#admitting);
    const done = (): void => {
      this.pending--;
      if (admit) this.#admitting--;
    };
    Promise.resolve(result).then(done, done);
  }

  /** How many times `method` was called. */
  count(method: string): number {
    return this.calls.filter((call) => call.method === method).length;
  }
}

/** The store seen through a proxy that records every call the limiter makes and what it returned. */
export function recordingStore(store: LimiterStore, log: CallLog): LimiterStore {
  return new Proxy(store, {
    get(target, key) {
      // `target` as the receiver: a class store's getters and private fields need the real object.
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function' || typeof key !== 'string' || !METHODS.has(key)) return value;
      return (...args: unknown[]): unknown => {
        const result: unknown = value.apply(target, args);
        log.record(key, args, result);
        return result;
      };
    },
  });
}

/** An acquire under watch: its state can be read at any moment without awaiting it. */
export class Tracked {
  /** Where the acquire is now. */
  state: 'waiting' | 'admitted' | 'rejected' = 'waiting';
  /** The lease, once admitted. */
  lease: Lease | undefined = undefined;
  /** What it was rejected with, once rejected. */
  error: unknown = undefined;
  /** Settles (never rejects) when the acquire does. */
  readonly settled: Promise<void>;

  constructor(
    /** What the messages call it: `the 4th acquire`. */
    readonly label: string,
    /** When it was made, on the limiter's clock. */
    readonly issuedAt: number,
    promise: Promise<Lease>,
  ) {
    this.settled = promise.then(
      (lease) => {
        this.state = 'admitted';
        this.lease = lease;
      },
      (error: unknown) => {
        this.state = 'rejected';
        this.error = error;
      },
    );
  }
}
