import { niceTicks, timeTicks } from './report-series.js';

/** `&`, `<`, `>`, `"` and `'` as entities: safe in HTML text and in quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The report's colours, named once: the screenshot test looks for the first two. */
export const COLOURS = {
  bars: '#2563eb',
  limit: '#dc2626',
  rateLimited: '#9f1239',
  retry: '#d97706',
  refused: '#fda4af',
  pause: '#fee2e2',
  reserved: '#a78bfa',
  used: '#7c3aed',
  waits: '#0d9488',
  spend: '#059669',
  axis: '#6b7280',
  grid: '#e5e7eb',
  text: '#111827',
} as const;

/** One series of a chart: a value per column of `columnMs`, from 0. */
export interface ChartSeries {
  readonly type: 'bars' | 'step';
  readonly values: readonly number[];
  readonly columnMs: number;
  readonly colour: string;
  /** For the legend and the series' class (`series-<name>`). */
  readonly name: string;
  readonly label: string;
  /** Fill under a step line. */
  readonly fill?: boolean;
  /** Bars stacked on these values (another series' bars). */
  readonly base?: readonly number[];
}

/** A span of time shaded across the plot (a pause). */
export interface ChartBand {
  readonly from: number;
  readonly to: number;
  readonly title: string;
}

/** A horizontal limit line. */
export interface ChartLimit {
  readonly value: number;
  readonly label: string;
}

/** A mark on the time axis (a 429, a retry). */
export interface ChartMark {
  readonly at: number;
  readonly kind: 'rate-limited' | 'retry';
  readonly title: string;
}

/** What to draw. The x axis is a duration in ms: time since the start, or a wait. */
export interface ChartSpec {
  readonly id: string;
  /** The chart's `<title>`. */
  readonly title: string;
  /** Its `aria-label`: what it shows, in a sentence, numbers included. */
  readonly description: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xEndMs: number;
  readonly series: readonly ChartSeries[];
  readonly limits?: readonly ChartLimit[];
  readonly marks?: readonly ChartMark[];
  readonly bands?: readonly ChartBand[];
  /** How to write a y value on the axis. */
  readonly formatY?: (value: number) => string;
}

const WIDTH = 1000;
const LEFT = 76;
const RIGHT = 24;
const TOP = 34;
const PLOT_HEIGHT = 200;
const MARK_ROW = 16;

/** `0`, `250 ms`, `30 s`, `5 min`, `2 h`: an axis label for a duration. */
export function axisDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  if (ms < 7_200_000) return `${Number((ms / 60_000).toFixed(1))} min`;
  return `${Number((ms / 3_600_000).toFixed(1))} h`;
}

/** `1,250`, `12.5k`, `3.2M`: an axis label for a count. */
export function axisCount(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toFixed(1))}M`;
  if (abs >= 1e4) return `${Number((value / 1e3).toFixed(1))}k`;
  return Number(value.toFixed(abs < 10 ? 2 : 0)).toLocaleString('en-US');
}

const f = (n: number): string => String(Math.round(n * 10) / 10);

/** An SVG chart, drawn without scripts: bars, step lines, limit lines, marks, axes and legend. */
export function renderChart(spec: ChartSpec): string {
  const marks = spec.marks ?? [];
  const kinds = (['rate-limited', 'retry'] as const).filter((k) => marks.some((m) => m.kind === k));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const axisY = TOP + PLOT_HEIGHT;
  const marksTop = axisY + 22;
  const height = marksTop + kinds.length * MARK_ROW + (kinds.length > 0 ? 8 : 0) + 34;
  const formatY = spec.formatY ?? axisCount;
  const limits = spec.limits ?? [];
  let dataMax = 0;
  for (const s of spec.series) {
    for (const [i, v] of s.values.entries()) dataMax = Math.max(dataMax, v + (s.base?.[i] ?? 0));
  }
  for (const l of limits) if (l.value > dataMax) dataMax = l.value;
  const y = niceTicks(dataMax * 1.08);
  const xEnd = Math.max(spec.xEndMs, 1);
  const sx = (ms: number): number => LEFT + (Math.min(ms, xEnd) / xEnd) * plotWidth;
  const sy = (v: number): number => axisY - (v / y.top) * PLOT_HEIGHT;
  const out: string[] = [];
  const titleId = `${spec.id}-title`;
  out.push(
    `<svg id="${escapeHtml(spec.id)}" class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-labelledby="${escapeHtml(titleId)}" aria-label="${escapeHtml(spec.description)}">`,
    `<title id="${escapeHtml(titleId)}">${escapeHtml(spec.title)}</title>`,
    `<desc>${escapeHtml(spec.description)}</desc>`,
  );
  // Grid and y axis.
  out.push('<g class="y-axis" font-size="12" text-anchor="end">');
  for (const t of y.ticks) {
    out.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="${COLOURS.grid}" shape-rendering="crispEdges"/>`,
      `<text x="${LEFT - 8}" y="${f(sy(t) + 4)}" fill="${COLOURS.axis}">${escapeHtml(formatY(t))}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${f(TOP + PLOT_HEIGHT / 2)}) rotate(-90)" text-anchor="middle" fill="${COLOURS.text}">${escapeHtml(spec.yLabel)}</text>`,
    '</g>',
  );
  const bands = spec.bands ?? [];
  if (bands.length > 0) {
    out.push(`<g class="bands" fill="${COLOURS.pause}">`);
    for (const b of bands) {
      const x = sx(b.from);
      out.push(
        `<rect x="${f(x)}" y="${TOP}" width="${f(Math.max(sx(b.to) - x, 1))}" height="${PLOT_HEIGHT}"><title>${escapeHtml(b.title)}</title></rect>`,
      );
    }
    out.push('</g>');
  }
  for (const s of spec.series) out.push(drawSeries(s, sx, sy, axisY));
  for (const l of limits) {
    const ly = f(sy(l.value));
    out.push(
      `<g class="limit-line"><line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${ly}" y2="${ly}" stroke="${COLOURS.limit}" stroke-width="3" stroke-dasharray="10 5" shape-rendering="crispEdges"/>`,
      `<text x="${WIDTH - RIGHT - 4}" y="${f(sy(l.value) - 6)}" text-anchor="end" font-size="12" font-weight="600" fill="${COLOURS.limit}" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeHtml(l.label)}</text></g>`,
    );
  }
  // The x axis.
  out.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${axisY}" y2="${axisY}" stroke="${COLOURS.axis}" shape-rendering="crispEdges"/>`,
    '<g class="x-axis" font-size="12" text-anchor="middle">',
  );
  for (const t of timeTicks(xEnd)) {
    out.push(
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${axisY}" y2="${axisY + 5}" stroke="${COLOURS.axis}"/>`,
      `<text x="${f(sx(t))}" y="${axisY + 18}" fill="${COLOURS.axis}">${escapeHtml(axisDuration(t))}</text>`,
    );
  }
  out.push('</g>');
  kinds.forEach((kind, row) => {
    const top = marksTop + row * MARK_ROW;
    const colour = kind === 'rate-limited' ? COLOURS.rateLimited : COLOURS.retry;
    const own = marks.filter((m) => m.kind === kind);
    out.push(
      `<g class="marks marks-${kind}" data-count="${own.length}">`,
      `<text x="${LEFT - 8}" y="${top + 11}" text-anchor="end" font-size="11" fill="${colour}">${kind === 'rate-limited' ? '429' : 'retry'}</text>`,
    );
    for (const m of own) {
      const x = sx(m.at);
      const shape =
        kind === 'rate-limited'
          ? `<path class="mark mark-${kind}" d="M${f(x - 5)} ${top + 1}h10l-5 11z" fill="${colour}">`
          : `<circle class="mark mark-${kind}" cx="${f(x)}" cy="${top + 7}" r="4" fill="none" stroke="${colour}" stroke-width="1.5">`;
      out.push(`${shape}<title>${escapeHtml(m.title)}</title>${kind === 'rate-limited' ? '</path>' : '</circle>'}`);
    }
    out.push('</g>');
  });
  out.push(
    `<text x="${LEFT + plotWidth / 2}" y="${height - 8}" text-anchor="middle" font-size="13" fill="${COLOURS.text}">${escapeHtml(spec.xLabel)}</text>`,
    legend(spec, limits.length > 0, kinds),
    '</svg>',
  );
  return out.join('\n');
}

