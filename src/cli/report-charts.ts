import { WINDOW_KIND_TABLE, type WindowKind } from '../core/vocabulary.js';
import { formatCount, formatDuration } from './format.js';
import type { ReportAdmission, ReportData, ReportRequest, ReportWindow } from './report-data.js';
import { bucketMs, histogram, perBucket, type Point, quantile, SLIDING_COLUMNS, slidingUse } from './report-series.js';
import { axisDuration, COLOURS, type ChartLimit, type ChartMark, renderChart } from './report-svg.js';

/** Waits shorter than this count as none (admitted at once). */
const WAITED_MS = 1;

/** `second`, `minute`, `day`, `10 s`: a window's length, after "per". */
export function windowWords(ms: number): string {
  const named: Record<number, string> = { 1000: 'second', 60000: 'minute', 3600000: 'hour', 86400000: 'day' };
  return named[ms] ?? axisDuration(ms);
}

/** `$1.25`, `0.0042 EUR`: an amount of money. */
export function formatMoney(value: number, unit: string | undefined): string {
  const digits = Math.abs(value) > 0 && Math.abs(value) < 0.1 ? 4 : 2;
  const amount = value.toFixed(digits);
  return unit === undefined || unit === '$' ? `$${amount}` : `${amount} ${unit}`;
}

/** The longest of the run, the recorded events and the results: the end of every time axis. */
export function runEnd(data: ReportData): number {
  let end = data.totals.elapsedMs;
  for (const a of data.admissions) end = Math.max(end, a.at);
  for (const m of data.marks) end = Math.max(end, m.at);
  return Math.max(end, 1);
}

/** The labels of the run's limiters, in the order they first appear. */
export function limiterLabels(data: ReportData): string[] {
  return [...new Set([...data.admissions.map((a) => a.limiter), ...data.windows.map((w) => w.limiter)])];
}

/** What a window of `kind` is charged for an admission (the reservation). */
function reservedCharge(kind: WindowKind, a: ReportAdmission): number | undefined {
  if (kind === 'requests') return 1;
  if (kind === 'tokens') return a.input + a.output;
  if (kind === 'inputTokens') return a.input;
  if (kind === 'outputTokens') return a.output;
  return undefined;
}

/** What a request used of a window of `kind`, by its answer (or its spend figure). */
function usedCharge(kind: WindowKind, r: ReportRequest): number | undefined {
  if (kind === 'spend') return r.spend;
  if (r.used === undefined) return undefined;
  if (kind === 'tokens') return r.used.input + r.used.output;
  if (kind === 'inputTokens') return r.used.input;
  if (kind === 'outputTokens') return r.used.output;
  return undefined;
}

/** The points a window of `kind` of limiter `label` was charged: reserved (admissions) and used (answers). */
function windowPoints(data: ReportData, label: string, kind: WindowKind): { reserved: Point[]; used: Point[] } {
  const only = limiterLabels(data).length <= 1;
  const reserved: Point[] = [];
  for (const a of data.admissions) {
    const amount = reservedCharge(kind, a);
    if (a.limiter === label && a.refused !== true && amount !== undefined) reserved.push({ at: a.at, amount });
  }
  const used: Point[] = [];
  if (kind !== 'requests') {
    for (const r of data.requests) {
      const amount = usedCharge(kind, r);
      const at = r.startedAt ?? r.endedAt;
      if (amount !== undefined && at !== undefined && (r.limiter === label || (only && r.limiter === undefined)))
        used.push({ at, amount });
    }
  }
  return { reserved, used };
}

/** `limit 60 per minute`. */
function limitLabel(w: ReportWindow, unit: string | undefined): string {
  const amount = w.kind === 'spend' ? formatMoney(w.limit, unit) : formatCount(w.limit);
  return `limit ${amount} per ${windowWords(w.windowMs)}`;
}

