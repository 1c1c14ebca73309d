/*
 * Keeps credentials out of everything forestall hands back: error messages, error properties,
 * events and log lines. Errors from HTTP clients are the usual carriers: some keep the request's
 * headers (`Authorization`, `x-api-key`), a URL with `?key=`, or a server message that echoes the key.
 */

/** What a secret is replaced with. */
export const REDACTED = '[REDACTED]';

// Rate-limit headers name "tokens" (`x-ratelimit-remaining-tokens`) and are needed, not secret.
const RATE_LIMIT_NAME = /rate-?limit/i;
const SECRET_NAME = /key|token|secret|authori[sz]ation|cookie|passw(?:or)?d|credential/i;

/**
 * True for header and property names that carry credentials: `authorization`,
 * `proxy-authorization`, `x-api-key`, `api-key`, `cookie`, `set-cookie`, and anything naming a key,
 * token, secret or password. Rate-limit headers (`x-ratelimit-remaining-tokens`) are not secrets.
 */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !RATE_LIMIT_NAME.test(name);
}

// Each pattern finds a credential in free text. Replacements keep the label so a log still says
// what was there (`Bearer [REDACTED]`), never the value.
const SECRET_PATTERNS: readonly (readonly [RegExp, string])[] = [
  // OpenAI (`sk-`, `sk-proj-`), Anthropic (`sk-ant-`) and similar keys; Stripe-style `sk_live_`.
  [/\bsk-[A-Za-z0-9_-]{6,}/g, REDACTED],
  [/\b[sr]k_(?:live|test)_[A-Za-z0-9]{6,}/g, REDACTED],
  // Google API keys (Gemini).
  [/\bAIza[0-9A-Za-z_-]{20,}/g, REDACTED],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, `Bearer ${REDACTED}`],
  // Credentials in URLs: `https://user:pass@host` and `?key=...` (how Gemini's REST API takes keys).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, `$1${REDACTED}@`],
  [/([?&](?:key|api[-_]?key|access[-_]?token|token|auth|sig|signature)=)[^&#\s"'<>]+/gi, `$1${REDACTED}`],
  // Header dumps such as `x-api-key: abc` or `"authorization":"Basic abc"`.
  [
    /(\b(?:x-api-key|x-goog-api-key|api-key|authorization|proxy-authorization|cookie|set-cookie)["']?\s*[:=]\s*["']?)[^\r\n"']+/gi,
    `$1${REDACTED}`,
  ],
];

/** Replaces anything in `text` that looks like a credential with `[REDACTED]`. */
export function redactString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Headers in the shapes callers and SDKs use: a fetch `Headers`, a `Map`, or a plain record. */
export type HeadersLike =
  | Headers
  | ReadonlyMap<string, unknown>
  | Readonly<Record<string, string | number | readonly string[] | undefined | null>>;

function headerEntries(headers: HeadersLike): [string, string][] {
  const out: [string, string][] = [];
  const add = (name: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    const values: unknown[] = Array.isArray(value) ? value : [value];
    out.push([name.toLowerCase(), values.map(String).join(', ')]);
  };
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      add(name, value);
    });
  } else if (headers instanceof Map) for (const [name, value] of headers) add(String(name), value);
  else for (const [name, value] of Object.entries(headers)) add(name, value);
  return out;
}

/**
 * A plain record of `headers` with lower-case names, safe to log: credential headers (see
 * {@link isSecretName}) read `[REDACTED]` and other values pass through {@link redactString}.
 */
export function redactHeaders(headers: HeadersLike): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headerEntries(headers)) {
    out[name] = isSecretName(name) ? REDACTED : redactString(value);
  }
  return out;
}

// Bounds on the walk: an error can hold a whole HTTP client (sockets, agents, parsers).
const MAX_DEPTH = 8;
const MAX_NODES = 4_000;

