import { AsyncLocalStorage } from 'node:async_hooks';
import { WINDOW_KINDS, type WindowKind, type WindowLimit } from '../core/vocabulary.js';
import type { LimiterKey, LimiterRegistry } from '../registry/registry.js';
import type { BatchRequest } from './batch-input.js';
import type { InterruptSignal } from './interrupt.js';
import type { SendOutcome } from './send-request.js';
import type { BatchSummary } from './summary.js';

/** Input and output tokens of one request. */
export interface TokenPair {
  readonly input: number;
  readonly output: number;
}

/**
 * Where a request ended up: `succeeded` (2xx), `failed` (an error or not 2xx), `stopped` (Ctrl-C
 * came before it was sent; a resumed run sends it), `in-flight` (sent, and abandoned by a second
 * Ctrl-C).
 */
export type ReportRequestStatus = 'succeeded' | 'failed' | 'stopped' | 'in-flight';

/** One request of the run. Times are milliseconds from the start of the run. */
export interface ReportRequest {
  readonly id: string;
  readonly model: string | undefined;
  /** The label of the limiter that served it (heard from its events), when known. */
  readonly limiter: string | undefined;
  /** Handed to a worker: ready to go, waiting for the limiter from here. */
  readonly queuedAt: number;
  /** Its first attempt left; undefined when it never did. */
  readonly startedAt: number | undefined;
  /** Its result came (written to the results file); undefined when it never did. */
  readonly endedAt: number | undefined;
  /** From `queuedAt` to the first attempt leaving (or to the stop): the wait for the limiter. */
  readonly waitMs: number;
  /** Tokens reserved for it before it was sent, when a reconcile said. */
  readonly reserved: TokenPair | undefined;
  /** Tokens the answer says were used (or its reconciled charge). */
  readonly used: TokenPair | undefined;
  readonly status: ReportRequestStatus;
  /** The last answer's HTTP status; undefined without an answer. */
  readonly httpStatus: number | undefined;
  /** The result's `error.code` (no message: it may quote the request). */
  readonly errorCode: string | undefined;
  /** Retries (attempts after the first). */
  readonly retries: number;
  /** 429s (and other rate-limit refusals) it received. */
  readonly rateLimited: number;
  /** What it cost, in the report's spend unit, when the run prices requests. */
  readonly spend?: number | undefined;
}

/** A lease the limiter granted (one per attempt). */
export interface ReportAdmission {
  readonly at: number;
  /** The limiter's label: the model group, else the provider. */
  readonly limiter: string;
  readonly waitedMs: number;
  /** The tokens reserved. */
  readonly input: number;
  readonly output: number;
  /** Given back to the limiter: refused with a 429 (the provider did not count it), or never sent. */
  readonly refused?: boolean;
}

/** A pause of the limiter for everyone (after a 429). */
export interface ReportPause {
  readonly at: number;
  readonly ms: number;
  readonly limiter: string;
}

/** A 429 or a retry, for the time axis. */
export interface ReportMark {
  readonly at: number;
  readonly kind: 'rate-limited' | 'retry';
  readonly limiter: string;
  /** A retry's reason (`rate-limited`, `server-error`, ...) or a 429's pause, in words. */
  readonly reason: string;
}

/** One window limit a limiter kept at the end of the run (given or learned). */
export interface ReportWindow {
  readonly limiter: string;
  readonly kind: WindowKind;
  readonly limit: number;
  readonly windowMs: number;
}

/** The totals of the run: the summary's, and the wait and spend. */
export interface ReportTotals {
  readonly todo: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly badLines: number;
  /** HTTP requests sent, retries included. */
  readonly sent: number;
  /** 429 answers received. */
  readonly rateLimited: number;
  readonly retries: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Time spent waiting for the limiter, summed over every attempt (also those stopped while waiting). */
  readonly waitMs: number;
  readonly elapsedMs: number;
  /** Requests abandoned in flight by a second Ctrl-C. */
  readonly abandoned: number;
  /** What the run cost, when requests carry spend figures. */
  readonly spend?: number | undefined;
}

/** Everything the HTML report shows. Holds no key, header or request body. */
export interface ReportData {
  /** The input file as given on the command line. */
  readonly input: string;
  readonly provider: string;
  /** When the report was made (ISO 8601). */
  readonly createdAt: string;
  readonly interrupted: InterruptSignal | undefined;
  readonly totals: ReportTotals;
  readonly requests: readonly ReportRequest[];
  readonly admissions: readonly ReportAdmission[];
  readonly marks: readonly ReportMark[];
  readonly pauses: readonly ReportPause[];
  readonly windows: readonly ReportWindow[];
  /** The most the run may spend (`--max-spend`), in `spendUnit`. */
  readonly spendLimit?: number | undefined;
  /** The spend's currency, e.g. `USD`. @default '$' in the report */
  readonly spendUnit?: string | undefined;
}

