import { EXPECT_RESTAMPS } from '../limiter/hot-listeners.js';
import type { TokenCost } from '../core/vocabulary.js';
import type { Limiter } from '../limiter/limiter.js';
import { LimiterRegistry } from '../registry/registry.js';
import { PROVIDER_TABLE } from '../providers/table.js';
import { classifyFailure } from '../feedback/classify.js';
import { type AnswerPolicy, SentRequest } from '../feedback/sent-request.js';
import { rememberRequestSecrets } from '../retry/kept-failure.js';
import { retry } from '../retry/retry.js';
import type { RequestApi, RequestTokenEstimate } from '../tokens/index.js';
import { estimateRequestTokensEarly } from '../tokens/estimate.js';
import type { EarlyCount } from '../tokens/text-counter.js';
import type { AnsweredLease } from '../feedback/answered-lease.js';
import { admitAtBound, type BoundLease, countBounds } from './bound-lease.js';
import { endpointOf, methodOf } from './endpoint.js';
import { type FetchLike, type LimitedFetchOptions, resolveFetchOptions } from './fetch-options.js';
import { prepareRequest } from './request-body.js';
import { requestSecrets } from './request-secrets.js';
import { FallbackRouter, findModel, type RequestRoutes, retryingNow } from './fallback.js';
import { RequestAccount } from './request-account.js';
import type { StreamError } from '../providers/stream-error.js';
import { watchJson } from '../feedback/watch-response.js';
import { openStream } from '../feedback/watch-stream.js';

export type {
  CountFrom,
  EstimateFunction,
  EstimateSettings,
  FetchLike,
  LimitedFetchFallbackOptions,
  LimitedFetchOptions,
  LimitedFetchRetryOptions,
} from './fetch-options.js';

/**
 * The model key, in a `LimiterRegistry`, of a provider's token-counting requests: they have limits
 * of their own (Anthropic), set with `providers.anthropic.models.count_tokens`.
 */
export const COUNT_TOKENS_GROUP = 'count_tokens';

