/**
 * Response headers in any of the shapes callers have at hand: a fetch `Headers`, or a plain record
 * such as Node's `IncomingHttpHeaders` or an SDK error's `headers` (repeated headers as arrays).
 */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Returns every value a header was sent with (empty when absent); names are case-insensitive. */
export type HeaderReader = (name: string) => readonly string[];

interface GetHeaders {
  get(name: string): string | null;
}

function hasGet(value: object): value is GetHeaders {
  // Duck-typed rather than `instanceof Headers`: SDKs and test doubles bring their own classes.
  return typeof (value as Partial<GetHeaders>).get === 'function';
}

/** Builds a case-insensitive reader over `headers`; tolerates `null` and odd value types. */
export function createHeaderReader(headers: HeaderSource | null | undefined): HeaderReader {
  if (headers === null || typeof headers !== 'object') return () => [];
  if (hasGet(headers)) {
    return (name) => {
      let value: unknown;
      try {
        value = headers.get(name);
      } catch {
        // A `Headers.get` throws on names it deems invalid; ours are fixed, but be safe.
        return [];
      }
      return typeof value === 'string' ? [value] : [];
    };
  }
  const byLowerName = new Map<string, string[]>();
  for (const [key, raw] of Object.entries(headers)) {
    const values: unknown[] = Array.isArray(raw) ? raw : [raw];
    const strings = values
      .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
      .map(String);
    if (strings.length === 0) continue;
    const lower = key.toLowerCase();
    const existing = byLowerName.get(lower);
    if (existing) existing.push(...strings);
    else byLowerName.set(lower, strings);
  }
  return (name) => byLowerName.get(name.toLowerCase()) ?? [];
}
