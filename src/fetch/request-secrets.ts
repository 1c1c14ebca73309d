import { isSecretName } from '../internal/redact.js';

/** Query parameters that carry credentials (Gemini's REST API takes its key as `?key=`). */
const CREDENTIAL_PARAM = /^(?:key|api[-_]?key|access[-_]?token|token|auth|sig|signature)$/i;

/**
 * The exact credential values a request carries: its `Authorization`, `x-api-key`, `api-key` and
 * other credential headers (also without their scheme: the bare key of `Bearer <key>`), and
 * credential query parameters. What a server echoes of them is redacted from what `retry` keeps.
 */
export function requestSecrets(input: string | URL | Request, init: RequestInit | undefined): string[] {
  const values: string[] = [];
  const fromHeaders = (headers: HeadersInit | undefined): void => {
    if (headers === undefined) return;
    let parsed: Headers;
    try {
      parsed = new Headers(headers);
    } catch {
      return; // fetch itself refuses them.
    }
    parsed.forEach((value, name) => {
      if (!isSecretName(name)) return;
      values.push(value);
      const scheme = /^\s*[A-Za-z][\w-]*\s+(\S.*)$/.exec(value);
      if (scheme?.[1] !== undefined) values.push(scheme[1]);
    });
  };
  if (input instanceof Request) fromHeaders(input.headers);
  fromHeaders(init?.headers);
  try {
    const url = new URL(input instanceof Request ? input.url : String(input));
    url.searchParams.forEach((value, name) => {
      if (CREDENTIAL_PARAM.test(name)) values.push(value);
    });
  } catch {
    // Not an absolute URL: nothing to read from it.
  }
  return values;
}