const known = (cost: TokenCost): EarlyCount<TokenCost> => ({ bound: undefined, exact: () => Promise.resolve(cost) });

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
 * `signal`; a request with room for an upper bound of its prompt is admitted at the bound at once
 * rather than after the tokenizer worker's count: see `admitAtBound`), sends, and then:
 * - counts the request from when it left the process, plus `sentMarginMs` for the way to the
 *   provider (Node's built-in fetch reports the moment; with another fetch, `sentFallbackMs`
 *   after its admission): see `countFrom`;
 * - observes the rate-limit headers of every response (`limiter.observe`), adopting announced
 *   limits and tightening when others use the same quota;
 * - on a 429, pauses the limiter for the delay the server named, else `rateLimitPauseMs` (everyone waits), and with
 *   `retry` on, retries inside (each attempt acquires again);
 * - reconciles the real usage: from a JSON body as the caller reads it (see `watchJson`), or from
 *   a server-sent-event stream as it passes; any other error answer keeps its reservation (failed requests count);
 * - holds the concurrency slot until the body has been fully received (JSON) or fully read,
 *   cancelled or errored (streams). A stream the caller never reads holds its slot until the
 *   response is garbage-collected: read or cancel every streamed body;
 * - peeks at a stream until its first content (a text delta, a tool call; not `message_start` or
 *   `ping`): an error event before it (Anthropic `event: error`, a gateway's
 *   `data: {"error":{"code":429}}`) fails the attempt like the HTTP error it stands for: a rate
 *   limit pauses the limiter as a 429 does, and with `retry` on, rate limits,
 *   overloads and server errors are retried; otherwise the caller gets the stream as it came (the
 *   SDK throws its own error). An error event after content errors the stream with a
 *   `StreamError` (a rate limit still pauses the limiter). Either way the stream's reported usage
 *   is charged, else the reservation stays.
 *
 * Only generation is charged (see `endpointOf`): GET / DELETE requests, models, files and batch
 * management pass straight through (no slot, no tokens). Token counting
 * (`/v1/messages/count_tokens`, `/v1/responses/input_tokens`, Gemini `:countTokens`) goes through
 * the registry's limiter `registry.get(provider, 'count_tokens')` (limits of its own, no tokens);
 * with a plain `Limiter` it passes straight through.
 *
 * A request that left and then failed (the SDK's `timeout`, the caller's abort after sending, a
 * reset connection) keeps its request slot and its reservation: the provider may be generating
 * it, and counts it. Only one that never left (aborted while queued, refused at connect) is given
 * back entirely.
 *
 * With `retry`, the failures kept in `retry` events have credentials redacted, the request's own
 * `Authorization` / `x-api-key` values included wherever a server echoed them (bodies too).
 *
 * With `fallback` (and a `LimiterRegistry`), every attempt is routed: the requested model when it
 * admits within `afterMs` and is neither paused nor overloaded, else the first fallback that
 * admits (see `acquireAny`), the request's `model` rewritten in its body or URL. Everything the
 * answer says (headers, 429 pauses, usage, overloads) goes to the limiter that admitted it. An
 * overloaded answer (503, 529, a stream failing before content with an overload) puts its model
 * after its fallbacks for the delay it named, else `rateLimitPauseMs`, for every later request
 * and attempt of this fetch (the SDK's retries included). With `retry`, a 429 or overload that
 * leaves another model ready is handed to `retry` with `retry-after-ms: 0`, so the next attempt
 * goes there at once instead of waiting out the failed model's delay.
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
    countFrom,
    sync,
    maxCountDelayMs,
    sentFallbackMs,
    sentMarginMs,
    priority,
    acquireTimeoutMs,
    rateLimitPauseMs: pauseMs,
    fallback,
    prices,
  } = resolveFetchOptions(options);
  const router =
    fallback === undefined ? undefined : new FallbackRouter(source as LimiterRegistry, provider, fallback, pauseMs);
  const modelInUrl = PROVIDER_TABLE[provider].modelIn === 'url';
  const answerPolicy: AnswerPolicy = {
    provider,
    sync,
    rateLimitPauseMs: pauseMs,
    countFrom,
    sentMarginMs,
    sentFallbackMs,
    maxCountDelayMs,
  };

  /** Counted from arrival: the limiter's store books no slot on an entry that may still move. */
  const arrivalCounted = (limiter: Limiter): void => {
    if (countFrom !== 'admission') limiter[EXPECT_RESTAMPS]();
  };

  /** The request's cost, and an upper bound of it known before the tokenizer worker has counted. */
  async function costOf(
    url: string,
    api: RequestApi | undefined,
    body: unknown,
    text: string | undefined,
  ): Promise<EarlyCount<TokenCost>> {
    if (typeof estimate === 'function') return known(await estimate(body, url));
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return known(0);
    const fallback = (): RequestTokenEstimate => ({ input: Math.ceil((text ?? '').length / 4), output: 0 });
    // Never waits for the tokenizer to load: the fast estimate until it is ready.
    return estimateRequestTokensEarly(
      body,
      {
        provider,
        ...(api !== undefined && { api }),
        mode,
        ...(outputReservation !== undefined && { outputReservation }),
      },
      fallback,
    ).catch(() => known(fallback()));
  }

  return async function limitedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = input instanceof Request ? input.url : String(input);
    const endpoint = endpointOf(url, methodOf(input, init), provider);
    // Not generation: no slot, no tokens. Token counting has limits of its own only in a registry.
    if (endpoint.kind === 'pass' || (endpoint.kind === 'count-tokens' && !(source instanceof LimiterRegistry))) {
      return realFetch(input, init);
    }
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    // Read once: the estimate counts it, and every attempt sends the same bytes.
    const request = await prepareRequest(input, init, callerSignal);
    const { text } = request;
    const body = parseJson(text);
    // Where the provider names it: the URL (Gemini's model, Azure's deployment) or the body,
    // else the other one.
    const named = findModel(url, body, modelInUrl);
    const model = named?.model;
    /** The limiter of the latest attempt: the requested model's, or the fallback's that admitted it. */
    let limiter: Limiter;
    /** The requested model and its fallbacks, when it has any. */
    let routes: RequestRoutes | undefined;
    /** The cost once estimated; the first attempt may be admitted at its bound before that. */
    let cost: TokenCost | undefined;
    let estimated: () => Promise<TokenCost>;
    /** Admitted at the bound of the cost: the first attempt's lease. */
    let early: BoundLease | undefined;
    // Token counting is not generation: nothing to price.
    const account = new RequestAccount(endpoint.kind === 'count-tokens' ? undefined : prices, provider, source, model);
    if (endpoint.kind === 'count-tokens') {
      limiter = (source as LimiterRegistry).get(provider, COUNT_TOKENS_GROUP);
      cost = 0;
      estimated = () => Promise.resolve(0);
    } else {
      const count = await costOf(url, endpoint.api, body, text);
      limiter = source instanceof LimiterRegistry ? source.get(provider, model) : source;
      routes = router?.route(named, limiter, request, url, body);
      estimated = count.exact;
      // Until the limiter has heard from the provider, its first request goes alone and the rest
      // wait in its queue (visible in stats, rejected by close) for the answer's headers.
      if (sync) limiter.probeUntilObserved();
      // With fallbacks, at the bound only on a requested model that admits at once (and is not
      // overloaded); else the exact cost, for every candidate.
      // Priced requests wait for the exact count: the spend reserved is priced from it.
      if (count.bound !== undefined && routes?.requestedAvailable !== false && prices === undefined)
        early = admitAtBound(limiter, count.bound, count.exact, priority, callerSignal);
      if (early === undefined) {
        // No room for the bound: the bounds in flight may be why.
        countBounds(limiter);
        cost = await count.exact();
      }
    }
    // Refused before anything is sent, and never retried: it would never fit. (A request admitted
    // at its bound fits: its cost is no more.)
    if (cost !== undefined && routes !== undefined) routes.assertCanFit(cost);
    else if (cost !== undefined) limiter.assertCanFit(cost, account.spendFor(model, limiter, cost));
    // What a server echoes of the request's credentials is redacted from what `retry` keeps.
    const secrets = retryOptions === undefined ? [] : requestSecrets(input, init);

    /** The failed response of the last attempt, handed to the SDK when retries are used up. */
    let lastFailure: Response | undefined;
    /** A stream that failed before its content, kept for the SDK unless another attempt follows. */
    let failedStream: Response | undefined;

    /** The lease of the attempt on the wire. */
    let current: AnsweredLease | undefined;
    /** A mid-stream rate-limit error means what a 429 means: everyone waits. */
    const onStreamError = (error: StreamError): void => {
      // The delay its message names ("try again in 1.5s"), else the default.
      if (error.kind !== 'rate-limit') return;
      const { retryAfterMs } = classifyFailure(error);
      limiter.rateLimited({ retryAfterMs, defaultPauseMs: pauseMs, admittedAt: current?.acquiredAt });
    };

    const attempt = async (signal: AbortSignal | undefined): Promise<Response> => {
      if (failedStream !== undefined) {
        // Retried: the failed stream will never be read.
        failedStream.body?.cancel().catch(() => undefined);
        if (lastFailure === failedStream) lastFailure = undefined;
        failedStream = undefined;
      }
      if (sync) (routes ?? limiter).probeUntilObserved();
      return send(signal);
    };

    const send = async (signal: AbortSignal | undefined): Promise<Response> => {
      let lease: AnsweredLease | undefined = early;
      early = undefined;
      let sent = request;
      let sentAs = model;
      if (lease === undefined) {
        const tokens = cost ?? (await estimated());
        const waits = {
          priority,
          ...(signal !== undefined && { signal }),
          ...(acquireTimeoutMs !== undefined && { timeoutMs: acquireTimeoutMs }),
        };
        // Routed again on every attempt: the limiter that admits it hears its answer.
        if (routes === undefined) {
          arrivalCounted(limiter);
          const spend = account.spendFor(model, limiter, tokens);
          lease = await limiter.acquire({ tokens, ...waits, ...(spend !== undefined && { spend }) });
        } else {
          // Each candidate is asked its spend before it is asked to admit: told then too.
          const spendOf = (m: string, l: Limiter) => {
            arrivalCounted(l);
            return account.spendFor(m, l, tokens);
          };
          ({ lease, limiter, request: sent, model: sentAs } = await routes.acquire(tokens, waits, spendOf));
        }
      }
      lease = account.sent(lease, limiter, sentAs);
      current = lease;
      if (signal?.aborted) {
        // Aborted as it was admitted: never sent.
        lease.cancel();
        throw signal.reason;
      }
      const count = new SentRequest(lease, limiter, answerPolicy, sent.args(signal));
      let response: Response;
      try {
        response = await realFetch(...count.args);
      } catch (error) {
        count.failed(error);
        rememberRequestSecrets(error, secrets);
        throw error;
      }
      await count.answered(response);
      if (!response.ok) {
        router?.heard(limiter, response);
        // Another model is ready: `retry` need not wait out the delay the failed one named.
        const failed = retryOptions !== undefined && routes?.reroutes(limiter) ? retryingNow(response) : response;
        lastFailure = failed;
        rememberRequestSecrets(failed, secrets);
        return failed;
      }
      lastFailure = undefined;
      const streaming = (response.headers.get('content-type') ?? '').includes('text/event-stream');
      if (!streaming) return watchJson(response, lease, provider);
      const opened = await openStream(response, lease, provider, onStreamError);
      if (opened.failed) {
        router?.streamFailed(limiter, opened.error);
        account.streamFailed(opened.error.kind);
      }
      if (!opened.failed || retryOptions === undefined) return opened.response;
      // Failed before any content: the attempt failed like the HTTP error it stands for. When it
      // is not retried, the SDK reads the stream as it came and throws its own error.
      failedStream = opened.response;
      lastFailure = opened.response;
      rememberRequestSecrets(opened.error, secrets);
      throw opened.error;
    };

    const settled = (outcome: Promise<Response>): Promise<Response> =>
      outcome.then(
        (response) => {
          account.settled(response);
          return response;
        },
        (error: unknown) => {
          account.settled({ error });
          throw error;
        },
      );
    if (retryOptions === undefined) return settled(attempt(callerSignal));
    // An early admission no attempt took (retry gave up before its first) was never sent.
    const retried = retry<Response>(({ signal }) => attempt(signal), {
      ...retryOptions,
      ...(callerSignal !== undefined && { signal: callerSignal }),
      // When retries run out, the SDK gets the real last response (its own error types then apply)
      // or the last connection error.
      fallback: (error) => {
        if (lastFailure !== undefined) return lastFailure;
        throw error.cause ?? error;
      },
      onRetry: async (event) => {
        limiter.retrying(event);
        await retryOptions.onRetry?.(event);
      },
    }).finally(() => early?.cancel());
    return settled(retried);
  };
}
