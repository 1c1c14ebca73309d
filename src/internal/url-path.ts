/** The path of a URL, absolute or relative, without its query or fragment. */
export function urlPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    // A relative URL: its path is all there is.
    return url.replace(/[?#].*$/, '');
  }
}
