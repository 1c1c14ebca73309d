import {
  type AdmitResult,
  type BatchRequest,
  type Cost,
  type LimiterStore,
  MemoryStore,
  type RemainingReport,
  type ResolvedLimits,
  type StoreEntry,
  type StoreUsage,
} from '../../src/index.js';

/** Runs `fn` a macrotask later and answers with its result (or its error). */
function later<T>(fn: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(fn());
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * An asynchronous store, as a remote one behaves: it forwards to a `MemoryStore` a macrotask later,
 * so writes land after the call returns and every admission and write answers with a promise.
 * What must answer at once (configure, earliest, learnOthersShare, usage) reads the inner store
 * directly. Counts the admits it is answering at once.
 */
export class SlowStore implements LimiterStore {
  readonly inner = new MemoryStore();
  admits = 0;
  admitting = 0;
  maxAdmitting = 0;

  configure(limits: ResolvedLimits): void {
    this.inner.configure(limits);
  }

  admit(cost: Cost, now: number): Promise<AdmitResult> {
    this.admits++;
    this.maxAdmitting = Math.max(this.maxAdmitting, ++this.admitting);
    return later(() => {
      this.admitting--;
      return this.inner.admit(cost, now);
    });
  }

  earliest(cost: Cost, now: number): number {
    return this.inner.earliest(cost, now);
  }

  reconcile(entry: StoreEntry, cost: Cost, now: number): Promise<void> {
    return later(() => this.inner.reconcile(entry, cost, now));
  }

  cancel(entry: StoreEntry, now: number): Promise<void> {
    return later(() => this.inner.cancel(entry, now));
  }

  release(entry: StoreEntry): Promise<void> {
    return later(() => this.inner.release(entry));
  }

  restamp(entry: StoreEntry, at: number, now: number): Promise<void> {
    return later(() => this.inner.restamp(entry, at, now));
  }

  learnOthersShare(report: RemainingReport, now: number): number {
    return this.inner.learnOthersShare(report, now);
  }

  pause(until: number, now: number): Promise<void> {
    return later(() => this.inner.pause(until, now));
  }

  usage(now: number): StoreUsage {
    return this.inner.usage(now);
  }

  close(): Promise<void> {
    return later(() => undefined);
  }
}

/**
 * A `SlowStore` that also admits several waiters in one round trip (`admitMany`), as the memory
 * store would one by one, stopping at the first that must wait. Counts its batches.
 */
export class BatchSlowStore extends SlowStore {
  batches = 0;

  admitMany(requests: readonly BatchRequest[], now: number): Promise<AdmitResult[]> {
    this.batches++;
    this.maxAdmitting = Math.max(this.maxAdmitting, ++this.admitting);
    return later(() => {
      this.admitting--;
      const answers: AdmitResult[] = [];
      for (const { cost } of requests) {
        const answer = this.inner.admit(cost, now);
        answers.push(answer);
        if (typeof answer === 'number') break;
      }
      return answers;
    });
  }
}
