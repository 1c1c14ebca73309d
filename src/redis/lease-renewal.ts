import { type TimerHandle, unrefTimer } from '../internal/clock.js';
import { isOutage } from './errors.js';
import { RENEW } from './lua/leases.js';
import type { QuotaKeys } from './options.js';
import type { ScriptRunner } from './script-runner.js';
import { BATCH, SLACK_US, us } from './wire.js';

/** What lease renewal needs from its store. */
export interface LeaseRenewalHost {
  readonly runner: ScriptRunner;
  readonly keys: QuotaKeys;
  readonly leaseTtlMs: number;
  /** Redis is out: renewals wait for it to come back. */
  inOutage(): boolean;
  /** A renewal found Redis unreachable. */
  enterOutage(error: unknown): void;
}

/**
 * The concurrency leases this store holds in Redis (admitted and booked), renewed every third of
 * `leaseTtlMs` by one timer that runs only while some are held, so a crashed process frees its
 * slots and an idle one keeps no timer.
 */
export class LeaseRenewal {
  readonly #host: LeaseRenewalHost;
  readonly #held = new Set<string>();
  #timer: TimerHandle | undefined = undefined;
  #closed = false;

  constructor(host: LeaseRenewalHost) {
    this.#host = host;
  }

  /** Starts renewing the lease `id`. */
  hold(id: string): void {
    this.#held.add(id);
    if (this.#timer === undefined && !this.#closed) this.#arm();
  }

  /** The leases held and renewed. */
  held(): readonly string[] {
    return [...this.#held];
  }

  /** Stops renewing the lease `id`; the timer stays until `stopIfIdle`. */
  forget(id: string): void {
    this.#held.delete(id);
  }

  /** Stops the timer once no lease is held. */
  stopIfIdle(): void {
    if (this.#held.size !== 0) return;
    this.#stop();
  }

  /** Stops renewing for good; leases still held expire after `leaseTtlMs`. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  /** Every third of the ttl, on the store's clock; renewals alone must not keep a process alive. */
  #arm(): void {
    const clock = this.#host.runner.clock;
    this.#timer = unrefTimer(
      clock.setTimeout(
        () => {
          this.#timer = undefined;
          this.#renew();
          if (this.#held.size > 0 && !this.#closed) this.#arm();
        },
        Math.max(1, this.#host.leaseTtlMs / 3),
      ),
    );
  }

  #stop(): void {
    if (this.#timer !== undefined) this.#host.runner.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #renew(): void {
    if (this.#host.inOutage() || this.#held.size === 0) return;
    const { runner, keys, leaseTtlMs } = this.#host;
    const ids = [...this.#held];
    for (let i = 0; i < ids.length; i += BATCH) {
      runner
        .run(RENEW, [keys.conc, keys.state], [us(leaseTtlMs), String(SLACK_US), ...ids.slice(i, i + BATCH)])
        .then(undefined, (error: unknown) => {
          // A lease that expires meanwhile is simply lost: its slot was free for others anyway.
          if (isOutage(error)) this.#host.enterOutage(error);
        });
    }
  }
}