/** A request as the run goes: filled in by the worker wrapper and the limiter's events. */
class LiveRequest {
  startedAt: number | undefined;
  endedAt: number | undefined;
  stoppedAt: number | undefined;
  reserved: TokenPair | undefined;
  used: TokenPair | undefined;
  httpStatus: number | undefined;
  errorCode: string | undefined;
  limiter: string | undefined;
  ok = false;
  retries = 0;
  rateLimited = 0;
  spend: number | undefined;

  constructor(
    readonly id: string,
    readonly model: string | undefined,
    readonly queuedAt: number,
  ) {}

  finish(outcome: SendOutcome, at: number): void {
    this.endedAt = at;
    this.ok = outcome.ok;
    this.httpStatus = outcome.record.response?.status_code;
    this.errorCode = outcome.record.error?.code;
    if (outcome.usage !== undefined) this.used = { input: outcome.usage.input, output: outcome.usage.output };
  }

  snapshot(origin: number, endOfRun: number): ReportRequest {
    const at = (t: number | undefined): number | undefined => (t === undefined ? undefined : t - origin);
    const status: ReportRequestStatus =
      this.endedAt !== undefined
        ? this.ok
          ? 'succeeded'
          : 'failed'
        : this.startedAt !== undefined
          ? 'in-flight'
          : 'stopped';
    const waitEnd = this.startedAt ?? this.stoppedAt ?? this.endedAt ?? endOfRun;
    return {
      id: this.id,
      model: this.model,
      limiter: this.limiter,
      queuedAt: this.queuedAt - origin,
      startedAt: at(this.startedAt),
      endedAt: at(this.endedAt),
      waitMs: Math.max(0, waitEnd - this.queuedAt),
      reserved: this.reserved,
      used: this.used,
      status,
      httpStatus: this.httpStatus,
      errorCode: this.errorCode,
      retries: this.retries,
      rateLimited: this.rateLimited,
      ...(this.spend !== undefined && { spend: this.spend }),
    };
  }
}

/** An admission as recorded: one cancelled later is marked `refused`. */
type LiveAdmission = { -readonly [K in keyof ReportAdmission]: ReportAdmission[K] };

/** The label of a registry's limiter: its model group, else its provider. */
function labelOf(key: LimiterKey): string {
  return key.model ?? key.provider;
}

function windowsOf(limits: Partial<Record<WindowKind, WindowLimit | readonly WindowLimit[] | undefined>>) {
  return WINDOW_KINDS.flatMap((kind) => {
    const w = limits[kind];
    if (w === undefined) return [];
    const list: readonly WindowLimit[] = Array.isArray(w) ? w : [w as WindowLimit];
    return list.map((window) => ({ kind, limit: window.limit, windowMs: window.windowMs }));
  });
}

/**
 * Records what a `forestall batch` run did, for `--report`: each request (through `wrap`, and the
 * limiter's events heard in that request's async context), each admission, 429 and retry. Reads
 * no headers or bodies, so nothing secret can reach the report.
 */
export class ReportRecorder {
  readonly #now: () => number;
  readonly #context = new AsyncLocalStorage<LiveRequest>();
  readonly #requests: LiveRequest[] = [];
  readonly #byId = new Map<string, LiveRequest>();
  readonly #admissions: LiveAdmission[] = [];
  readonly #pauses: ReportPause[] = [];
  readonly #marks: ReportMark[] = [];
  #rejectedWaitMs = 0;
  #spendLimit: number | undefined;
  #spendUnit: string | undefined;

