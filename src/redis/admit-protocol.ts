import type { Cost } from '../core/vocabulary.js';
import { RedisStoreError } from './errors.js';
import type { ResolvedRedisOptions } from './options.js';
import type { WindowLayout } from './window-layout.js';
import { SLACK_US, us } from './wire.js';

/*
 * The TypeScript side of the admit script's ARGV and reply (documented with the script in
 * lua/admit.ts), kept in one place so both stay in step with the Lua.
 */

/** One admission as the store asks for it. */
export interface AdmitRequest {
  readonly id: string;
  readonly cost: Cost;
  /** A waiting caller: a future slot may be booked for it. */
  readonly mayBook: boolean;
  /** Drop this id's old entry (a stale booking) and admit afresh. */
  readonly replace: boolean;
  /** The concurrency limit, or `undefined` when there is none. */
  readonly concurrency: number | undefined;
  /** This store's id among the peers. */
  readonly peer: string;
}

/** The admit script's ARGV for `request`, under the store's options and window layout. */
export function admitArgs(
  request: AdmitRequest,
  options: Pick<ResolvedRedisOptions, 'confirmBookings' | 'leaseTtlMs' | 'pollMs'>,
  layout: WindowLayout,
): string[] {
  // Without confirmations a booked slot takes its concurrency lease at once.
  const flags = (request.mayBook ? 1 : 0) | (options.confirmBookings ? 0 : 2) | (request.replace ? 4 : 0);
  return [
    request.id,
    String(request.cost.input),
    String(request.cost.output),
    String(flags),
    request.concurrency === undefined ? '-1' : String(request.concurrency),
    us(options.leaseTtlMs),
    // Jittered, so processes waiting for a concurrency slot do not ask in step.
    us(options.pollMs * (0.75 + Math.random() / 2)),
    us(layout.lateMs),
    String(SLACK_US),
    request.peer,
    us(layout.peerHorizonMs),
    ...layout.args,
  ];
}

/** The admit script's answer; times are server microseconds. */
export interface AdmitReply {
  readonly status: number;
  readonly now: number;
  readonly at: number;
  readonly paused: number;
  readonly inFlight: number;
  readonly peers: number;
  /** Per request window, then per token window; empty when the windows were not evaluated. */
  readonly usage: number[];
}

/** Reads the admit script's reply; a reply of another shape is a `RedisStoreError`. */
export function parseAdmitReply(reply: unknown): AdmitReply {
  if (!Array.isArray(reply) || reply.length < 6) {
    throw new RedisStoreError('admit', `unexpected reply from the admit script: ${JSON.stringify(reply)}`);
  }
  const n = reply.map((v: unknown) => (typeof v === 'number' ? v : Number(v)));
  return {
    status: n[0] as number,
    now: n[1] as number,
    at: n[2] as number,
    paused: n[3] as number,
    inFlight: n[4] as number,
    peers: n[5] as number,
    usage: n.slice(6),
  };
}