interface Walk {
  nodes: number;
  readonly seen: Set<object>;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Whether a value is copied field by field (errors, plain objects, arrays) rather than kept whole. */
function isCopyable(value: object): boolean {
  return Array.isArray(value) || value instanceof Error || isPlainObject(value);
}

function headersHaveSecret(headers: HeadersLike): boolean {
  return headerEntries(headers).some(
    ([name, value]) => (isSecretName(name) && value !== '') || redactString(value) !== value,
  );
}

/** True when `value` holds a credential, or is too large to be sure it does not. */
function hasSecret(value: unknown, name: string | undefined, depth: number, walk: Walk): boolean {
  if (typeof value === 'string') {
    return (name !== undefined && isSecretName(name) && value !== '') || redactString(value) !== value;
  }
  if (typeof value !== 'object' || value === null) return false;
  if (walk.seen.has(value)) return false;
  walk.seen.add(value);
  if (++walk.nodes > MAX_NODES || depth > MAX_DEPTH) return true;
  if (value instanceof Headers) return headersHaveSecret(value);
  if (value instanceof Response || value instanceof Request) {
    return redactString(value.url) !== value.url || headersHaveSecret(value.headers);
  }
  if (value instanceof Map) {
    for (const [k, v] of value) if (hasSecret(v, typeof k === 'string' ? k : undefined, depth + 1, walk)) return true;
    return false;
  }
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    // Getters are not called: they may be costly or have effects; inspect and JSON skip most of them.
    if (descriptor === undefined || !('value' in descriptor)) continue;
    const childName = typeof key === 'string' ? (Array.isArray(value) ? name : key) : undefined;
    if (hasSecret(descriptor.value, childName, depth + 1, walk)) return true;
  }
  return false;
}

function redactedHeaders(headers: Headers): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(redactHeaders(headers))) out.append(name, value);
  return out;
}

function placeholder(value: object): string {
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : 'object';
  return `[${name} ${REDACTED}]`;
}

function copy(value: unknown, name: string | undefined, depth: number, copies: Map<object, unknown>): unknown {
  if (typeof value === 'string')
    return name !== undefined && isSecretName(name) && value !== '' ? REDACTED : redactString(value);
  if (typeof value !== 'object' || value === null) return value;
  const done = copies.get(value);
  if (done !== undefined) return done;
  // A part with nothing secret in it is kept as it is, so `instanceof` and identity still work.
  if (!hasSecret(value, name, 0, { nodes: 0, seen: new Set() })) return value;
  if (depth > MAX_DEPTH) return placeholder(value);
  if (value instanceof Headers) return redactedHeaders(value);
  if (value instanceof Response) {
    try {
      // The copy has no URL (it cannot be set); the body stays readable when it still was.
      return new Response(value.bodyUsed ? null : value.clone().body, {
        status: value.status,
        statusText: value.statusText,
        headers: redactedHeaders(value.headers),
      });
    } catch {
      return {
        status: value.status,
        statusText: value.statusText,
        url: redactString(value.url),
        headers: redactHeaders(value.headers),
      };
    }
  }
  if (value instanceof Request) {
    return { method: value.method, url: redactString(value.url), headers: redactHeaders(value.headers) };
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    copies.set(value, out);
    for (const [k, v] of value) out.set(k, copy(v, typeof k === 'string' ? k : undefined, depth + 1, copies));
    return out;
  }
  // A class instance that is not an error (a socket, a client request) is of no use once redacted.
  if (!isCopyable(value)) return placeholder(value);
  const out: object = Array.isArray(value) ? [] : Object.create(Object.getPrototypeOf(value) as object | null);
  copies.set(value, out);
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined) continue;
    if ('value' in descriptor) {
      const childName = typeof key === 'string' ? (Array.isArray(value) ? name : key) : undefined;
      descriptor.value = copy(descriptor.value, childName, depth + 1, copies);
    }
    Object.defineProperty(out, key, descriptor);
  }
  return out;
}

/**
 * Returns `value` itself when it holds no credential, otherwise a redacted copy: strings pass
 * through {@link redactString}, string properties with secret names read `[REDACTED]`, `Headers`
 * are copied with credential headers redacted, and errors and plain objects are copied with the
 * same prototype (so `instanceof` still works) and every own property (`message`, `stack`,
 * `cause`) redacted. Other class instances that hold a credential (sockets, client requests) are
 * replaced by a short placeholder string.
 */
export function redactValue<T>(value: T): T {
  return copy(value, undefined, 0, new Map()) as T;
}