  /** @param now a monotonic clock in milliseconds. @default `performance.now` */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Hears the limiters of `registry` (those made later too). */
  attach(registry: LimiterRegistry): void {
    registry.on('acquired', (e, key) => {
      this.#admissions.push({
        at: this.#now(),
        limiter: labelOf(key),
        waitedMs: e.waitedMs,
        input: e.input,
        output: e.output,
      });
    });
    registry.on('released', (e, key) => {
      if (e.cancelled) this.#givenBack(labelOf(key), this.#now() - e.heldMs);
    });
    registry.on('paused', (e, key) => {
      this.#pauses.push({ at: this.#now(), ms: e.ms, limiter: labelOf(key) });
    });
    registry.on('rejected', (e) => {
      this.#rejectedWaitMs += e.waitedMs;
    });
    registry.on('rateLimited', (e, key) => {
      const live = this.#heard(key);
      if (live !== undefined) live.rateLimited++;
      const reason = `HTTP ${e.status}${e.pauseMs > 0 ? `, paused ${Math.round(e.pauseMs)} ms` : ''}`;
      this.#marks.push({ at: this.#now(), kind: 'rate-limited', limiter: labelOf(key), reason });
    });
    registry.on('retry', (e, key) => {
      const live = this.#heard(key);
      if (live !== undefined) live.retries++;
      this.#marks.push({ at: this.#now(), kind: 'retry', limiter: labelOf(key), reason: e.reason });
    });
    registry.on('reconciled', (e, key) => {
      const live = this.#heard(key);
      if (live === undefined) return;
      // The first reconcile replaces the reservation made at admission; a later one, an earlier reconcile.
      live.reserved ??= { input: e.reservedInput, output: e.reservedOutput };
      live.used = { input: e.input, output: e.output };
    });
  }

  /**
   * A lease admitted at `at` was cancelled: its slot and tokens went back to the limiter. The
   * event names no lease, so the admission of that limiter nearest in time is the one (a lease is
   * cancelled soon after its admission: a 429 or an abort as it was admitted).
   */
  #givenBack(limiter: string, at: number): void {
    let best: LiveAdmission | undefined;
    const stop = Math.max(0, this.#admissions.length - 10_000);
    for (let i = this.#admissions.length - 1; i >= stop; i--) {
      const a = this.#admissions[i] as LiveAdmission;
      if (a.limiter !== limiter || a.refused === true) continue;
      if (best === undefined || Math.abs(a.at - at) < Math.abs(best.at - at)) best = a;
      if (a.at < at - 1_000) break;
    }
    if (best !== undefined) best.refused = true;
  }

  /** The request whose async context an event of `key`'s limiter came in, now known to use it. */
  #heard(key: LimiterKey): LiveRequest | undefined {
    const live = this.#context.getStore();
    if (live !== undefined) live.limiter = labelOf(key);
    return live;
  }

  /** Wraps the batch worker: each request is recorded, and the events in its context are its own. */
  wrap<C>(
    worker: (request: BatchRequest, context: C) => Promise<SendOutcome>,
  ): (request: BatchRequest, context: C) => Promise<SendOutcome> {
    return (request, context) => {
      const model = typeof request.body.model === 'string' ? request.body.model : undefined;
      const live = new LiveRequest(request.customId, model, this.#now());
      this.#requests.push(live);
      this.#byId.set(live.id, live);
      return this.#context.run(live, async () => {
        try {
          const outcome = await worker(request, context);
          live.finish(outcome, this.#now());
          return outcome;
        } catch (error) {
          live.stoppedAt = this.#now();
          throw error;
        }
      });
    };
  }

  /** The current request's first attempt is leaving (call from the sender's `onStart`). */
  started(): void {
    const live = this.#context.getStore();
    if (live !== undefined) live.startedAt ??= this.#now();
  }

  /**
   * Adds to what a request cost: the request `customId`, else the one whose async context this
   * is called in. Ignored when neither names a request.
   */
  spent(amount: number, customId?: string): void {
    const live = customId === undefined ? this.#context.getStore() : this.#byId.get(customId);
    if (live === undefined || !Number.isFinite(amount)) return;
    live.spend = (live.spend ?? 0) + amount;
  }

  /** The most the run may spend (`--max-spend`), and its currency, for the report's spend chart. */
  setSpendLimit(limit: number | undefined, unit?: string): void {
    this.#spendLimit = limit;
    this.#spendUnit = unit;
  }

  /**
   * What the report shows, from the summary's counts and the registry's limits at the end.
   * `origin` is the start of the run on the same clock.
   */
  data(summary: BatchSummary, registry: LimiterRegistry, provider: string, origin: number): ReportData {
    const end = this.#now();
    const requests = this.#requests.map((r) => r.snapshot(origin, end));
    const spends = requests.flatMap((r) => (r.spend === undefined ? [] : [r.spend]));
    let waitMs = this.#rejectedWaitMs;
    for (const a of this.#admissions) waitMs += a.waitedMs;
    const windows = registry
      .entries()
      .flatMap(([key, limiter]) => windowsOf(limiter.limits).map((w) => ({ limiter: labelOf(key), ...w })));
    return {
      input: summary.input,
      provider,
      createdAt: new Date().toISOString(),
      interrupted: summary.interrupted,
      totals: {
        todo: summary.todo,
        succeeded: summary.succeeded,
        failed: summary.failed,
        skipped: summary.skipped,
        badLines: summary.badLines,
        sent: summary.sent,
        rateLimited: summary.rateLimited,
        retries: summary.retries,
        inputTokens: summary.inputTokens,
        outputTokens: summary.outputTokens,
        waitMs,
        elapsedMs: summary.elapsedMs,
        abandoned: summary.abandoned ?? 0,
        ...(spends.length > 0 && { spend: spends.reduce((a, b) => a + b, 0) }),
      },
      requests,
      admissions: this.#admissions.map((a) => ({ ...a, at: a.at - origin })),
      marks: this.#marks.map((m) => ({ ...m, at: m.at - origin })),
      pauses: this.#pauses.map((p) => ({ ...p, at: p.at - origin })),
      windows,
      ...(this.#spendLimit !== undefined && { spendLimit: this.#spendLimit }),
      ...(this.#spendUnit !== undefined && { spendUnit: this.#spendUnit }),
    };
  }
}
