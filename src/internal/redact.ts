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

/** Exact values shorter than this are not redacted: they would blank ordinary text. */
const MIN_SECRET_LENGTH = 6;

/**
 * The exact values to redact besides the patterns (a request's `Authorization`, `x-api-key`, ...),
 * with the forms a server may echo them in (JSON-escaped, URL-encoded), longest first so a whole
 * `Bearer <key>` goes before the bare key. Values too short to be credentials are dropped.
 */
export function exactSecrets(values: Iterable<string>): readonly string[] {
  const out = new Set<string>();
  for (const value of values) {
    const trimmed = value.trim();
    if (trimmed.length < MIN_SECRET_LENGTH || REDACTED.includes(trimmed)) continue;
    out.add(trimmed);
    out.add(JSON.stringify(trimmed).slice(1, -1));
    out.add(encodeURIComponent(trimmed));
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * Replaces anything in `text` that looks like a credential with `[REDACTED]`, and every
 * occurrence of the given exact `secrets` (see {@link exactSecrets}).
 */
export function redactString(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret !== '' && out.includes(secret)) out = out.split(secret).join(REDACTED);
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
export function redactHeaders(headers: HeadersLike, secrets: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headerEntries(headers)) {
    out[name] = isSecretName(name) ? REDACTED : redactString(value, secrets);
  }
  return out;
}

/** Options of {@link redactValue}. */
export interface RedactOptions {
  /** Exact values to redact besides the patterns (see {@link exactSecrets}). */
  readonly secrets?: readonly string[] | undefined;
  /**
   * Redacted copies to put in place of the `Response`s found in the value (their bodies read and
   * redacted beforehand: a body cannot be read synchronously). When given, any other `Response`
   * is copied without its body.
   */
  readonly responses?: ReadonlyMap<Response, Response> | undefined;
}

interface Context {
  readonly secrets: readonly string[];
  readonly responses: ReadonlyMap<Response, Response> | undefined;
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

function headersHaveSecret(headers: HeadersLike, secrets: readonly string[]): boolean {
  return headerEntries(headers).some(
    ([name, value]) => (isSecretName(name) && value !== '') || redactString(value, secrets) !== value,
  );
}

/** The own data properties of an object (getters are not called: they may be costly or have effects). */
function* children(value: object, name: string | undefined): Generator<[string | undefined, unknown]> {
  if (value instanceof Map) {
    for (const [k, v] of value) yield [typeof k === 'string' ? k : undefined, v];
    return;
  }
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined || !('value' in descriptor)) continue;
    yield [typeof key === 'string' ? (Array.isArray(value) ? name : key) : undefined, descriptor.value];
  }
}

/** True when `value` holds a credential, or is too large to be sure it does not. */
function hasSecret(value: unknown, name: string | undefined, depth: number, walk: Walk, ctx: Context): boolean {
  if (typeof value === 'string') {
    return (name !== undefined && isSecretName(name) && value !== '') || redactString(value, ctx.secrets) !== value;
  }
  if (typeof value !== 'object' || value === null) return false;
  if (walk.seen.has(value)) return false;
  walk.seen.add(value);
  if (++walk.nodes > MAX_NODES || depth > MAX_DEPTH) return true;
  if (value instanceof Headers) return headersHaveSecret(value, ctx.secrets);
  // With `responses`, every Response is replaced: its body may hold what its headers do not.
  if (value instanceof Response && ctx.responses !== undefined) return true;
  if (value instanceof Response || value instanceof Request) {
    return redactString(value.url, ctx.secrets) !== value.url || headersHaveSecret(value.headers, ctx.secrets);
  }
  for (const [childName, child] of children(value, name)) {
    if (hasSecret(child, childName, depth + 1, walk, ctx)) return true;
  }
  return false;
}

/**
 * The `Response`s inside `value` (itself, an HTTP client error's `response`, ...), found by the
 * same bounded walk as {@link redactValue}: the ones to read and pass to it in `responses`.
 */
export function responsesIn(value: unknown): Response[] {
  const found: Response[] = [];
  const walk: Walk = { nodes: 0, seen: new Set() };
  const visit = (v: unknown, depth: number): void => {
    if (typeof v !== 'object' || v === null || walk.seen.has(v)) return;
    walk.seen.add(v);
    if (++walk.nodes > MAX_NODES || depth > MAX_DEPTH) return;
    if (v instanceof Response) found.push(v);
    else if (!(v instanceof Headers || v instanceof Request))
      for (const [, child] of children(v, undefined)) visit(child, depth + 1);
  };
  visit(value, 0);
  return found;
}

function redactedHeaders(headers: Headers, secrets: readonly string[]): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(redactHeaders(headers, secrets))) out.append(name, value);
  return out;
}

function placeholder(value: object): string {
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : 'object';
  return `[${name} ${REDACTED}]`;
}

function copyResponse(value: Response, ctx: Context): unknown {
  const { secrets } = ctx;
  try {
    // The body stays readable when it still was, unless it was to be replaced (and could not be).
    const body = value.bodyUsed || ctx.responses !== undefined ? null : value.clone().body;
    const out = new Response(body, {
      status: value.status,
      statusText: redactString(value.statusText, secrets),
      headers: redactedHeaders(value.headers, secrets),
    });
    Object.defineProperty(out, 'url', { value: redactString(value.url, secrets) });
    return out;
  } catch {
    return {
      status: value.status,
      statusText: redactString(value.statusText, secrets),
      url: redactString(value.url, secrets),
      headers: redactHeaders(value.headers, secrets),
    };
  }
}

function copy(
  value: unknown,
  name: string | undefined,
  depth: number,
  copies: Map<object, unknown>,
  ctx: Context,
): unknown {
  const { secrets } = ctx;
  if (typeof value === 'string')
    return name !== undefined && isSecretName(name) && value !== '' ? REDACTED : redactString(value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  const done = copies.get(value) ?? (value instanceof Response ? ctx.responses?.get(value) : undefined);
  if (done !== undefined) return done;
  // A part with nothing secret in it is kept as it is, so `instanceof` and identity still work.
  if (!hasSecret(value, name, 0, { nodes: 0, seen: new Set() }, ctx)) return value;
  if (depth > MAX_DEPTH) return placeholder(value);
  if (value instanceof Headers) return redactedHeaders(value, secrets);
  if (value instanceof Response) return copyResponse(value, ctx);
  if (value instanceof Request) {
    return {
      method: value.method,
      url: redactString(value.url, secrets),
      headers: redactHeaders(value.headers, secrets),
    };
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    copies.set(value, out);
    for (const [k, v] of value) out.set(k, copy(v, typeof k === 'string' ? k : undefined, depth + 1, copies, ctx));
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
      descriptor.value = copy(descriptor.value, childName, depth + 1, copies, ctx);
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
 * replaced by a short placeholder string. `options.secrets` adds exact values to redact;
 * `options.responses` puts copies with redacted bodies in place of the `Response`s found.
 */
export function redactValue<T>(value: T, options: RedactOptions = {}): T {
  return copy(value, undefined, 0, new Map(), { secrets: options.secrets ?? [], responses: options.responses }) as T;
}
