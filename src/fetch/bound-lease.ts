import type { TokenCost } from '../core/vocabulary.js';
import type { AnsweredLease } from '../feedback/answered-lease.js';
import type { Lease } from '../limiter/lease.js';
import type { Limiter } from '../limiter/limiter.js';

/*
 * Counting a prompt in the tokenizer worker costs a message round trip: about 200 µs before the
 * request could leave, 50-70 µs of this thread's time. A request that finds room for an upper
 * bound of its cost (its strings as UTF-8 bytes: a token is at least one byte) is admitted at the
 * bound at once, and mostly never counted: the usage its response reports replaces the charge.
 * It is counted, and its charge lowered to the estimate, only when that matters: someone waits
 * on the same limiter (the bounds in flight may be what it waits for), or its answer reports no
 * usage (failed, cut off), so that the estimate, as without the bound, is what stays charged.
 */

/** Each limiter's leases charged at a bound and not yet counted. */
const uncounted = new WeakMap<Limiter, Set<BoundLease>>();

function uncountedOf(limiter: Limiter): Set<BoundLease> {
  let leases = uncounted.get(limiter);
  if (leases === undefined) {
    const created = new Set<BoundLease>();
    leases = created;
    uncounted.set(limiter, created);
    limiter.on('queued', () => countBounds(limiter));
  }
  return leases;
}

/** Lowers every bound charged on `limiter` to its estimate: someone is about to wait. */
export function countBounds(limiter: Limiter): void {
  const leases = uncounted.get(limiter);
  if (leases === undefined || leases.size === 0) return;
  // Each deletes itself as it goes, which a Set allows while it is iterated.
  for (const lease of leases) lease.count();
}

/** A lease admitted at an upper bound of its token estimate. */
export class BoundLease implements AnsweredLease {
  /** The real usage is charged, or the request given back: the estimate no longer matters. */
  #settled = false;
  readonly #uncounted: Set<BoundLease>;

  constructor(
    readonly lease: Lease,
    limiter: Limiter,
    readonly estimate: () => Promise<TokenCost>,
  ) {
    this.#uncounted = uncountedOf(limiter);
    this.#uncounted.add(this);
  }

  get acquiredAt(): number {
    return this.lease.acquiredAt;
  }

  restamp(at?: number): void {
    this.lease.restamp(at);
  }

  reconcile(actual: TokenCost, options?: { readonly spend?: number }): void {
    this.#settle();
    this.lease.reconcile(actual, options);
  }

  overloaded(): void {
    this.lease.overloaded();
  }

  /** Released without its usage: the estimate is what stays charged. */
  release(): void {
    this.lease.release();
    this.count();
  }

  cancel(): void {
    this.#settle();
    this.lease.cancel();
  }

  /** Counts the estimate, then charges it instead of the bound unless the usage came first. */
  count(): void {
    if (this.#settled || !this.#uncounted.delete(this)) return;
    this.estimate().then((cost) => {
      if (!this.#settled) this.lease.reconcile(cost, { estimate: true });
    });
  }

  #settle(): void {
    this.#settled = true;
    this.#uncounted.delete(this);
  }
}

/**
 * Admits a request at `bound` at once when the limiter has room for it now (a synchronous store,
 * nobody queued before it, no first contact under way): what the request costs is no more, so no
 * limit is passed while its estimate is unknown. Undefined when it would have to wait.
 */
export function admitAtBound(
  limiter: Limiter,
  bound: TokenCost,
  estimate: () => Promise<TokenCost>,
  priority: number,
  signal: AbortSignal | undefined,
): BoundLease | undefined {
  if (!limiter.capabilities.synchronous || signal?.aborted) return undefined;
  try {
    limiter.assertCanFit(bound);
  } catch {
    // The bound never fits; the estimate may.
    return undefined;
  }
  const lease = limiter.tryAcquire({ tokens: bound, priority });
  return lease === undefined ? undefined : new BoundLease(lease, limiter, estimate);
}