function drawSeries(s: ChartSeries, sx: (ms: number) => number, sy: (v: number) => number, axisY: number): string {
  const cls = `series series-${escapeHtml(s.name)}`;
  if (s.type === 'bars') {
    const width = sx(s.columnMs) - sx(0);
    const gap = width > 4 ? 1 : 0;
    const bars = s.values.map((v, i) => {
      if (v <= 0) return '';
      const bottom = sy(s.base?.[i] ?? 0);
      const top = sy(v + (s.base?.[i] ?? 0));
      return `<rect x="${f(sx(i * s.columnMs) + gap / 2)}" y="${f(top)}" width="${f(Math.max(width - gap, 0.5))}" height="${f(bottom - top)}"/>`;
    });
    return `<g class="${cls}" fill="${s.colour}" shape-rendering="crispEdges">${bars.join('')}</g>`;
  }
  let d = `M${f(sx(0))} ${f(sy(s.values[0] ?? 0))}`;
  s.values.forEach((v, i) => {
    d += `V${f(sy(v))}H${f(sx((i + 1) * s.columnMs))}`;
  });
  const area = s.fill
    ? `<path d="${d}V${axisY}H${f(sx(0))}Z" fill="${s.colour}" fill-opacity="0.18" stroke="none"/>`
    : '';
  return `<g class="${cls}">${area}<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2" stroke-linejoin="round"/></g>`;
}

function legend(spec: ChartSpec, hasLimit: boolean, kinds: readonly ('rate-limited' | 'retry')[]): string {
  const items: string[] = [];
  let x = LEFT;
  const add = (swatch: string, label: string): void => {
    items.push(
      `<g transform="translate(${f(x)} 10)">${swatch}<text x="20" y="11" font-size="12" fill="${COLOURS.text}">${escapeHtml(label)}</text></g>`,
    );
    x += 34 + label.length * 6.6;
  };
  for (const s of spec.series) {
    add(
      s.type === 'bars'
        ? `<rect width="14" height="12" fill="${s.colour}"/>`
        : `<line x1="0" x2="14" y1="6" y2="6" stroke="${s.colour}" stroke-width="3"/>`,
      s.label,
    );
  }
  if ((spec.bands ?? []).length > 0)
    add(`<rect width="14" height="12" fill="${COLOURS.pause}" stroke="#fca5a5"/>`, 'paused');
  if (hasLimit)
    add(
      `<line x1="0" x2="14" y1="6" y2="6" stroke="${COLOURS.limit}" stroke-width="3" stroke-dasharray="5 2"/>`,
      'limit',
    );
  if (kinds.includes('rate-limited'))
    add(`<path d="M2 1h10l-5 11z" fill="${COLOURS.rateLimited}"/>`, '429 (rate limited)');
  if (kinds.includes('retry'))
    add(`<circle cx="7" cy="6" r="4" fill="none" stroke="${COLOURS.retry}" stroke-width="1.5"/>`, 'retry');
  return `<g class="legend">${items.join('')}</g>`;
}
