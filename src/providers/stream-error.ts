import { ForestallError } from '../core/errors.js';
import { redactString } from '../internal/redact.js';
import type { StreamErrorInfo, StreamErrorKind } from './stream-errors.js';

export type { StreamErrorKind } from './stream-errors.js';

const MAX_MESSAGE = 300;

/**
 * The provider reported an error inside a streamed response that began with HTTP 200, after
 * content had already reached the caller: the stream of `createLimitedFetch`'s response errors
 * with this (an SDK iterating it throws it, or wraps it as its `cause`). An error that came before
 * any content is handled as the equivalent HTTP failure instead (retried with `retry` on).
 *
 * `classifyFailure` retries `rate-limit` (as `rate-limited`), `overloaded` and `server-error`.
 * Carries no request data: the provider's message is kept with credentials redacted.
 */
export class StreamError extends ForestallError {
  override readonly name = 'StreamError' as const;
  /** What the error means: `rate-limit`, `overloaded`, `server-error` or `other`. */
  readonly kind: StreamErrorKind;
  /** The HTTP status the same failure has before a stream starts: 429, 529 / 503, 500; undefined for `other` without a code. */
  readonly status: number | undefined;
  /** The provider's error type or code: `overloaded_error`, `rate_limit_error`, `429`, `rate_limit_exceeded`. */
  readonly code: string | number | undefined;
  /** The provider's message, credentials redacted. */
  readonly providerMessage: string | undefined;

  constructor(info: Pick<StreamErrorInfo, 'kind' | 'status' | 'code' | 'message'>) {
    const message = info.message === undefined ? undefined : redactString(info.message).slice(0, MAX_MESSAGE);
    const named = info.code === undefined ? info.kind : `${info.kind}, ${String(info.code)}`;
    super(`The provider reported an error mid-stream (${named})${message === undefined ? '' : `: ${message}`}`);
    this.kind = info.kind;
    this.status = info.status;
    this.code = info.code;
    this.providerMessage = message;
  }
}
