/*
 * Go's `time.Duration` text form, which OpenAI and Groq use for `x-ratelimit-reset-*` headers and
 * for "Please try again in 1.54s" messages: `12ms`, `1s`, `6m0s`, `4m12.172s`, `23h18m29.144s`.
 */

/** Milliseconds per unit; Go accepts both micro signs (U+00B5 and U+03BC) for microseconds. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

// One `<number><unit>` term. The number needs a digit on at least one side of the dot, like Go's.
const TERM = /(\d+)?(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration string (`1s`, `6m0s`, `12ms`, `4m12.172s`, `1.5s`, `500us`, `2h`, `0`) into
 * milliseconds. Returns `undefined` for anything else (empty, negative, a bare number other than
 * `0`, unknown units, trailing garbage, overflow); it never throws, because header values come from
 * the network and a bad one must not break the response that carried it.
 *
 * @example parseGoDuration('4m12.172s') // 252172
 */
export function parseGoDuration(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  let s = text.trim();
  if (s.startsWith('+')) s = s.slice(1);
  if (s === '0') return 0;
  if (s === '') return undefined;

  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < s.length) {
    const start = TERM.lastIndex;
    const match = TERM.exec(s);
    if (match === null || match.index !== start) return undefined;
    const [, whole, fraction, unit] = match;
    if (whole === undefined && (fraction === undefined || fraction === '')) return undefined;
    const unitMs = UNIT_MS[unit as string];
    if (unitMs === undefined) return undefined;
    // Integer and fraction parts are scaled apart so `12.172s` does not pick up binary noise early.
    total += Number(whole ?? '0') * unitMs;
    if (fraction) total += (Number(fraction) / 10 ** fraction.length) * unitMs;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) return undefined;
  // Sub-microsecond digits are below anything a limiter can act on; rounding drops float noise.
  return Math.round(total * 1_000) / 1_000;
}

/**
 * Formats milliseconds the way OpenAI writes them: whole milliseconds below one second (`12ms`),
 * otherwise hours, minutes and seconds with up to three decimals (`1.54s`, `6m0s`, `4m12.172s`).
 * Zero and negative values give `0s`.
 */
export function formatGoDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  const rounded = Math.round(ms);
  if (rounded < 1_000) return rounded === 0 ? '0s' : `${rounded}ms`;
  const hours = Math.floor(rounded / 3_600_000);
  const minutes = Math.floor((rounded % 3_600_000) / 60_000);
  const seconds = (rounded % 60_000) / 1_000;
  // toFixed(3) then trimming zeros keeps `29.144` and turns `0.000` into `0`, as Go prints `6m0s`.
  const secondsText = seconds.toFixed(3).replace(/\.?0+$/, '');
  let out = '';
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  return `${out}${secondsText}s`;
}
