import type { Cost } from '../core/vocabulary.js';
import type { HasDeadline } from '../internal/deadline-heap.js';
import type { QueueNode } from '../internal/waiter-queue.js';
import { type Block, NO_BLOCKS } from './diagnose.js';
import type { Lease } from './lease.js';

/**
 * A caller waiting in the queue. Holds its own links, heap slot and abort handler. Kept small:
 * 100,000 waiters must fit in about 30 MB, so no reject function (rejecting resolves with a
 * rejected promise) and no deadline number when there is no timeout (a number field boxes).
 */
export class Waiter implements QueueNode, HasDeadline {
  prev: QueueNode | undefined = undefined;
  next: QueueNode | undefined = undefined;
  level: QueueNode['level'] = undefined;
  heapIndex = -1;
  /** An asynchronous store was asked about it: its answer, not the round trip, judges the deadline. */
  asked = false;
  /** What held it back when it joined the queue (filled in when someone listens: `queued`, `acquired`). */
  blockedBy: readonly Block[] = NO_BLOCKS;
  resolve!: (lease: Lease | PromiseLike<never>) => void;

  constructor(
    readonly onAbort: (waiter: Waiter) => void,
    readonly cost: Cost,
    public priority: number,
    readonly enqueuedAt: number,
    /** When `timeoutMs` runs out; undefined without one. */
    public deadline: number | undefined,
    readonly signal: AbortSignal | undefined,
  ) {}

  /** The abort listener: the waiter is its own `EventListener`, so no closure is allocated. */
  handleEvent(): void {
    this.onAbort(this);
  }

  /** Whether the waiter is still in the queue. */
  get waiting(): boolean {
    return this.level !== undefined;
  }

  get timeoutMs(): number {
    return this.deadline === undefined ? Number.POSITIVE_INFINITY : this.deadline - this.enqueuedAt;
  }

  reject(error: unknown): void {
    this.resolve(Promise.reject(error));
  }
}
