import type { FallbackReason } from '../core/events.js';
import type { TokenCost } from '../core/vocabulary.js';
import { classifyFailure } from '../feedback/classify.js';
import { describeValue } from '../internal/describe.js';
import { knownKeys, nonNegativeNumber, plainObject } from '../internal/validate.js';
import { acquireAny } from '../limiter/acquire-any.js';
import type { Lease } from '../limiter/lease.js';
import { Limiter } from '../limiter/limiter.js';
import { modelFromUrl } from '../providers/model-group.js';
import type { StreamError } from '../providers/stream-error.js';
import type { ProviderName } from '../providers/types.js';
import { LimiterRegistry } from '../registry/registry.js';
import type { PreparedRequest } from './request-body.js';

/*
 * Model fallback in the fetch wrapper: a request whose model would make it wait (longer than
 * `afterMs`), is paused by a 429, or answered overloaded a moment ago goes to the first of its
 * fallback models that admits, its body's `model` (or the model in its URL) rewritten.
 */

/** The `fallback` option of `createLimitedFetch`. */
export interface LimitedFetchFallbackOptions {
  /**
   * For each model, the models to send its requests to instead, in order of preference, e.g.
   * `{ 'gpt-4o': ['gpt-4o-mini'] }`. A request's model is looked up by its name, then by its
   * group (`gpt-4o-2024-08-06` finds `gpt-4o`'s list); each model has its own limiter in the
   * registry, and a fallback sharing one with a model before it (a snapshot) is skipped.
   */
  readonly models: Readonly<Record<string, readonly string[]>>;
  /**
   * Go to a fallback when the requested model would make the request wait longer than this (ms).
   * A short wait on the preferred model beats switching models for every momentary queue: a
   * window that frees within a second keeps its requests on their own model. A model paused by
   * a 429 or overloaded is left for a fallback at once, whatever this says. @default 1000
   */
  readonly afterMs?: number | undefined;
}

/** The `fallback` option after validation. Internal. */
export interface ResolvedFallback {
  readonly models: Readonly<Record<string, readonly string[]>>;
  readonly afterMs: number;
}

/** Validates `fallback` (needing `limiter` to be a registry); undefined when not given. Internal. */
export function resolveFallback(value: unknown, source: unknown): ResolvedFallback | undefined {
  if (value === undefined) return undefined;
  const f = plainObject('fallback', value);
  knownKeys('`fallback`', f, ['models', 'afterMs']);
  const models = plainObject('fallback.models', f.models);
  for (const [model, list] of Object.entries(models)) {
    const name = `fallback.models[${JSON.stringify(model)}]`;
    if (!Array.isArray(list) || list.length === 0 || !list.every((m) => typeof m === 'string' && m !== '')) {
      throw new TypeError(`Expected \`${name}\` to be a non-empty array of model names, got ${describeValue(list)}`);
    }
    if (list.includes(model)) {
      throw new RangeError(`Expected \`${name}\` to name other models, got ${JSON.stringify(model)} itself`);
    }
  }
  const afterMs = f.afterMs === undefined ? 1_000 : nonNegativeNumber('fallback.afterMs', f.afterMs);
  if (!(source instanceof LimiterRegistry)) {
    // One limiter for every model: a fallback model would wait in the very queue it is to avoid.
    throw new TypeError(
      `\`fallback\` needs \`limiter\` to be a LimiterRegistry, got ${source instanceof Limiter ? 'a Limiter' : describeValue(source)}: a fallback model needs its own limiter (a single Limiter serves every model as one)`,
    );
  }
  return { models: models as Record<string, readonly string[]>, afterMs };
}

/** Where a request names its model: the body's `model`, or the URL (Gemini's model, Azure's deployment). */
export interface NamedModel {
  readonly model: string;
  readonly in: 'body' | 'url';
}

/** The model a request names: where its provider puts it (`inUrl`), else the other place. Internal. */
export function findModel(url: string, body: unknown, inUrl: boolean): NamedModel | undefined {
  const inBody =
    typeof body === 'object' && body !== null && typeof (body as { model?: unknown }).model === 'string'
      ? (body as { model: string }).model
      : undefined;
  const fromUrl = modelFromUrl(url);
  if (inUrl ? fromUrl !== undefined : inBody === undefined) {
    return fromUrl === undefined ? undefined : { model: fromUrl, in: 'url' };
  }
  return inBody === undefined ? undefined : { model: inBody, in: 'body' };
}

