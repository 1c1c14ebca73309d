import type { BatchWorkerContext } from '../batch/run-batch.js';
import { createLimitedFetch, type FetchLike, type LimitedFetchRetryOptions } from '../fetch/limited-fetch.js';
import { redactString, redactValue } from '../internal/redact.js';
import type { ProviderName } from '../providers/types.js';
import { usageFromResponse } from '../providers/usage.js';
import type { LimiterRegistry } from '../registry/registry.js';
import type { BatchRequest } from './batch-input.js';
import { authHeaders, headerSafe, joinUrl } from './endpoint.js';
import type { ResultRecord } from './results-file.js';

/** What sending one request came to. */
export interface SendOutcome {
  /** The line to write to the results file. */
  readonly record: ResultRecord;
  /** True for a 2xx answer. */
  readonly ok: boolean;
  /** Tokens the answer says were used, when it says. */
  readonly usage: { readonly input: number; readonly output: number } | undefined;
}

/** Counts the sender keeps up to date as requests go out. */
export interface SendCounts {
  /** HTTP requests sent, retries included. */
  sent: number;
  /** 429 answers received. */
  rateLimited: number;
}

/** Options of {@link createRequestSender}. */
export interface RequestSenderOptions {
  readonly provider: ProviderName;
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Limiters per model, learning their limits from the headers unless given. */
  readonly limiter: LimiterRegistry;
  readonly retry: LimitedFetchRetryOptions;
  readonly counts: SendCounts;
  /** Called as each request first leaves (its first attempt is sent). */
  readonly onStart?: (() => void) | undefined;
  /**
   * Aborted when the batch stops (Ctrl-C): a request that has not left by then never does, and
   * its worker rejects with the reason, so the item is not written and a resumed run sends it.
   */
  readonly stop?: AbortSignal | undefined;
  /** `fast`: estimate tokens as UTF-8 bytes / 4, without loading the tokenizer. @default tiktoken */
  readonly estimateMode?: 'fast' | undefined;
  /** Learn limits and others' use from the rate-limit headers. @default true */
  readonly sync?: boolean | undefined;
}

/** A failure without an HTTP answer, as a result line's `error`, with credentials removed. */
export function describeFailure(error: unknown): { code: string; message: string } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    cause?: unknown;
  };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  let message = typeof e.message === 'string' ? e.message : String(error);
  const cause = (typeof e.cause === 'object' && e.cause !== null ? e.cause : {}) as {
    message?: unknown;
    code?: unknown;
  };
  // `fetch failed` says little; its cause says what (ECONNREFUSED, a TLS error, ...).
  if (typeof cause.message === 'string' && cause.message !== '' && !message.includes(cause.message))
    message += `: ${cause.message}`;
  const networkCode = typeof cause.code === 'string' ? cause.code : typeof e.code === 'string' ? e.code : undefined;
  const code =
    name === 'CapacityError'
      ? 'request_too_large'
      : name === 'AttemptTimeoutError' || name === 'TimeoutError'
        ? 'timeout'
        : networkCode !== undefined || (name === 'TypeError' && e.message === 'fetch failed')
          ? 'connection_error'
          : name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  return { code, message: redactString(message) };
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The batch worker of `forestall batch`: sends one request through a `createLimitedFetch` (which
 * waits for the limiter, syncs with the rate-limit headers and retries 429s, 5xx and connection
 * failures), tagged `x-forestall-id: <custom_id>`, and turns whatever happens into a result line.
 * It never rejects, a failure is a line too, except for a request stopped (`stop`) before it left.
 */
export function createRequestSender(
  options: RequestSenderOptions,
): (request: BatchRequest, context: BatchWorkerContext) => Promise<SendOutcome> {
  const { provider, baseUrl, counts } = options;
  // Counts what really goes out and comes back, retries included; `sent` marks a request that left.
  const countingFetch =
    (sent: { left: boolean }): FetchLike =>
    async (url, init) => {
      if (!sent.left) options.onStart?.();
      sent.left = true;
      counts.sent++;
      const response = await fetch(url, init);
      if (response.status === 429) counts.rateLimited++;
      return response;
    };
  const fetchFor = (sent: { left: boolean }): FetchLike =>
    createLimitedFetch({
      limiter: options.limiter,
      provider,
      fetch: countingFetch(sent),
      retry: options.retry,
      sync: options.sync ?? true,
      ...(options.estimateMode === 'fast' && { estimate: { mode: 'fast' as const } }),
    });
  const headers = { ...authHeaders(provider, options.apiKey), 'content-type': 'application/json' };

  return async (request, { signal }) => {
    const customId = request.customId;
    const sent = { left: false };
    try {
      const response = await fetchFor(sent)(joinUrl(baseUrl, request.url), {
        method: 'POST',
        headers: { ...headers, 'x-forestall-id': headerSafe(customId) },
        body: JSON.stringify(request.body),
        signal,
      });
      const body = parseBody(await response.text());
      const requestId = response.headers.get('x-request-id') ?? response.headers.get('request-id') ?? undefined;
      const ok = response.status >= 200 && response.status < 300;
      return {
        record: {
          custom_id: customId,
          response: {
            status_code: response.status,
            ...(requestId !== undefined && { request_id: requestId }),
            // An error body may quote what was sent; a model's answer is kept exactly as it came.
            body: ok ? body : redactValue(body),
          },
          error: null,
        },
        ok,
        usage: ok ? usageFromResponse(body, provider) : undefined,
      };
    } catch (error) {
      // Stopped before it left: not done, not written (a resumed run sends it).
      if (!sent.left && options.stop?.aborted) throw options.stop.reason;
      return {
        record: { custom_id: customId, response: null, error: describeFailure(error) },
        ok: false,
        usage: undefined,
      };
    }
  };
}
