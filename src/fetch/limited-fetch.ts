import { callable, knownKeys, nonNegativeNumber, plainObject, finiteNumber } from '../internal/validate.js';
import type { Lease } from '../limiter/lease.js';
import { Limiter } from '../limiter/limiter.js';
import { parseRateLimitHeaders } from '../providers/headers.js';
import { PROVIDER_NAMES, type ProviderName } from '../providers/types.js';
import { StreamUsageWatcher, usageFromResponse } from '../providers/usage.js';
import { LimiterRegistry } from '../registry/registry.js';
import { classifyFailure } from '../retry/classify.js';
import type { RetryOptions } from '../retry/options.js';
import { readErrorBody } from '../retry/response-body.js';
import { retry } from '../retry/retry.js';
import { estimateRequestTokens, type RequestApi } from '../tokens/index.js';
import type { TokenCountMode } from '../tokens/text-counter.js';
import type { TokenCost } from '../core/vocabulary.js';

/** The `fetch` signature the wrapper takes and returns. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** How a request's token cost is estimated before it is sent. */
export interface EstimateSettings {
  /** `tiktoken` counts with the model's encoding; `fast` is about chars / 4. @default 'tiktoken' */
  readonly mode?: TokenCountMode | undefined;
  /** Output tokens reserved per generation when the body names no maximum. @default 1024 */
  readonly outputReservation?: number | undefined;
}

/** Retry settings for the fetch wrapper: `retry()`'s options without the ones the wrapper sets. */
export type LimitedFetchRetryOptions = Omit<RetryOptions<Response>, 'limiter' | 'acquire' | 'signal' | 'fallback'>;

/** Options of `createLimitedFetch()`. */
export interface LimitedFetchOptions {
  /** One limiter for every request, or a registry picking one per provider and `model`. */
  readonly limiter: Limiter | LimiterRegistry;
  /** Whose API the requests go to: decides header names, request shapes and usage fields. */
  readonly provider: ProviderName;
  /** The real fetch. @default globalThis.fetch */
  readonly fetch?: FetchLike | undefined;
  /**
   * Retry 429s, 5xx and connection failures inside the wrapper (each attempt acquires again).
   * `true` for the defaults. Turn the SDK's own retries off (`maxRetries: 0`). @default false
   */
  readonly retry?: boolean | LimitedFetchRetryOptions | undefined;
  /** Token estimation, or a function returning the cost of a parsed JSON body. */
  readonly estimate?: EstimateSettings | ((body: unknown, url: string) => TokenCost | Promise<TokenCost>) | undefined;
  /**
   * When a request starts counting in the windows. `'response'` (the default) moves it to when
   * its response headers arrive: the provider counted it when it arrived, no later than that, so
   * the windows hold as the provider sees them. `'admission'` counts from the acquire.
   * @default 'response'
   */
  readonly countFrom?: 'response' | 'admission' | undefined;
  /**
   * With `countFrom: 'response'`, how much later than its admission a request may be counted.
   * A request reaches the provider within a few round trips of being sent, but a non-streaming LLM
   * response sends its headers only when generation ends, seconds later: counting from then would
   * hold window slots needlessly. @default 2000
   */
  readonly maxCountDelayMs?: number | undefined;
  /**
   * Observe every response's rate-limit headers (`limiter.observe`): adopt announced limits and
   * tighten when others share the quota. While a limiter has heard nothing from the provider yet,
   * its first request goes alone and the rest wait for its answer, so a quota others already use
   * is not hit with a full burst. @default true
   */
  readonly sync?: boolean | undefined;
  /** Priority of these requests in the limiter's queue. @default 0 */
  readonly priority?: number | undefined;
  /** Give up waiting for the limiter after this many ms (`AcquireTimeoutError`). */
  readonly acquireTimeoutMs?: number | undefined;
  /** How long a 429 that names no delay pauses the limiter. @default 1000 */
  readonly rateLimitPauseMs?: number | undefined;
}