/** The timeline: requests started (each attempt) per bucket, limit lines, and 429s and retries below the axis. */
export function timelineChart(data: ReportData): string {
  const end = runEnd(data);
  const width = bucketMs(end);
  const buckets = Math.ceil(end / width);
  const counts = perBucket(
    data.admissions.filter((a) => a.refused !== true).map((a) => ({ at: a.at, amount: 1 })),
    width,
    buckets,
  );
  const refused = perBucket(
    data.admissions.filter((a) => a.refused === true).map((a) => ({ at: a.at, amount: 1 })),
    width,
    buckets,
  );
  const per = width === 1_000 ? 'second' : axisDuration(width);
  // A fixed bucket lies inside a sliding window of its length, so the window's limit holds per bucket.
  const limits: ChartLimit[] = [];
  if (limiterLabels(data).length <= 1) {
    for (const w of data.windows) {
      if (w.kind === 'requests' && w.windowMs === width && !limits.some((l) => l.value === w.limit))
        limits.push({ value: w.limit, label: limitLabel(w, undefined) });
    }
  }
  const marks: ChartMark[] = data.marks.map((m) => ({
    at: m.at,
    kind: m.kind,
    title: `${m.kind === 'rate-limited' ? '429' : 'retry'} at ${formatDuration(m.at)} (${m.limiter}): ${m.reason}`,
  }));
  const rateLimited = marks.filter((m) => m.kind === 'rate-limited').length;
  const retries = marks.length - rateLimited;
  const peak = counts.reduce((m, v) => Math.max(m, v), 0);
  const given = refused.reduce((a, b) => a + b, 0);
  const single = limiterLabels(data).length <= 1;
  const bands = data.pauses.map((p) => ({
    from: p.at,
    to: p.at + p.ms,
    title: `paused ${formatDuration(p.ms)} at ${formatDuration(p.at)}${single ? '' : ` (${p.limiter})`}`,
  }));
  return renderChart({
    id: 'timeline',
    title: `Requests started per ${per}`,
    description:
      `Requests started per ${per} over ${formatDuration(end)}: ${formatCount(data.admissions.length)} started (retries included), ` +
      `${formatCount(given)} of them refused with a 429 and given back to the limiter; at most ${formatCount(peak)} counted in one ${per}` +
      (limits.length > 0 ? `; ${limits.map((l) => l.label).join(', ')}` : '') +
      `. ${formatCount(rateLimited)} 429s and ${formatCount(retries)} retries are marked below the time axis` +
      (bands.length > 0 ? `; ${formatCount(bands.length)} pauses of the limiter are shaded.` : '.'),
    xLabel: 'time since the start',
    yLabel: `requests per ${per}`,
    xEndMs: Math.ceil(end / width) * width,
    series: [
      {
        type: 'bars',
        values: counts,
        columnMs: width,
        colour: COLOURS.bars,
        name: 'started',
        label: given === 0 ? 'requests started' : 'started, counted',
      },
      ...(given === 0
        ? []
        : [
            {
              type: 'bars' as const,
              values: refused,
              base: counts,
              columnMs: width,
              colour: COLOURS.refused,
              name: 'refused',
              label: 'refused (429), given back',
            },
          ]),
    ],
    limits,
    marks,
    bands,
  });
}

/** One row of the limits table: a window, and the most the run put in it. */
export interface LimitRow {
  readonly window: ReportWindow;
  readonly label: string;
  /** The most any window of this length held of the reservations. */
  readonly peakReserved: number | undefined;
  /** The most it held of what the answers say was used (tokens and spend). */
  readonly peakUsed: number | undefined;
}

/** Sliding-window charts against each limit, per limiter, and the limits table's rows. */
export function windowCharts(data: ReportData): {
  sections: { limiter: string; charts: string[] }[];
  rows: LimitRow[];
} {
  const end = runEnd(data);
  const single = limiterLabels(data).length <= 1;
  const bucket = bucketMs(end);
  const rows: LimitRow[] = [];
  const sections: { limiter: string; charts: string[] }[] = [];
  for (const label of limiterLabels(data)) {
    const charts: string[] = [];
    for (const w of data.windows.filter((x) => x.limiter === label)) {
      const { reserved, used } = windowPoints(data, label, w.kind);
      const r = slidingUse(reserved, w.windowMs, end);
      const u = slidingUse(used, w.windowMs, end);
      const hasUsed = used.length > 0 || w.kind === 'spend';
      rows.push({
        window: w,
        label: limitLabel(w, data.spendUnit),
        peakReserved: w.kind === 'spend' ? undefined : r.peak,
        peakUsed: hasUsed && w.kind !== 'requests' ? u.peak : undefined,
      });
      const drawable = w.windowMs <= Math.max(4 * end, 120_000) && w.windowMs >= 2 * (end / SLIDING_COLUMNS);
      if (!drawable || (single && w.kind === 'requests' && w.windowMs === bucket)) continue;
      const what = WINDOW_KIND_TABLE[w.kind].label;
      const series = [];
      if (w.kind !== 'spend') {
        series.push({
          type: 'step' as const,
          values: r.values,
          columnMs: r.columnMs,
          colour: w.kind === 'requests' ? COLOURS.bars : COLOURS.reserved,
          name: w.kind === 'requests' ? 'requests' : 'reserved',
          label: w.kind === 'requests' ? `requests in any ${windowWords(w.windowMs)}` : 'reserved when admitted',
          fill: true,
        });
      }
      if (hasUsed && w.kind !== 'requests') {
        series.push({
          type: 'step' as const,
          values: u.values,
          columnMs: u.columnMs,
          colour: w.kind === 'spend' ? COLOURS.spend : COLOURS.used,
          name: 'used',
          label: w.kind === 'spend' ? 'spent' : 'used (from the answers)',
        });
      }
      const money = w.kind === 'spend';
      const fmt = (v: number): string => (money ? formatMoney(v, data.spendUnit) : formatCount(v));
      charts.push(
        renderChart({
          id: `window-${sections.length}-${charts.length}`,
          title: `${what[0]?.toUpperCase()}${what.slice(1)} in any ${windowWords(w.windowMs)}${single ? '' : ` (${label})`}`,
          description:
            `${what} in any ${windowWords(w.windowMs)} over the run, against ${limitLabel(w, data.spendUnit)}: ` +
            (w.kind === 'spend' ? '' : `at most ${fmt(r.peak)} reserved`) +
            (hasUsed && w.kind !== 'requests' ? `${w.kind === 'spend' ? '' : ', '}at most ${fmt(u.peak)} used` : '') +
            ` (${Math.round((Math.max(w.kind === 'spend' ? 0 : r.peak, u.peak) / w.limit) * 100)}% of the limit).`,
          xLabel: 'time since the start',
          yLabel: `${what} in the last ${windowWords(w.windowMs)}`,
          xEndMs: end,
          series,
          limits: [{ value: w.limit, label: limitLabel(w, data.spendUnit) }],
          ...(money && { formatY: fmt }),
        }),
      );
    }
    if (charts.length > 0) sections.push({ limiter: label, charts });
  }
  return { sections, rows };
}