/** `url` with `model` in place of the model its path names (see `modelFromUrl`). */
function withModelInUrl(url: string, model: string): string | undefined {
  const cut = url.search(/[?#]/);
  const path = cut < 0 ? url : url.slice(0, cut);
  const rest = cut < 0 ? '' : url.slice(cut);
  const name = encodeURIComponent(model);
  const gemini = /(\/models\/)[^/:]+(:[A-Za-z]+)$/;
  const azure = /(\/openai\/deployments\/)[^/]+(\/)/;
  const pattern = gemini.test(path) ? gemini : azure.test(path) ? azure : undefined;
  return pattern === undefined ? undefined : `${path.replace(pattern, `$1${name}$2`)}${rest}`;
}

/**
 * A failed answer handed to `retry` with `retry-after-ms: 0`: the delay the server named is the
 * failed model's, and the next attempt goes to a fallback that can admit now. Internal.
 */
export function retryingNow(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set('retry-after-ms', '0');
  const copy = new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  Object.defineProperty(copy, 'url', { value: response.url });
  return copy;
}

/** One model a request may be sent as, and the limiter that admits it. */
interface Candidate {
  readonly model: string;
  readonly limiter: Limiter;
}

/** A limiter paused by a 429. */
const paused = (limiter: Limiter): boolean => limiter.stats().pausedForMs > 0;

/** The fallback of one fetch function: the map, and which models answered overloaded lately. */
export class FallbackRouter {
  /** Per model (its limiter), until when it counts as overloaded, on its clock. */
  readonly #overloadedUntil = new WeakMap<Limiter, number>();

  constructor(
    readonly registry: LimiterRegistry,
    readonly provider: ProviderName,
    readonly options: ResolvedFallback,
    /** How long an overload that names no delay is remembered. */
    readonly pauseMs: number,
  ) {}

  /** The routes of one request, or undefined when its model has no usable fallback. */
  route(
    named: NamedModel | undefined,
    requested: Limiter,
    request: PreparedRequest,
    url: string,
    body: unknown,
  ): RequestRoutes | undefined {
    if (named === undefined) return undefined;
    const { models } = this.options;
    const { model } = named;
    let list = Object.hasOwn(models, model) ? models[model] : undefined;
    if (list === undefined) {
      const group = this.registry.groupOf(this.provider, model);
      if (Object.hasOwn(models, group)) list = models[group];
    }
    // A body that is not one JSON object (a form's part) cannot be rewritten: no fallback then.
    if (list === undefined || (named.in === 'body' && !(request.textIsBody && isRecord(body)))) return undefined;
    const candidates: Candidate[] = [{ model, limiter: requested }];
    for (const name of list) {
      const limiter = this.registry.get(this.provider, name);
      if (!candidates.some((c) => c.limiter === limiter)) candidates.push({ model: name, limiter });
    }
    if (candidates.length === 1) return undefined;
    const rewrite = (to: string): PreparedRequest | undefined => {
      if (named.in === 'body') return request.changed({ text: JSON.stringify({ ...(body as object), model: to }) });
      const moved = withModelInUrl(url, to);
      return moved === undefined ? undefined : request.changed({ url: moved });
    };
    return new RequestRoutes(this, candidates, request, rewrite);
  }

  /** Whether `limiter`'s model answered overloaded lately. */
  overloaded(limiter: Limiter): boolean {
    const until = this.#overloadedUntil.get(limiter);
    return until !== undefined && until > limiter.clock.now();
  }

  /** Paused by a 429 or overloaded: tried after the others. */
  unavailable(limiter: Limiter): boolean {
    return this.overloaded(limiter) || paused(limiter);
  }

  /** A failed answer of `limiter`'s model: an overload (503, 529) is remembered. */
  heard(limiter: Limiter, response: Response): void {
    const failure = classifyFailure(response);
    if (failure.reason === 'overloaded') this.#remember(limiter, failure.retryAfterMs);
  }

  /** A stream of `limiter`'s model that failed before its content: an overload is remembered. */
  streamFailed(limiter: Limiter, error: StreamError): void {
    if (error.kind === 'overloaded') this.#remember(limiter, classifyFailure(error).retryAfterMs);
  }

  #remember(limiter: Limiter, retryAfterMs: number | undefined): void {
    const until = limiter.clock.now() + (retryAfterMs ?? this.pauseMs);
    if (until > (this.#overloadedUntil.get(limiter) ?? 0)) this.#overloadedUntil.set(limiter, until);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Options of one attempt's acquire. */
interface AttemptAcquire {
  readonly priority: number;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** Where one attempt went: its lease, the limiter that admitted it, the request to send. */
export interface Routed {
  readonly lease: Lease;
  readonly limiter: Limiter;
  readonly request: PreparedRequest;
  /** The model it is sent as. */
  readonly model: string;
}

/** One request's candidates: the model it names first, then its fallbacks. Internal. */
export class RequestRoutes {
  readonly #router: FallbackRouter;
  /** The model the request names. */
  readonly #requested: Candidate;
  /** Every model it may be sent as, in order of preference: the requested one, then its fallbacks. */
  #candidates: readonly Candidate[];
  readonly #request: PreparedRequest;
  readonly #rewrite: (model: string) => PreparedRequest | undefined;
  /** The request rewritten for each fallback model, made when first sent there. */
  readonly #rewritten = new Map<string, PreparedRequest | undefined>();

  constructor(
    router: FallbackRouter,
    candidates: readonly Candidate[],
    request: PreparedRequest,
    rewrite: (model: string) => PreparedRequest | undefined,
  ) {
    this.#router = router;
    this.#requested = candidates[0] as Candidate;
    this.#candidates = candidates;
    this.#request = request;
    this.#rewrite = rewrite;
  }

  /** Whether the requested model is neither paused nor overloaded: it may be admitted at once. */
  get requestedAvailable(): boolean {
    return !this.#router.unavailable(this.#requested.limiter);
  }

  /**
   * Keeps the candidates `cost` can ever fit (a fallback with a larger budget may take what the
   * requested model never could); throws the requested model's `CapacityError` when none can.
   */
  assertCanFit(cost: TokenCost): void {
    const fitting = this.#candidates.filter((c) => {
      try {
        c.limiter.assertCanFit(cost);
        return true;
      } catch {
        return false;
      }
    });
    if (fitting.length === 0) this.#requested.limiter.assertCanFit(cost);
    else this.#candidates = fitting;
  }

  /** First contact on every candidate (see `probeUntilObserved`). */
  probeUntilObserved(): void {
    for (const c of this.#candidates) c.limiter.probeUntilObserved();
  }

  /**
   * Candidates in the order to try now: those neither paused nor overloaded first, then the rest
   * (so a request still goes somewhere when every model is); each in order of preference.
   */
  #ordered(): Candidate[] {
    const ready = this.#candidates.filter((c) => !this.#router.unavailable(c.limiter));
    return ready.length === this.#candidates.length
      ? [...ready]
      : [...ready, ...this.#candidates.filter((c) => !ready.includes(c))];
  }

  /**
   * This attempt's lease from whichever candidate admits first (`acquireAny`, the preferred ones
   * waited for up to `afterMs`), and the request rewritten for its model. Emits `fallback` on the
   * limiter that admitted it when that is not the requested model's.
   */
  async acquire(
    tokens: TokenCost,
    options: AttemptAcquire,
    spendOf?: (model: string, limiter: Limiter) => number | undefined,
  ): Promise<Routed> {
    const requested = this.#requested;
    const wasOverloaded = this.#router.overloaded(requested.limiter);
    const wasPaused = paused(requested.limiter);
    const ordered = this.#ordered().filter((c) => c === requested || this.#requestFor(c) !== undefined);
    const lease = await acquireAny(
      ordered.map((c) => ({ limiter: c.limiter, tokens, spend: spendOf?.(c.model, c.limiter) })),
      { ...options, preferFirstMs: this.#router.options.afterMs },
    );
    const served = ordered.find((c) => c.limiter === lease.limiter) ?? requested;
    if (served !== requested && options.signal?.aborted !== true) {
      const reason: FallbackReason =
        wasOverloaded || this.#router.overloaded(requested.limiter)
          ? 'overloaded'
          : wasPaused || paused(requested.limiter)
            ? 'rate-limited'
            : 'wait';
      served.limiter.emit('fallback', { requested: requested.model, served: served.model, reason });
    }
    const request = this.#requestFor(served) ?? this.#request;
    return { lease, limiter: served.limiter, request, model: served.model };
  }

  /**
   * Whether, after `failed`'s model answered with a 429 or an overload, the next attempt goes to
   * a candidate that is neither paused nor overloaded: then it need not wait for the failed one.
   */
  reroutes(failed: Limiter): boolean {
    if (!this.#router.unavailable(failed)) return false;
    const next = this.#ordered()[0];
    return next !== undefined && !this.#router.unavailable(next.limiter);
  }

  #requestFor(candidate: Candidate): PreparedRequest | undefined {
    if (candidate === this.#requested) return this.#request;
    if (!this.#rewritten.has(candidate.model)) this.#rewritten.set(candidate.model, this.#rewrite(candidate.model));
    return this.#rewritten.get(candidate.model);
  }
}
