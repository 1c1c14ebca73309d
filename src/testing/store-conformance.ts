import { callable, knownKeys, plainObject, positiveNumber } from '../internal/validate.js';
import {
  type StoreCapabilities,
  type StoreCapability,
  storeCapabilities,
  validateStore,
} from '../stores/capabilities.js';
import type { LimiterStore } from '../stores/store.js';
import { BUDGET_CASES } from './conformance-cases-budgets.js';
import { CAPABILITY_CASES } from './conformance-cases-capabilities.js';
import { PAUSE_CASES } from './conformance-cases-pause.js';
import { WAITER_CASES } from './conformance-cases-waiters.js';
import { WINDOW_CASES } from './conformance-cases-windows.js';
import { type ConformanceCaseSpec, Harness, type HarnessSettings, type Progress } from './conformance-harness.js';
import { isThenable } from '../internal/is-thenable.js';

/** One check of the store contract, for any test runner: `test(c.name, c.run)`. */
export interface StoreConformanceCase {
  /** What the case checks, unique within the suite. */
  readonly name: string;
  /**
   * Why the case does not apply, when the store lacks the capability it checks (by its declaration:
   * `synchronous`, or an optional method it leaves out); undefined when it runs. A skipped case's
   * `run` resolves at once, so a runner that ignores `skip` still passes.
   */
  readonly skip?: string | undefined;
  /**
   * Drives a fresh store (from `makeStore()`) through a real `Limiter`; rejects with an `Error` that
   * names the contract broken. Always closes the limiter (and with it the store) before it settles.
   */
  run(): Promise<void>;
}

/** Options of `storeConformance(makeStore, options)`. */
export interface StoreConformanceOptions {
  /**
   * What the store can do, as `storeCapabilities(store)` would report it: decides which cases are
   * skipped and whether the cases run on a fake clock. Capabilities left out are read from a store
   * made up front with `makeStore()` (and closed at once); when `makeStore` returns a promise every
   * capability must be given here.
   * @default read from a store made up front
   */
  readonly declares?: Partial<StoreCapabilities> | undefined;
  /**
   * Window length of the real-time variants, for a store that measures windows with its own clock
   * (`ownClock: true`, e.g. Redis's `TIME`): a fake clock cannot drive it, so its cases run on real
   * timers with windows this long and a few milliseconds of tolerance. At least 100. Stores on the
   * limiter's clock always run on a fake clock with 1,000 ms windows, exactly and fast.
   * @default 400
   */
  readonly windowMs?: number | undefined;
  /**
   * How long one case may take before it rejects with the step it hung at; closing the limiter and
   * the store afterwards gets as long again at most. Set the runner's own timeout above it.
   * @default 10_000
   */
  readonly timeoutMs?: number | undefined;
}

/** Every case, in the order the suite lists them. */
const CASES: readonly ConformanceCaseSpec[] = [
  ...WINDOW_CASES,
  ...BUDGET_CASES,
  ...PAUSE_CASES,
  ...WAITER_CASES,
  ...CAPABILITY_CASES,
];

const CAPABILITY_NAMES: readonly StoreCapability[] = [
  'synchronous',
  'limiterClock',
  'earlyTimeout',
  'bookings',
  'arrivalTime',
  'othersShare',
  'windowTimes',
  'batchAdmit',
];

/** What a case needs, in the words of the store's declaration. */
const LACKS: Record<StoreCapability, (value: boolean) => string> = {
  synchronous: (value) =>
    value
      ? 'the store does not declare `synchronous: true`'
      : 'the store declares `synchronous: true` (its answers are never awaited)',
  limiterClock: (value) => (value ? 'the store declares `ownClock: true`' : 'the store runs on the limiter’s clock'),
  earlyTimeout: () => 'the store has no `earliest` method (capabilities.earlyTimeout)',
  bookings: () => 'the store has no `withdraw` method (capabilities.bookings)',
  arrivalTime: () => 'the store has no `restamp` method (capabilities.arrivalTime)',
  othersShare: () => 'the store has no `learnOthersShare` method (capabilities.othersShare)',
  windowTimes: () => 'the store has no `blocking` method (capabilities.windowTimes)',
  batchAdmit: () => 'the store has no `admitMany` method (capabilities.batchAdmit)',
};

interface SuiteSettings extends HarnessSettings {
  readonly declared: StoreCapabilities;
  readonly timeoutMs: number;
}

/**
 * A conformance suite for a `LimiterStore`: one case per promise of the store contract (windows at
 * their boundaries, several windows at once, token budgets, reconcile, cancel, release, pauses,
 * usage, new limits, waiters that leave, and each optional method), each run through a real
 * `Limiter` against a fresh store from `makeStore()`. Runner-agnostic:
 *
 * ```ts
 * import { test } from 'vitest'; // or node:test, or jest's globals
 * import { storeConformance } from 'forestall/testing';
 *
 * for (const c of storeConformance(() => new MyStore())) (c.skip ? test.skip : test)(c.name, c.run);
 * ```
 *
 * A store on the limiter's clock runs on a `FakeClock`: every boundary is checked to the millisecond
 * and the suite takes well under a second. A store that declares `ownClock: true` runs on real
 * timers with `windowMs`-long windows (a few seconds in all). With a fake clock, an asynchronous
 * store may answer a few event-loop turns later, or after real I/O; the clock waits for its answers.
 *
 * Synchronous: the array is built at once. Cases that need a capability the store lacks carry a
 * `skip` reason, read from `options.declares` or, for what that leaves out, from a store made up
 * front when `makeStore()` returns one (not a promise).
 * @param makeStore Makes a fresh store for each case (or a promise of one). Each store is used by
 *   one limiter and closed by it; with a shared backend (a Redis server) give each its own key.
 * @throws TypeError when `makeStore` returns a promise and `options.declares` leaves capabilities out.
 */
