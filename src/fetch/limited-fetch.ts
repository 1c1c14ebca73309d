import type { TokenCost } from '../core/vocabulary.js';
import type { Limiter } from '../limiter/limiter.js';
import { parseRateLimitHeaders } from '../providers/headers.js';
import { LimiterRegistry } from '../registry/registry.js';
import { classifyFailure } from '../retry/classify.js';
import { rememberRequestSecrets } from '../retry/kept-failure.js';
import { readErrorBody } from '../retry/response-body.js';
import { retry } from '../retry/retry.js';
import { estimateRequestTokens, type RequestApi } from '../tokens/index.js';
import { abortable } from './abortable.js';
import { type FetchLike, type LimitedFetchOptions, resolveFetchOptions } from './fetch-options.js';
import { prepareRequest } from './request-body.js';
import { requestSecrets } from './request-secrets.js';
import { watchJson, watchStream } from './watch-response.js';

export type {
  EstimateFunction,
  EstimateSettings,
  FetchLike,
  LimitedFetchOptions,
  LimitedFetchRetryOptions,
} from './fetch-options.js';

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

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A `fetch` that waits for the limiter before every request: hand it to any SDK
 * (`new OpenAI({ fetch, maxRetries: 0 })`, `new Anthropic({ fetch, maxRetries: 0 })`,
 * `createOpenAI({ fetch })`).
 *
 * Every option is checked here, when the fetch is created (a bad `retry`, `estimate` or `sync`
 * throws now, naming the option), not on the first request.
 *
 * For each request it reads the JSON body once, before the first attempt (a `Request` given as
 * input and a streamed `init.body` are read to bytes, and those bytes are sent on every attempt,
 * so a retry never meets a used body), estimates its tokens (`estimateRequestTokens`), picks
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
 *
 * With `retry`, the failures kept in `retry` events have credentials redacted, the request's own
 * `Authorization` / `x-api-key` values included wherever a server echoed them (bodies too).
 */
export function createLimitedFetch(options: LimitedFetchOptions): FetchLike {
  const {
    source,
    provider,
    fetch: realFetch,
    retry: retryOptions,
    estimate,
    mode,
    outputReservation,
    restamp,
    sync,
    maxCountDelayMs,
    priority,
    acquireTimeoutMs,
    rateLimitPauseMs: pauseMs,
  } = resolveFetchOptions(options);

  async function costOf(url: string, body: unknown, text: string | undefined): Promise<TokenCost> {
    if (typeof estimate === 'function') return estimate(body, url);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return 0;
    const api = apiOf(url);
    return estimateRequestTokens(body, {
      provider,
      ...(api !== undefined && { api }),
      mode,
      ...(outputReservation !== undefined && { outputReservation }),
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
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    // Read once: the estimate counts it, and every attempt sends the same bytes.
    const request = await prepareRequest(input, init, callerSignal);
    const { text } = request;
    const body = parseJson(text);
    const cost = await costOf(url, body, text);
    const model =
      typeof body === 'object' && body !== null && typeof (body as { model?: unknown }).model === 'string'
        ? (body as { model: string }).model
        : undefined;
    const limiter = source instanceof LimiterRegistry ? source.get(provider, model) : source;
    // Refused before anything is sent, and never retried: it would never fit.
    limiter.assertCanFit(cost);
    // What a server echoes of the request's credentials is redacted from what `retry` keeps.
    const secrets = retryOptions === undefined ? [] : requestSecrets(input, init);

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
        response = await realFetch(...request.args(signal));
      } catch (error) {
        // It may have reached the server before failing: keep its slot, charge no tokens.
        lease.reconcile(0);
        lease.release();
        rememberRequestSecrets(error, secrets);
        throw error;
      }
      if (restamp) lease.restamp(Math.min(limiter.clock.now(), lease.acquiredAt + maxCountDelayMs));
      if (sync) limiter.observe(parseRateLimitHeaders(response.headers, provider), { since: lease.acquiredAt });
      if (!response.ok) {
        lastFailure = response;
        rememberRequestSecrets(response, secrets);
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