/** The waits for the limiter: a histogram of the admissions that waited, or a sentence when none did. */
export function waitChart(data: ReportData): { chart: string | undefined; text: string } {
  const waits = data.admissions.map((a) => a.waitedMs);
  const waited = waits.filter((w) => w >= WAITED_MS);
  const text =
    waits.length === 0
      ? 'No request was admitted.'
      : `${formatCount(waits.length)} admissions (retries included): ${formatCount(waits.length - waited.length)} at once, ` +
        `${formatCount(waited.length)} waited. Median wait ${formatDuration(quantile(waits, 0.5))}, ` +
        `90th percentile ${formatDuration(quantile(waits, 0.9))}, longest ${formatDuration(quantile(waits, 1))}; ` +
        `${formatDuration(data.totals.waitMs)} waited in all.`;
  if (waited.length === 0) return { chart: undefined, text };
  const h = histogram(waited);
  return {
    chart: renderChart({
      id: 'waits',
      title: 'Time waiting for the limiter',
      description: `A histogram of the waits of the ${formatCount(waited.length)} admissions that waited, in bins of ${axisDuration(h.width)}. ${text}`,
      xLabel: 'wait before the request was sent',
      yLabel: 'admissions',
      xEndMs: h.width * h.counts.length,
      series: [
        {
          type: 'bars',
          values: h.counts,
          columnMs: h.width,
          colour: COLOURS.waits,
          name: 'waits',
          label: 'admissions that waited this long',
        },
      ],
    }),
    text,
  };
}

/** Spend over the run against the budget, when the run has spend figures or a budget. */
export function spendChart(data: ReportData): string | undefined {
  const points: Point[] = [];
  for (const r of data.requests) {
    const at = r.endedAt ?? r.startedAt;
    if (r.spend !== undefined && at !== undefined) points.push({ at, amount: r.spend });
  }
  if (points.length === 0 && data.spendLimit === undefined) return undefined;
  const end = runEnd(data);
  const columnMs = end / SLIDING_COLUMNS;
  const values = perBucket(points, columnMs, SLIDING_COLUMNS);
  for (let i = 1; i < values.length; i++) values[i] = (values[i] as number) + (values[i - 1] as number);
  const total = values[values.length - 1] ?? 0;
  const fmt = (v: number): string => formatMoney(v, data.spendUnit);
  const limits =
    data.spendLimit === undefined ? [] : [{ value: data.spendLimit, label: `budget ${fmt(data.spendLimit)}` }];
  return renderChart({
    id: 'spend',
    title: 'Spend over the run',
    description:
      `Spend over the run, added up as requests finished: ${fmt(total)} in all` +
      (data.spendLimit === undefined ? '.' : ` of a budget of ${fmt(data.spendLimit)}.`),
    xLabel: 'time since the start',
    yLabel: 'spent so far',
    xEndMs: end,
    series: [
      { type: 'step', values, columnMs, colour: COLOURS.spend, name: 'spend', label: 'spent so far', fill: true },
    ],
    limits,
    formatY: fmt,
  });
}