const OPTION_KEYS = [
  'limiter',
  'provider',
  'fetch',
  'retry',
  'estimate',
  'countFrom',
  'maxCountDelayMs',
  'sync',
  'priority',
  'acquireTimeoutMs',
  'rateLimitPauseMs',
] as const;

/** The API a URL path names, so the estimate reads the right fields. */
function apiOf(url: string): RequestApi | undefined {
  const path = url.replace(/[?#].*$/, '');
  if (path.endsWith('/chat/completions')) return 'chat';
  if (path.endsWith('/responses')) return 'responses';
  if (path.endsWith('/embeddings')) return 'embeddings';
  if (path.endsWith('/completions')) return 'completions';
  if (path.endsWith('/messages')) return 'anthropic-messages';
  if (/:(stream)?generatecontent$/i.test(path)) return 'gemini';
  return undefined;
}

/** The request body as text, when it can be read without consuming what will be sent. */
async function bodyText(input: string | URL | Request, init: RequestInit | undefined): Promise<string | undefined> {
  const body = init?.body ?? (input instanceof Request && init?.body === undefined ? null : undefined);
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  if (body instanceof ArrayBuffer) return new TextDecoder().decode(new Uint8Array(body));
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Blob) return body.text();
  if (init?.body === undefined && input instanceof Request && input.body !== null) return input.clone().text();
  // A ReadableStream or FormData body cannot be read without consuming it: not estimated.
  return undefined;
}

/** `promise`, or the signal's reason as soon as it aborts. */
function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const unreleased = new FinalizationRegistry<Lease>((lease) => lease.release());

/**
 * Releases the lease (and reconciles the usage the stream reported) when the caller has read the
 * whole body, cancelled it, or it errored. Chunks pass one by one as the caller pulls them: no
 * buffering and no added delay.
 */
function watchStream(response: Response, lease: Lease, provider: ProviderName): Response {
  const body = response.body;
  if (body === null) {
    lease.release();
    return response;
  }
  const reader = body.getReader();
  const watcher = new StreamUsageWatcher(provider);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    watcher.end();
    if (watcher.usage !== undefined) lease.reconcile(watcher.usage);
    lease.release();
    unreleased.unregister(lease);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
            return;
          }
          watcher.push(value);
          controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const wrapped = new Response(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(wrapped, 'url', { value: response.url });
  // A caller that never reads the body would hold the slot forever: release it when the response is collected.
  unreleased.register(wrapped, lease, lease);
  return wrapped;
}

/** Reads a copy of a JSON body in the background, reconciles its usage, then releases. */
function watchJson(response: Response, lease: Lease, provider: ProviderName): Response {
  response
    .clone()
    .json()
    .then(
      (json: unknown) => {
        const usage = usageFromResponse(json, provider);
        if (usage !== undefined) lease.reconcile(usage);
      },
      () => undefined,
    )
    .finally(() => lease.release());
  return response;
}

/**
 * A `fetch` that waits for the limiter before every request: hand it to any SDK
 * (`new OpenAI({ fetch, maxRetries: 0 })`, `new Anthropic({ fetch, maxRetries: 0 })`,
 * `createOpenAI({ fetch })`).
 *
 * For each request it reads the JSON body, estimates its tokens (`estimateRequestTokens`), picks
 * the limiter (by provider and the body's `model` when given a `LimiterRegistry`), rejects a cost
 * that can never fit with `CapacityError` before sending anything, acquires (with the caller's
 * `signal`), sends, and then:
 * - counts the request from when its response headers arrived, at most `maxCountDelayMs` after
 *   its admission (see `countFrom`);
 * - observes the rate-limit headers of every response (`limiter.observe`), adopting announced
 *   limits and tightening when others use the same quota;
 * - on a 429, pauses the limiter for the delay the server named (everyone waits), and with
 *   `retry` on, retries inside (each attempt acquires again);
 * - reconciles the real usage: from a copy of a JSON body, or from a server-sent-event stream as
 *   it passes; error responses are charged no tokens;
 * - holds the concurrency slot until the body has been fully received (JSON) or fully read,
 *   cancelled or errored (streams). A stream the caller never reads holds its slot until the
 *   response is garbage-collected: read or cancel every streamed body.
 */
export function createLimitedFetch(options: LimitedFetchOptions): FetchLike {
  const o = plainObject('options', options);
  knownKeys('createLimitedFetch options', o, OPTION_KEYS);
  if (!(o.limiter instanceof Limiter) && !(o.limiter instanceof LimiterRegistry)) {
    throw new TypeError('Expected `limiter` to be a Limiter or a LimiterRegistry');
  }
  const source = o.limiter;
  if (!PROVIDER_NAMES.includes(o.provider as ProviderName)) {
    throw new RangeError(
      `Expected \`provider\` to be one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(o.provider)}`,
    );
  }
  const provider = o.provider as ProviderName;
  const realFetch: FetchLike =
    o.fetch === undefined ? (input, init) => globalThis.fetch(input, init) : callable('fetch', o.fetch);
  const estimate = o.estimate;
  const estimateSettings: EstimateSettings =
    typeof estimate === 'object' && estimate !== null ? (estimate as EstimateSettings) : {};
  if (estimate !== undefined && typeof estimate !== 'function') {
    knownKeys('`estimate`', plainObject('estimate', estimate), ['mode', 'outputReservation']);
  }
  if (o.countFrom !== undefined && o.countFrom !== 'response' && o.countFrom !== 'admission') {
    throw new RangeError(`Expected \`countFrom\` to be 'response' or 'admission', got ${JSON.stringify(o.countFrom)}`);
  }
  if (o.countFrom === 'response' && source instanceof Limiter && !source.capabilities.arrivalTime) {
    // Asked for explicitly, it cannot take effect: say so now. Left at its default, the limiter
    // warns once on the first request instead (FORESTALL_STORE_CAPABILITY).
    throw new TypeError(
      "`countFrom: 'response'` needs a store that can restamp (`capabilities.arrivalTime`); this limiter's store cannot: use `countFrom: 'admission'`",
    );
  }
  const restamp = o.countFrom !== 'admission';
  const sync = o.sync !== false;
  const maxCountDelayMs =
    o.maxCountDelayMs === undefined ? 2_000 : nonNegativeNumber('maxCountDelayMs', o.maxCountDelayMs);
  const priority = o.priority === undefined ? 0 : finiteNumber('priority', o.priority);
  const acquireTimeoutMs =
    o.acquireTimeoutMs === undefined ? undefined : nonNegativeNumber('acquireTimeoutMs', o.acquireTimeoutMs);
  const pauseMs = o.rateLimitPauseMs === undefined ? 1_000 : nonNegativeNumber('rateLimitPauseMs', o.rateLimitPauseMs);
  const retryOptions: LimitedFetchRetryOptions | undefined =
    o.retry === undefined || o.retry === false
      ? undefined
      : o.retry === true
        ? {}
        : (plainObject('retry', o.retry) as LimitedFetchRetryOptions);

  async function costOf(url: string, body: unknown, text: string | undefined): Promise<TokenCost> {
    if (typeof estimate === 'function') return estimate(body, url);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return 0;
    const api = apiOf(url);
    return estimateRequestTokens(body, {
      provider,
      ...(api !== undefined && { api }),
      ...(estimateSettings.mode !== undefined && { mode: estimateSettings.mode }),
      ...(estimateSettings.outputReservation !== undefined && {
        outputReservation: estimateSettings.outputReservation,
      }),
    }).catch(() => ({ input: Math.ceil((text ?? '').length / 4), output: 0 }));
  }

  /** Per limiter that has not observed the provider yet: the first response, awaited by the rest. */
  const probes = new WeakMap<Limiter, Promise<void>>();

  /** Waits for a limiter's first answer from the provider, or makes this request the one to get it. */
  async function firstContact(limiter: Limiter, signal: AbortSignal | undefined): Promise<(() => void) | undefined> {
    if (!sync || limiter.observed) return undefined;
    const pending = probes.get(limiter);
    if (pending === undefined) {
      let done!: () => void;
      probes.set(limiter, new Promise<void>((resolve) => (done = resolve)));
      return () => {
        probes.delete(limiter);
        done();
      };
    }
    await abortable(pending, signal);
    return firstContact(limiter, signal);
  }

  return async function limitedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = input instanceof Request ? input.url : String(input);
    const text = await bodyText(input, init);
    const body = parseJson(text);
    const cost = await costOf(url, body, text);
    const model =
      typeof body === 'object' && body !== null && typeof (body as { model?: unknown }).model === 'string'
        ? (body as { model: string }).model
        : undefined;
    const limiter = source instanceof LimiterRegistry ? source.get(provider, model) : source;
    // Refused before anything is sent, and never retried: it would never fit.
    limiter.assertCanFit(cost);
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;

    /** The failed response of the last attempt, handed to the SDK when retries are used up. */
    let lastFailure: Response | undefined;

    const attempt = async (signal: AbortSignal | undefined): Promise<Response> => {
      const probed = await firstContact(limiter, signal);
      try {
        return await send(signal);
      } finally {
        probed?.();
      }
    };

    const send = async (signal: AbortSignal | undefined): Promise<Response> => {
      const lease = await limiter.acquire({
        tokens: cost,
        priority,
        ...(signal !== undefined && { signal }),
        ...(acquireTimeoutMs !== undefined && { timeoutMs: acquireTimeoutMs }),
      });
      let response: Response;
      try {
        response = await realFetch(input, signal === undefined ? init : { ...init, signal });
      } catch (error) {
        // It may have reached the server before failing: keep its slot, charge no tokens.
        lease.reconcile(0);
        lease.release();
        throw error;
      }
      if (restamp) lease.restamp(Math.min(limiter.clock.now(), lease.acquiredAt + maxCountDelayMs));
      if (sync) limiter.observe(parseRateLimitHeaders(response.headers, provider), { since: lease.acquiredAt });
      if (!response.ok) {
        lastFailure = response;
        if (response.status === 429) {
          // Refused at the door: the provider did not count it. (One that does shows it in the
          // headers, and `observe` above has already counted the difference.)
          lease.cancel();
        } else {
          // Failed requests generate nothing, but may count toward the request limit.
          lease.reconcile(0);
          lease.release();
        }
        if (response.status === 429) {
          const failure = classifyFailure(response, { body: await readErrorBody(response) });
          if (failure.retryable) {
            const ms = failure.retryAfterMs ?? pauseMs;
            limiter.pause(ms);
            limiter.emit('rateLimited', { status: 429, retryAfterMs: failure.retryAfterMs, pauseMs: ms });
          }
        }
        return response;
      }
      lastFailure = undefined;
      const streaming = (response.headers.get('content-type') ?? '').includes('text/event-stream');
      return streaming ? watchStream(response, lease, provider) : watchJson(response, lease, provider);
    };

    if (retryOptions === undefined) return attempt(callerSignal);
    return retry<Response>(({ signal }) => attempt(signal), {
      ...retryOptions,
      ...(callerSignal !== undefined && { signal: callerSignal }),
      // When retries run out, the SDK gets the real last response (its own error types then apply)
      // or the last connection error.
      fallback: (error) => {
        if (lastFailure !== undefined) return lastFailure;
        throw error.cause ?? error;
      },
      onRetry: async (event) => {
        limiter.emit('retry', event);
        await retryOptions.onRetry?.(event);
      },
    });
  };
}
