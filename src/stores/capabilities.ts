import { callable, plainObject } from '../internal/validate.js';
import type { LimiterStore } from './store.js';

/** The methods every store has. */
const REQUIRED_METHODS = ['configure', 'admit', 'reconcile', 'cancel', 'release', 'pause', 'usage'] as const;

/** The methods a store may leave out, each a capability. */
const OPTIONAL_METHODS = [
  'admitMany',
  'earliest',
  'withdraw',
  'restamp',
  'learnOthersShare',
  'blocking',
  'close',
] as const;

/** What a store can do, as it declares it (`limiter.capabilities`). */
export interface StoreCapabilities {
  /** Every method answers at once: the limiter's fast path, and `tryAcquire()` returns leases. */
  readonly synchronous: boolean;
  /** Windows follow the limiter's clock (a fake clock drives them); false for a store with its own. */
  readonly limiterClock: boolean;
  /** `earliest`: a wait that cannot end before `timeoutMs` is rejected at once, not at the deadline. */
  readonly earlyTimeout: boolean;
  /** `withdraw`: the store books future slots for waiters and forgets them when they leave. */
  readonly bookings: boolean;
  /** `restamp`: a request counts from when it reached the provider, not from its admission. */
  readonly arrivalTime: boolean;
  /** `learnOthersShare`: others' use of a shared quota is learned from the provider's headers. */
  readonly othersShare: boolean;
  /** `blocking`: `limiter.diagnose()` says when each window that holds a caller back makes room. */
  readonly windowTimes: boolean;
  /**
   * `admitMany`: an asynchronous store admits several waiters in one round trip, not one per
   * round trip (a synchronous store answers at once and is asked one at a time).
   */
  readonly batchAdmit: boolean;
}

/** The capability names, as `StoreCapabilities` spells them. */
export type StoreCapability = keyof StoreCapabilities;

/** What a store can do, read from its declaration and the optional methods it has. */
export function storeCapabilities(store: LimiterStore): StoreCapabilities {
  return Object.freeze({
    synchronous: store.synchronous === true,
    limiterClock: store.ownClock !== true,
    earlyTimeout: typeof store.earliest === 'function',
    bookings: typeof store.withdraw === 'function',
    arrivalTime: typeof store.restamp === 'function',
    othersShare: typeof store.learnOthersShare === 'function',
    windowTimes: typeof store.blocking === 'function',
    batchAdmit: typeof store.admitMany === 'function',
  });
}

/**
 * Checks a store handed to `new Limiter({ store })`: an object with every required method, each
 * optional method a function when present, and boolean declarations. Throws a `TypeError` naming
 * what is missing or wrong.
 */
export function validateStore(value: unknown): LimiterStore {
  const store = plainObject('store', value);
  for (const method of REQUIRED_METHODS) callable(`store.${method}`, store[method]);
  for (const method of OPTIONAL_METHODS) {
    if (store[method] !== undefined) callable(`store.${method}`, store[method]);
  }
  for (const flag of ['synchronous', 'ownClock'] as const) {
    const declared = store[flag];
    if (declared !== undefined && typeof declared !== 'boolean') {
      throw new TypeError(`Expected \`store.${flag}\` to be a boolean or undefined, got ${JSON.stringify(declared)}`);
    }
  }
  return value as LimiterStore;
}

/** Why a capability matters, for the warning a limiter gives when an operation needs it. */
const CONSEQUENCES: Partial<Record<StoreCapability, string>> = {
  synchronous: '`tryAcquire()` always returns undefined; use `acquire({ timeoutMs: 0 })` instead',
  arrivalTime: 'requests count from their admission, not from when they reached the provider',
  othersShare: "others' use of a shared quota is not learned from the provider's headers",
};

/**
 * Tells, once per limiter and capability, that an operation needed a capability the store lacks:
 * a process warning with code `FORESTALL_STORE_CAPABILITY` (silence would hide a weaker limit).
 */
export function warnMissingCapability(store: LimiterStore, capability: StoreCapability, operation: string): void {
  const name = storeName(store);
  process.emitWarning(
    `${operation} needs a store with \`${capability}\`, which this ${name} does not have: ${CONSEQUENCES[capability] ?? 'it has no effect'}.`,
    { type: 'ForestallWarning', code: 'FORESTALL_STORE_CAPABILITY' },
  );
}

/** A store's class name for messages, or `store` for a plain object. */
export function storeName(store: LimiterStore): string {
  const ctor = (store as { constructor?: { name?: string } }).constructor;
  return ctor !== undefined && ctor !== Object && ctor.name ? ctor.name : 'store';
}
