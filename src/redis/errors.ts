import { ForestallError } from '../core/errors.js';
import { messageOf } from '../internal/message-of.js';

/**
 * Redis could not be reached (connection refused or lost, no answer within `commandTimeoutMs`,
 * a server still loading or failing over) while the store's `onStoreError` policy is `'closed'`:
 * the acquire is rejected rather than admitted without the shared books. `cause` is the client's error.
 */
export class RedisUnavailableError extends ForestallError {
  override readonly name = 'RedisUnavailableError' as const;
  /** The quota key the store serves. */
  readonly key: string;

  constructor(key: string, cause: unknown) {
    super(`Redis is unavailable for quota "${key}" and onStoreError is 'closed': ${messageOf(cause)}`, { cause });
    this.key = key;
  }
}

/**
 * Redis answered, but not as the store expected: an error reply that is not about reachability
 * (a key of another type, missing permissions for EVAL, a reply of the wrong shape). Retrying or
 * falling back would hide a configuration problem, so the caller gets this error. `cause` is the
 * client's error, when there is one.
 */
export class RedisStoreError extends ForestallError {
  override readonly name = 'RedisStoreError' as const;
  /** The store operation that failed: `admit`, `reconcile`, `cancel`, `release`, `renew`, `pause`. */
  readonly operation: string;

  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super(`Redis store ${operation} failed: ${message}`, options);
    this.operation = operation;
  }
}

/** A Redis command did not answer within `commandTimeoutMs`; the store treats it as an outage. */
export class RedisTimeoutError extends ForestallError {
  override readonly name = 'RedisTimeoutError' as const;
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** Constructor names of error replies: node-redis `ErrorReply` (and subclasses), ioredis `ReplyError`. */
const REPLY_ERROR_NAMES = new Set(['ErrorReply', 'SimpleError', 'BlobError', 'ReplyError']);

/** Error replies that say "not now" rather than "never": the server is starting, failing over or busy. */
const TRANSIENT_REPLY = /^(LOADING|READONLY|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM|MOVED|ASK)\b/;

/** True when Redis itself answered with an error (as opposed to a connection or timeout failure). */
export function isErrorReply(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (REPLY_ERROR_NAMES.has(error.name)) return true;
  for (let proto: unknown = Object.getPrototypeOf(error); proto !== null && proto !== Error.prototype; ) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string' && REPLY_ERROR_NAMES.has(ctor.name)) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/** The script cache does not hold the script (after a restart, a failover or SCRIPT FLUSH). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * True when the failure means "Redis cannot be used right now": anything that is not an error
 * reply (refused, reset, offline client, closed client, timeout), and the transient error replies.
 * Other error replies are configuration problems and are reported, not fallen back from.
 */
export function isOutage(error: unknown): boolean {
  if (error instanceof RedisTimeoutError) return true;
  if (!isErrorReply(error)) return true;
  return TRANSIENT_REPLY.test((error as Error).message);
}