export function storeConformance(
  makeStore: () => LimiterStore | Promise<LimiterStore>,
  options: StoreConformanceOptions = {},
): StoreConformanceCase[] {
  callable('makeStore', makeStore);
  plainObject('options', options);
  knownKeys('storeConformance options', options, ['declares', 'windowMs', 'timeoutMs']);
  const windowMs = options.windowMs === undefined ? 400 : positiveNumber('windowMs', options.windowMs);
  if (windowMs < 100) throw new RangeError(`Expected \`windowMs\` to be at least 100, got ${windowMs}`);
  const timeoutMs = options.timeoutMs === undefined ? 10_000 : positiveNumber('timeoutMs', options.timeoutMs);
  const declared = declaration(makeStore, options.declares);
  const real = !declared.limiterClock;
  const settings: SuiteSettings = { real, windowMs: real ? windowMs : 1_000, declared, timeoutMs };
  return CASES.map((spec) => {
    const skip = skipReason(spec, declared);
    return Object.freeze({
      name: spec.name,
      skip,
      run: skip === undefined ? () => runCase(spec, makeStore, settings) : () => Promise.resolve(),
    });
  });
}

function skipReason(spec: ConformanceCaseSpec, declared: StoreCapabilities): string | undefined {
  for (const [capability, value] of Object.entries(spec.needs ?? {}) as [StoreCapability, boolean][]) {
    if (declared[capability] !== value) return LACKS[capability](value);
  }
  return undefined;
}

/** `declares`, completed from a store made up front when it leaves capabilities out. */
function declaration(
  makeStore: () => LimiterStore | Promise<LimiterStore>,
  declares: Partial<StoreCapabilities> | undefined,
): StoreCapabilities {
  const given: Partial<Record<StoreCapability, boolean>> = {};
  if (declares !== undefined) {
    plainObject('declares', declares);
    knownKeys('declares', declares, CAPABILITY_NAMES);
    for (const name of CAPABILITY_NAMES) {
      const value = declares[name];
      if (value !== undefined && typeof value !== 'boolean') {
        throw new TypeError(`Expected \`declares.${name}\` to be a boolean or undefined, got ${JSON.stringify(value)}`);
      }
      if (value !== undefined) given[name] = value;
    }
  }
  const missing = CAPABILITY_NAMES.filter((name) => given[name] === undefined);
  if (missing.length === 0) return given as StoreCapabilities;
  const made = makeStore();
  if (isThenable(made)) {
    // Made for nothing: closed once it is there, whatever happens.
    Promise.resolve(made)
      .then((store) => store.close?.())
      .then(undefined, () => undefined);
    throw new TypeError(
      `storeConformance: makeStore returned a promise, so the store's declaration cannot be read up front; ` +
        `pass \`options.declares\` with ${missing.map((name) => `\`${name}\``).join(', ')}`,
    );
  }
  const read = storeCapabilities(validateStore(made));
  const closed = made.close?.();
  if (isThenable(closed)) closed.then(undefined, () => undefined);
  return { ...read, ...given };
}

/** Rejects with `message()` when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function runCase(
  spec: ConformanceCaseSpec,
  makeStore: () => LimiterStore | Promise<LimiterStore>,
  settings: SuiteSettings,
): Promise<void> {
  const progress: Progress = { step: 'making the store (makeStore())' };
  let harness: Harness | undefined;
  let over = false;
  const work = (async () => {
    const store = validateStore(await makeStore());
    if (over) {
      // The case timed out while the store was being made: nothing will use it.
      await store.close?.();
      return;
    }
    harness = new Harness(store, settings, progress);
    const actual = storeCapabilities(store);
    harness.checkDeclared(settings.declared, actual, spec.needs);
    await spec.run(harness);
    progress.step = 'checking the calls the limiter made to the store';
    harness.checkCalls(actual.synchronous);
  })();
  // After a timeout the body may still fail; that is reported by the timeout, not unhandled.
  work.then(undefined, () => undefined);
  const timeoutMs = settings.timeoutMs;
  let failure: { error: unknown } | undefined;
  try {
    await within(work, timeoutMs, () => `timed out after ${timeoutMs} ms while ${progress.step}`);
  } catch (error) {
    failure = { error };
  } finally {
    over = true;
    harness?.stop();
    progress.step = 'closing the limiter and the store';
    try {
      await within(
        harness?.close() ?? Promise.resolve(),
        timeoutMs,
        () => `closing the limiter and the store took over ${timeoutMs} ms`,
      );
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}
