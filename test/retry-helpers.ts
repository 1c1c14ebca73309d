import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RateLimitedEvent, RetryEvent } from '../src/core/events.js';
import { type RateLimitAnswer, rateLimitedEvent } from '../src/feedback/rate-limit-policy.js';
import type { RetryLease, RetryLimiter } from '../src/retry/types.js';
import type { AcquireOptions } from '../src/core/vocabulary.js';

// The project's fake clock and seeded random, re-exported so retry tests import from one place.
export { FakeClock } from '../src/testing/fake-clock.js';
export { seededRandom } from '../src/testing/seeded-random.js';

/** A lease that records what happened to it. */
export interface FakeLease extends RetryLease {
  readonly id: number;
  released: number;
  cancelled: number;
}

/** A hand-written limiter with the shape `retry` needs, recording every call. */
export class FakeLimiter implements RetryLimiter<FakeLease> {
  readonly acquires: (AcquireOptions | undefined)[] = [];
  readonly leases: FakeLease[] = [];
  readonly pauses: number[] = [];
  readonly retryEvents: RetryEvent[] = [];
  readonly rateLimitedEvents: RateLimitedEvent[] = [];
  /** When set, `acquire` rejects with it. */
  acquireError: unknown;

  async acquire(options?: AcquireOptions): Promise<FakeLease> {
    this.acquires.push(options);
    if (options?.signal?.aborted) throw options.signal.reason;
    if (this.acquireError !== undefined) throw this.acquireError;
    const lease: FakeLease = {
      id: this.leases.length + 1,
      released: 0,
      cancelled: 0,
      waitedMs: 0,
      release() {
        lease.released++;
      },
      cancel() {
        lease.cancelled++;
      },
      reconcile() {},
    };
    this.leases.push(lease);
    return lease;
  }

  /** Records the pause and the event a `Limiter` would make of the answer (the one 429 policy). */
  rateLimited(answer: RateLimitAnswer): number {
    const event = rateLimitedEvent(answer);
    this.pauses.push(event.pauseMs);
    this.rateLimitedEvents.push(event);
    return event.pauseMs;
  }

  retrying(event: RetryEvent): void {
    this.retryEvents.push(event);
  }
}

/** What the scripted server does with one request. */
export type Step =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: unknown }
  | { readonly hang: true }
  | { readonly reset: true };

/** A local HTTP server that answers each request with the next step of a script (the last one repeats). */
export interface ScriptedServer {
  readonly url: string;
  /** Arrival times (performance.now()) of every request. */
  readonly arrivals: number[];
  /** Request headers of every request, for checking what a client sent. */
  readonly requestHeaders: http.IncomingHttpHeaders[];
  /** Replaces the script; the request counter starts again. */
  script(steps: readonly Step[]): void;
  close(): Promise<void>;
}

export async function startScriptedServer(
  initial: readonly Step[] = [{ status: 200, body: { ok: true } }],
): Promise<ScriptedServer> {
  let steps = initial;
  let served = 0;
  const arrivals: number[] = [];
  const requestHeaders: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    arrivals.push(performance.now());
    requestHeaders.push(req.headers);
    const step = steps[Math.min(served++, steps.length - 1)];
    // Drain the request body so the client is not blocked writing it.
    req.resume();
    if (step === undefined || 'hang' in step) return;
    if ('reset' in step) {
      req.socket.destroy();
      return;
    }
    const body = typeof step.body === 'string' ? step.body : JSON.stringify(step.body ?? {});
    res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    requestHeaders,
    script(next) {
      steps = next;
      served = 0;
      arrivals.length = 0;
      requestHeaders.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An error shaped like an SDK's or an HTTP client's: `status`, response `headers`, parsed body in `error`. */
export function httpError(status: number, headers: Record<string, string> = {}, error?: unknown): Error {
  return Object.assign(new Error(`${status} status code`), { status, headers: new Headers(headers), error });
}

/** Advances a fake clock timer by timer until `promise` settles; returns it. */
export async function drive<T>(
  clock: { next(): Promise<boolean>; flush(): Promise<void> },
  promise: Promise<T>,
): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10_000; i++) {
    // Settle pending callbacks first, so the next timer is picked only once the code has set it.
    await clock.flush();
    if (done) break;
    await clock.next();
  }
  return promise;
}
