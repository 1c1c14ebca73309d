import { messageOf } from '../internal/message-of.js';
import { isOutage, RedisStoreError } from './errors.js';
import type { LeaseRenewal } from './lease-renewal.js';
import { FORGET, type RedisScript } from './scripts.js';
import type { OutageKeeper } from './outage-policy.js';
import type { ScriptRunner } from './script-runner.js';

type Args = readonly string[];

/** An entry to drop, with what this store believes of it: its start (server microseconds, -1 unknown) and charge. */
export interface Dropped {
  readonly id: string;
  readonly at: number;
  readonly input: number;
  readonly output: number;
  readonly spend: number;
}

/** An entry known only by its id (an admission whose answer was lost): the log alone can place it. */
export const unplaced = (id: string): Dropped => ({ id, at: -1, input: 0, output: 0, spend: 0 });

/**
 * The Redis store's writes the limiter fires and forgets, and their clean-up: an outage is
 * reported by the store's `outage` event (and what the write meant kept for Redis's return), any
 * other failure rejects, which the limiter emits as `storeError`.
 */
export class RedisWrites {
  constructor(
    readonly runner: ScriptRunner,
    /** KEYS of the forget script: log, conc, state. */
    readonly forgetKeys: Args,
    /** The forget script's leading ARGV (the bucket groups and the log's span) for the limits in force. */
    readonly forgetHead: () => Args,
    readonly leases: LeaseRenewal,
    readonly outage: OutageKeeper,
  ) {}

  /** Runs `script` (`inOrder`: by EVAL, before anything sent after it); `onReply` reads the answer. */
  write(op: string, script: RedisScript, keys: Args, args: Args, onReply?: (reply: unknown) => void, inOrder?: true) {
    const sent = inOrder ? this.runner.runInOrder(script, keys, args) : this.runner.run(script, keys, args);
    return sent.then(
      (reply) => onReply?.(reply),
      (error: unknown) => {
        if (!isOutage(error)) throw new RedisStoreError(op, messageOf(error), { cause: error });
        this.outage.enter(error);
      },
    );
  }

  /** Removes entries (`drop`: log, charge and lease) and leases (`release`) in one call per batch. */
  forget(drop: readonly Dropped[], release: Args): Promise<void> | undefined {
    for (const { id } of drop) this.leases.forget(id);
    for (const id of release) this.leases.forget(id);
    this.leases.stopIfIdle();
    if (this.outage.active) {
      this.#keepForLater(drop, release);
      return undefined;
    }
    const args = [...this.forgetHead(), String(drop.length)];
    for (const d of drop) args.push(d.id, String(d.at), String(d.input), String(d.output), String(d.spend));
    args.push(...release);
    return this.runner.run(FORGET, this.forgetKeys, args).then(
      () => undefined,
      (error: unknown) => {
        if (!isOutage(error))
          throw new RedisStoreError(drop.length > 0 ? 'cancel' : 'release', messageOf(error), { cause: error });
        this.#keepForLater(drop, release);
        this.outage.enter(error);
      },
    );
  }

  /** Clean-up is best effort: what it misses expires with its window or lease. */
  forgetQuietly(drop: readonly Dropped[], release: Args): void {
    void this.forget(drop, release)?.catch(ignore);
  }

  /** The entry is to go once Redis is back; its lease is no longer renewed meanwhile. */
  orphan(id: string): void {
    this.outage.orphan(id);
    this.leases.forget(id);
    this.leases.stopIfIdle();
  }

  #keepForLater(drop: readonly Dropped[], release: Args): void {
    for (const { id } of drop) this.orphan(id);
    for (const id of release) this.outage.pendingRelease(id);
  }
}

export function ignore(): void {}
