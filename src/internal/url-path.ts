/** An absolute http(s) URL's path as written: no percent-escapes or dot segments to normalise. */
const PLAIN_HTTP = /^https?:\/\/[^/?#\\]*([!"$&->@-[\]-~]*)(?:[?#]|$)/i;

/** The path of a URL, absolute or relative, without its query or fragment. */
export function urlPath(url: string): string {
  // Parsing a URL costs microseconds per request; most are plain and need none of it.
  const plain = PLAIN_HTTP.exec(url);
  if (plain !== null && !plain[1]?.includes('/.')) return plain[1] || '/';
  try {
    return new URL(url).pathname;
  } catch {
    // A relative URL: its path is all there is.
    return url.replace(/[?#].*$/, '');
  }
}
