/**
 * forestall and its peers behind one small shape, "limit N starts per window, run this job when
 * allowed", for the real-time sections (boundary burst and running at the limit). Each peer is set
 * up the way its documentation suggests for "N per window"; `config` says exactly how, so the
 * tables can show it.
 */
import Bottleneck from 'bottleneck';
import { RateLimiter } from 'limiter';
import PQueue from 'p-queue';
import pThrottle from 'p-throttle';
import { RateLimiterMemory, RateLimiterQueue } from 'rate-limiter-flexible';
import { SlidingWindowLimiter } from 'forestall';
import { sleep, noop } from './core-util.js';

export interface WindowedLimiter {
  /**
   * Runs `job` once the library admits it. The promise settles after the job ran, rejects when
   * the job was dropped by `close()`, and for p-queue (whose `clear()` drops jobs silently) may
   * never settle: callers must not wait on it unbounded. A library that reports when it admitted
   * the job (forestall's `lease.acquiredAt`) passes that moment; for the others the job's start is
   * the admission (the library itself calls the job).
   */
  submit(job: (admittedAt?: number) => void): Promise<void>;
  /**
   * Drops waiting jobs where the library can. Libraries that cannot cancel a wait turn the jobs
   * still queued into no-ops and are given a bounded time to drain, so their timers do not run
   * into the next measurement.
   */
  close(): Promise<void>;
}

export interface Peer {
  readonly name: string;
  /** How the library is configured for `limit` per `windowMs`. */
  config(limit: number, windowMs: number): string;
  create(limit: number, windowMs: number): WindowedLimiter;
}

/** Bounds the wait for libraries without cancellation; longer backlogs are left to finish as no-ops. */
const DRAIN_CAP_MS = 1_000;

/** Wraps a library without cancellation: counts what is pending so `close()` can let it drain. */
function uncancellable(wait: () => Promise<unknown>): WindowedLimiter {
  let closed = false;
  let pending = 0;
  let drained: (() => void) | undefined;
  return {
    async submit(job) {
      pending++;
      try {
        await wait();
        if (!closed) job();
      } finally {
        pending--;
        if (pending === 0) drained?.();
      }
    },
    async close() {
      closed = true;
      if (pending === 0) return;
      await Promise.race([new Promise<void>((resolve) => (drained = resolve)), sleep(DRAIN_CAP_MS)]);
    },
  };
}

export const forestallPeer: Peer = {
  name: 'forestall',
  config: (limit, windowMs) =>
    `\`new SlidingWindowLimiter({ limit: ${limit}, windowMs: ${windowMs} })\`, \`acquire()\` then \`release()\``,
  create(limit, windowMs) {
    const limiter = new SlidingWindowLimiter({ limit, windowMs });
    return {
      async submit(job) {
        const lease = await limiter.acquire();
        try {
          job(lease.acquiredAt);
        } finally {
          lease.release();
        }
      },
      close: () => limiter.close(),
    };
  },
};

export const pThrottlePeer: Peer = {
  name: 'p-throttle',
  config: (limit, windowMs) => `\`pThrottle({ limit: ${limit}, interval: ${windowMs}, strict: true })\``,
  create(limit, windowMs) {
    const controller = new AbortController();
    const throttled = pThrottle({ limit, interval: windowMs, strict: true, signal: controller.signal })(
      (job: () => void) => job(),
    );
    return {
      // Typed as returning the wrapped function's result; at run time it is a promise of it.
      submit: (job) => throttled(job) as unknown as Promise<void>,
      close: async () => controller.abort(),
    };
  },
};

export const pQueuePeer: Peer = {
  name: 'p-queue',
  config: (limit, windowMs) => `\`new PQueue({ intervalCap: ${limit}, interval: ${windowMs} })\` (interval mode)`,
  create(limit, windowMs) {
    const queue = new PQueue({ intervalCap: limit, interval: windowMs });
    return {
      submit: (job) => queue.add(() => job()),
      close: async () => {
        queue.clear();
        await queue.onPendingZero();
      },
    };
  },
};

export const bottleneckPeer: Peer = {
  name: 'bottleneck',
  config: (limit, windowMs) =>
    `\`new Bottleneck({ reservoir: ${limit}, reservoirRefreshAmount: ${limit}, reservoirRefreshInterval: ${windowMs} })\``,
  create(limit, windowMs) {
    const bottleneck = new Bottleneck({
      reservoir: limit,
      reservoirRefreshAmount: limit,
      reservoirRefreshInterval: windowMs,
    });
    return {
      submit: (job) => bottleneck.schedule(async () => job()),
      close: async () => {
        await bottleneck.stop({ dropWaitingJobs: true }).catch(noop);
        // The refresh heartbeat is a setInterval; stop() leaves it running.
        await bottleneck.disconnect();
      },
    };
  },
};

export const limiterPeer: Peer = {
  name: 'limiter',
  config: (limit, windowMs) =>
    `\`new RateLimiter({ tokensPerInterval: ${limit}, interval: ${windowMs} })\`, \`removeTokens(1)\``,
  create(limit, windowMs) {
    const limiter = new RateLimiter({ tokensPerInterval: limit, interval: windowMs });
    return uncancellable(() => limiter.removeTokens(1));
  },
};

export const rateLimiterFlexiblePeer: Peer = {
  name: 'rate-limiter-flexible',
  config: (limit, windowMs) =>
    `\`new RateLimiterQueue(new RateLimiterMemory({ points: ${limit}, duration: ${windowMs / 1000} }))\`, \`removeTokens(1)\``,
  create(limit, windowMs) {
    const queue = new RateLimiterQueue(new RateLimiterMemory({ points: limit, duration: windowMs / 1000 }));
    return uncancellable(() => queue.removeTokens(1));
  },
};

/** forestall first, then the peers in the order the issue names them. */
export const PEERS: readonly Peer[] = [
  forestallPeer,
  bottleneckPeer,
  pQueuePeer,
  pThrottlePeer,
  limiterPeer,
  rateLimiterFlexiblePeer,
];
