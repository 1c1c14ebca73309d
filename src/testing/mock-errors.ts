import { formatGoDuration } from '../providers/go-duration.js';
import { type ProviderWindowKind, WINDOW_KIND_TABLE } from '../core/vocabulary.js';
import type { Refusal } from './mock-limits.js';
import type { MockProvider } from './mock-options.js';

/** An error answer: status, JSON body and extra headers. */
export interface ErrorReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** The organization named in error messages, as the real APIs name yours. */
export const MOCK_ORGANIZATION = 'org-forestall-mock';

type HeaderMap = Record<string, string>;

function openAiError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: HeaderMap = {},
): ErrorReply {
  return { status, body: { error: { message, type, param: null, code } }, headers };
}

function anthropicError(
  status: number,
  type: string,
  message: string,
  requestId: string,
  headers: HeaderMap = {},
): ErrorReply {
  return { status, body: { type: 'error', error: { type, message }, request_id: requestId }, headers };
}

/** OpenAI's short names of the limits, as in `RPM` and `TPD`. */
const OPENAI_SHORT: Record<ProviderWindowKind, string> = {
  requests: 'R',
  tokens: 'T',
  inputTokens: 'IT',
  outputTokens: 'OT',
};

function openAiLimitName(kind: ProviderWindowKind, windowMs: number): string {
  const unit = WINDOW_KIND_TABLE[kind].label;
  const short = OPENAI_SHORT[kind];
  if (windowMs === 60_000) return `${unit} per min (${short}PM)`;
  if (windowMs === 86_400_000) return `${unit} per day (${short}PD)`;
  return `${unit} per ${formatGoDuration(windowMs)}`;
}

function anthropicLimitName(kind: ProviderWindowKind, limit: number, windowMs: number): string {
  const per = windowMs === 60_000 ? 'minute' : formatGoDuration(windowMs);
  return `${limit.toLocaleString('en-US')} ${WINDOW_KIND_TABLE[kind].label} per ${per}`;
}

/**
 * The 429 a provider sends for a refused request. A request that can never fit gets OpenAI's
 * "Request too large" message (Anthropic uses its ordinary rate-limit message) and no `retry-after`,
 * since waiting cannot help.
 */
export function rateLimitReply(
  provider: MockProvider,
  refusal: Refusal,
  model: string,
  requestId: string,
  sendRetryAfterMs: boolean,
): ErrorReply {
  const headers: HeaderMap = {};
  if (refusal.reason === 'rate-limited') {
    // Whole seconds, rounded up, as the real APIs send; the ms header only when asked for.
    headers['retry-after'] = String(Math.max(1, Math.ceil(refusal.waitMs / 1_000)));
    if (sendRetryAfterMs) headers['retry-after-ms'] = String(Math.ceil(refusal.waitMs));
  }
  if (provider === 'anthropic') {
    const limitText = anthropicLimitName(refusal.kind, refusal.limit, refusal.windowMs);
    const message =
      `This request would exceed your organization's rate limit of ${limitText} ` +
      `(org: ${MOCK_ORGANIZATION}, model: ${model}). For details, refer to: https://docs.claude.com/en/api/rate-limits. ` +
      'You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, ' +
      'or try again later. You may also contact sales at https://claude.com/contact-sales to discuss your options for a rate limit increase.';
    return anthropicError(429, 'rate_limit_error', message, requestId, headers);
  }
  // OpenAI's error type names what the window counts.
  const type = WINDOW_KIND_TABLE[refusal.kind].unit;
  const on = openAiLimitName(refusal.kind, refusal.windowMs);
  const message =
    refusal.reason === 'too-large'
      ? `Request too large for ${model} in organization ${MOCK_ORGANIZATION} on ${on}: Limit ${refusal.limit}, ` +
        `Requested ${refusal.requested}. The input or output tokens must be reduced in order to run successfully. ` +
        'Visit https://platform.openai.com/account/rate-limits to learn more.'
      : `Rate limit reached for ${model} in organization ${MOCK_ORGANIZATION} on ${on}: Limit ${refusal.limit}, ` +
        `Used ${refusal.used}, Requested ${refusal.requested}. ` +
        `Please try again in ${formatGoDuration(Math.ceil(refusal.waitMs))}. ` +
        'Visit https://platform.openai.com/account/rate-limits to learn more.';
  return openAiError(429, message, type, 'rate_limit_exceeded', headers);
}

/** The provider's 500 for an internal error. */
export function serverErrorReply(provider: MockProvider, requestId: string): ErrorReply {
  if (provider === 'anthropic') return anthropicError(500, 'api_error', 'Internal server error', requestId);
  return openAiError(
    500,
    'The server had an error while processing your request. Sorry about that!',
    'server_error',
    null,
  );
}

/** The provider's answer when it is overloaded: Anthropic's 529 `overloaded_error`, OpenAI's 503. */
export function overloadedReply(provider: MockProvider, requestId: string): ErrorReply {
  if (provider === 'anthropic') return anthropicError(529, 'overloaded_error', 'Overloaded', requestId);
  return openAiError(503, 'The engine is currently overloaded, please try again later', 'server_error', null);
}

/** The provider's 400 for a malformed request. */
export function badRequestReply(provider: MockProvider, message: string, requestId: string): ErrorReply {
  if (provider === 'anthropic') return anthropicError(400, 'invalid_request_error', message, requestId);
  return openAiError(400, message, 'invalid_request_error', null);
}

/** The provider's 404 for a path it does not serve. */
export function notFoundReply(provider: MockProvider, method: string, path: string, requestId: string): ErrorReply {
  if (provider === 'anthropic') return anthropicError(404, 'not_found_error', 'Not Found', requestId);
  return openAiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null);
}
