/*
 * Whether a request whose fetch failed ever left the process. Only one that never left is given
 * back to the limiter (its request slot and tokens): a provider counts a request when it arrives,
 * and one that arrived may be generating (and charged) whatever happens to its response.
 */

/** Failures of the connection itself: nothing was sent. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);

function codeOf(value: object): string | undefined {
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True when the error says the connection was never made (refused, no such host, connect
 * timeout, a certificate refused): the request never left. Looks through `cause` chains (fetch
 * wraps the socket error in `TypeError: fetch failed`) and a failed multi-address connect's
 * `AggregateError`. An abort, a reset or anything unknown: it may have left.
 */
export function neverLeft(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const code = codeOf(current);
    if (code !== undefined && NOT_SENT_CODES.has(code)) return true;
    if ((current as { name?: unknown }).name === 'ConnectTimeoutError') return true;
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      // Every address refused: none was reached.
      return errors.every((e: unknown) => typeof e === 'object' && e !== null && NOT_SENT_CODES.has(codeOf(e) ?? ''));
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
