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
export interface AdmitAsk {
  readonly id: string;
  readonly cost: Cost;
  /** A waiting caller: a future slot may be booked for it. */
  readonly mayBook: boolean;
  /** Drop this id's old entry (a stale booking) and admit afresh. */
  readonly replace: boolean;
  /** A new id: Redis has nothing under it to look up. */
  readonly fresh: boolean;
  /** Book no slot on an entry admitted less than half its window ago (it may still be restamped). */
  readonly settledOnly?: boolean | undefined;
}

/** What every admission of one call shares. */
export interface AdmitCall {
  /** The concurrency limit, or `undefined` when there is none. */
  readonly concurrency: number | undefined;
  /** This store's id among the peers, or '' when it was counted recently. */
  readonly peer: string;
}

/** The admit script's ARGV for `asks` (in queue order), under the store's options and window layout. */
export function admitArgs(
  asks: readonly AdmitAsk[],
  call: AdmitCall,
  options: Pick<ResolvedRedisOptions, 'confirmBookings' | 'leaseTtlMs' | 'pollMs'>,
  layout: WindowLayout,
): string[] {
  const args = [
    us(options.leaseTtlMs),
    // Jittered, so processes waiting for a concurrency slot do not ask in step.
    us(options.pollMs * (0.75 + Math.random() / 2)),
    us(layout.lateMs),
    String(SLACK_US),
    call.concurrency === undefined ? '-1' : String(call.concurrency),
    call.peer,
    us(layout.peerHorizonMs),
    layout.keep,
    layout.longest,
    ...layout.args,
    String(asks.length),
  ];
  // Without confirmations a booked slot takes its concurrency lease at once.
  const lease = options.confirmBookings ? 0 : 2;
  for (const a of asks) {
    const flags = (a.mayBook ? 1 : 0) | lease | (a.replace ? 4 : 0) | (a.fresh ? 8 : 0) | (a.settledOnly ? 16 : 0);
    args.push(a.id, String(a.cost.input), String(a.cost.output), String(a.cost.spend ?? 0), String(flags));
  }
  return args;
}

/** The admit script's answer for one request; times are server microseconds. */
export interface AdmitAnswer {
  readonly status: number;
  readonly at: number;
}

/** The admit script's reply; times are server microseconds. */
export interface AdmitReply {
  readonly now: number;
  readonly paused: number;
  readonly inFlight: number;
  /** Stores seen lately; -1 when not counted this time. */
  readonly peers: number;
  /** The state's generation (RESTORE tells by it whether the buckets hold an entry). */
  readonly born: number;
  /** Per request window, then per token window; empty when the windows were not evaluated. */
  readonly usage: number[];
  /** One per request looked at, in order: all admitted but perhaps the last. */
  readonly answers: AdmitAnswer[];
}

/** Reads the admit script's reply; a reply of another shape is a `RedisStoreError`. */
export function parseAdmitReply(reply: unknown, asked: number): AdmitReply {
  const bad = (): RedisStoreError =>
    new RedisStoreError('admit', `unexpected reply from the admit script: ${JSON.stringify(reply)}`);
  if (!Array.isArray(reply) || reply.length < 6) throw bad();
  const n = reply.map((v: unknown) => (typeof v === 'number' ? v : Number(v)));
  const used = n[5] as number;
  const answers: AdmitAnswer[] = [];
  for (let i = 6 + used; i + 1 < n.length; i += 2) answers.push({ status: n[i] as number, at: n[i + 1] as number });
  if (answers.length === 0 || answers.length > asked) throw bad();
  return {
    now: n[0] as number,
    paused: n[1] as number,
    inFlight: n[2] as number,
    peers: n[3] as number,
    born: n[4] as number,
    usage: n.slice(6, 6 + used),
    answers,
  };
}

/** Where the bucket groups that lead an ARGV starting at `i` end (a count, then pairs). */
export function afterGroups(argv: readonly string[], i = 0): number {
  return i + 1 + 2 * Number(argv[i]);
}

/** The requests of an admit call, read back from its ARGV (for tools and tests watching the wire). */
export function asksOf(argv: readonly string[]): { id: string; input: number; output: number; flags: number }[] {
  let i = afterGroups(argv, 9);
  i += 1 + 3 * Number(argv[i]);
  i += 1 + 4 * Number(argv[i]);
  const asks = [];
  for (let k = 0, n = Number(argv[i]); k < n; k++) {
    const j = i + 1 + 5 * k;
    asks.push({
      id: argv[j] as string,
      input: Number(argv[j + 1]),
      output: Number(argv[j + 2]),
      flags: Number(argv[j + 4]),
    });
  }
  return asks;
}

/** The entry a reconcile call charges, and its new charge, read back from its ARGV. */
export function reconcileOf(argv: readonly string[]): { id: string; tokens: number } {
  const g = afterGroups(argv);
  return { id: argv[g + 1] as string, tokens: Number(argv[g + 2]) + Number(argv[g + 3]) };
}

/** The entries a forget call drops (not the leases it only releases), read back from its ARGV. */
export function forgottenOf(argv: readonly string[]): string[] {
  const g = afterGroups(argv);
  return Array.from({ length: Number(argv[g + 1]) }, (_, k) => argv[g + 2 + 5 * k] as string);
}
