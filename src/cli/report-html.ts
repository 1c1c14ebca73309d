import { basename } from 'node:path';
import { WINDOW_KIND_TABLE } from '../core/vocabulary.js';
import { formatCount, formatDuration } from './format.js';
import {
  formatMoney,
  type LimitRow,
  spendChart,
  timelineChart,
  waitChart,
  windowCharts,
  windowWords,
} from './report-charts.js';
import type { ReportData, ReportRequest } from './report-data.js';
import { escapeHtml } from './report-svg.js';
import { packageVersion } from './version.js';

/** Rows of the table of the longest waits. */
const LONGEST_WAITS = 10;
/** Request ids shown per kind of failure. */
const FAILURE_IDS = 5;

/** Inline, so the file is whole on its own: no fonts, no stylesheet, no script to fetch. */
const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f9fafb;color:#111827;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:20px 24px 40px}
header h1{font-size:22px;margin:0 0 2px}
header p{margin:0;color:#4b5563}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;background:#fef3c7;color:#92400e;font-weight:600;margin-left:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;margin:16px 0}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px}
.card .value{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.card .name{color:#4b5563;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .more{color:#6b7280;font-size:12px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 14px;margin:12px 0;break-inside:avoid}
section h2{font-size:16px;margin:0 0 6px}
section h3{font-size:14px;margin:10px 0 4px;color:#374151}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{padding:4px 8px;border-bottom:1px solid #f3f4f6;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}
code{font-size:12px;word-break:break-all}
footer{color:#6b7280;font-size:12px;margin-top:16px}
@media print{body{background:#fff}section,.card{border-color:#d1d5db}}
`;

function row(cells: readonly string[], header = false): string {
  const out = cells.map((cell, i) => {
    const tag = header ? 'th' : i === 0 ? 'th' : 'td';
    const scope = header ? ' scope="col"' : i === 0 ? ' scope="row"' : '';
    const numeric = !header && i > 0 && /^[\d$]/.test(cell) ? ' class="n"' : '';
    return `<${tag}${scope}${numeric}>${cell}</${tag}>`;
  });
  return `<tr>${out.join('')}</tr>`;
}

function card(name: string, value: string, more?: string): string {
  return `<div class="card"><div class="name">${escapeHtml(name)}</div><div class="value">${escapeHtml(value)}</div>${more === undefined ? '' : `<div class="more">${escapeHtml(more)}</div>`}</div>`;
}

/** `2025-06-01 14:03 UTC`. */
function formatDate(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function totalsTable(data: ReportData): string {
  const t = data.totals;
  const stopped = data.requests.filter((r) => r.status === 'stopped').length;
  const rows: [string, string][] = [
    ['requests to send', formatCount(t.todo)],
    ['succeeded', formatCount(t.succeeded)],
    ['failed', formatCount(t.failed)],
  ];
  if (data.interrupted !== undefined) rows.push(['not sent (stopped)', formatCount(stopped)]);
  if (t.abandoned > 0) rows.push(['abandoned in flight', formatCount(t.abandoned)]);
  rows.push(
    ['already done (skipped)', formatCount(t.skipped)],
    ['bad lines (skipped)', formatCount(t.badLines)],
    ['HTTP requests sent', formatCount(t.sent)],
    ['429s', formatCount(t.rateLimited)],
    ['retries', formatCount(t.retries)],
    ['input tokens', formatCount(t.inputTokens)],
    ['output tokens', formatCount(t.outputTokens)],
    ['tokens', formatCount(t.inputTokens + t.outputTokens)],
    ['time waiting for the limiter', formatDuration(t.waitMs)],
    ['wall time', formatDuration(t.elapsedMs)],
  );
  if (t.spend !== undefined) rows.push(['spend', formatMoney(t.spend, data.spendUnit)]);
  if (data.spendLimit !== undefined) rows.push(['spend budget', formatMoney(data.spendLimit, data.spendUnit)]);
  return `<table id="totals"><caption>Totals</caption><tbody>${rows.map(([n, v]) => `<tr data-total="${escapeHtml(n)}"><th scope="row">${escapeHtml(n)}</th><td class="n">${escapeHtml(v)}</td></tr>`).join('')}</tbody></table>`;
}

function limitsTable(rows: readonly LimitRow[], data: ReportData, several: boolean): string {
  if (rows.length === 0) {
    return '<p>No limits were given or learned: the limiter had nothing to keep to.</p>';
  }
  const amount = (v: number | undefined, kind: string): string =>
    v === undefined ? '—' : kind === 'spend' ? formatMoney(v, data.spendUnit) : formatCount(v);
  const share = (r: LimitRow): string => {
    const peak = Math.max(r.peakReserved ?? 0, r.peakUsed ?? 0);
    return `${Math.round((peak / r.window.limit) * 100)}%`;
  };
  const head = [
    ...(several ? ['limiter'] : []),
    'kind',
    'limit',
    'window',
    'peak reserved',
    'peak used',
    'of the limit',
  ];
  const body = rows.map((r) =>
    row([
      ...(several ? [escapeHtml(r.window.limiter)] : []),
      escapeHtml(WINDOW_KIND_TABLE[r.window.kind].label),
      escapeHtml(amount(r.window.limit, r.window.kind)),
      escapeHtml(windowWords(r.window.windowMs)),
      escapeHtml(amount(r.peakReserved, r.window.kind)),
      escapeHtml(amount(r.peakUsed, r.window.kind)),
      escapeHtml(share(r)),
    ]),
  );
  return `<table id="limits"><caption>Limits kept (given or learned), and the most any window held</caption><thead>${row(head.map(escapeHtml), true)}</thead><tbody>${body.join('')}</tbody></table>`;
}

function failuresTable(requests: readonly ReportRequest[]): string {
  const groups = new Map<string, ReportRequest[]>();
  for (const r of requests) {
    if (r.status !== 'failed') continue;
    const why = r.errorCode ?? (r.httpStatus === undefined ? 'unknown' : `HTTP ${r.httpStatus}`);
    groups.set(why, [...(groups.get(why) ?? []), r]);
  }
  if (groups.size === 0) return '';
  const body = [...groups].map(([why, list]) =>
    row([
      `<code>${escapeHtml(why)}</code>`,
      escapeHtml(formatCount(list.length)),
      list
        .slice(0, FAILURE_IDS)
        .map((r) => `<code>${escapeHtml(r.id)}</code>`)
        .join(', ') + (list.length > FAILURE_IDS ? ', ...' : ''),
    ]),
  );
  return `<section><h2>Failures</h2><table id="failures"><thead>${row(['reason', 'requests', 'for example'], true)}</thead><tbody>${body.join('')}</tbody></table></section>`;
}

function longestWaits(requests: readonly ReportRequest[]): string {
  const top = [...requests].sort((a, b) => b.waitMs - a.waitMs).slice(0, LONGEST_WAITS);
  if (top.length === 0 || (top[0]?.waitMs ?? 0) < 1) return '';
  const body = top.map((r) =>
    row([
      `<code>${escapeHtml(r.id)}</code>`,
      escapeHtml(r.model ?? '—'),
      escapeHtml(formatDuration(r.waitMs)),
      escapeHtml(formatCount(r.retries)),
      escapeHtml(formatCount(r.rateLimited)),
      escapeHtml(r.status + (r.httpStatus === undefined ? '' : ` (${r.httpStatus})`)),
    ]),
  );
  return `<table id="longest-waits"><caption>The longest waits before the first attempt</caption><thead>${row(['custom_id', 'model', 'wait', 'retries', '429s', 'result'], true)}</thead><tbody>${body.join('')}</tbody></table>`;
}

/**
 * The `--report` page: one HTML file with everything inline (CSS, SVG charts drawn without
 * scripts), so it opens offline, prints, and screenshots the same everywhere. Every string that
 * came from the run (file and model names, ids, reasons) is escaped.
 */
export function renderReport(data: ReportData): string {
  const t = data.totals;
  const name = basename(data.input);
  const date = formatDate(data.createdAt);
  const done = t.succeeded + t.failed;
  const { sections, rows } = windowCharts(data);
  const several = new Set(data.windows.map((w) => w.limiter)).size > 1;
  const waits = waitChart(data);
  const spend = spendChart(data);
  const cards = [
    card(
      'requests done',
      `${formatCount(done)} / ${formatCount(t.todo)}`,
      `${formatCount(t.succeeded)} ok, ${formatCount(t.failed)} failed`,
    ),
    card(
      'tokens',
      formatCount(t.inputTokens + t.outputTokens),
      `${formatCount(t.inputTokens)} in, ${formatCount(t.outputTokens)} out`,
    ),
    card('429s', formatCount(t.rateLimited), `${formatCount(t.sent)} HTTP requests sent`),
    card('retries', formatCount(t.retries)),
    card('total wait', formatDuration(t.waitMs), 'for the limiter, summed over attempts'),
    card('wall time', formatDuration(t.elapsedMs)),
    ...(t.spend === undefined
      ? []
      : [
          card(
            'spend',
            formatMoney(t.spend, data.spendUnit),
            data.spendLimit === undefined ? undefined : `of ${formatMoney(data.spendLimit, data.spendUnit)}`,
          ),
        ]),
  ];
  const limitSections = sections.map(
    (s) => `${several ? `<h3>${escapeHtml(s.limiter)}</h3>` : ''}${s.charts.join('\n')}`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="forestall ${escapeHtml(packageVersion())}">
<title>forestall batch: ${escapeHtml(name)}, ${escapeHtml(date)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>forestall batch: ${escapeHtml(name)}${data.interrupted === undefined ? '' : `<span class="badge">interrupted (${escapeHtml(data.interrupted)})</span>`}</h1>
<p>${escapeHtml(date)} · <code>${escapeHtml(data.input)}</code> · provider ${escapeHtml(data.provider)} · ${escapeHtml(formatDuration(t.elapsedMs))}</p>
</header>
<div class="cards" aria-label="Totals at a glance">${cards.join('')}</div>
<section aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2>
${timelineChart(data)}
</section>
${limitSections.length === 0 ? '' : `<section aria-labelledby="h-limits"><h2 id="h-limits">Against the limits</h2>\n${limitSections.join('\n')}\n</section>`}
<section aria-labelledby="h-waits"><h2 id="h-waits">Waits</h2>
<p>${escapeHtml(waits.text)}</p>
${waits.chart ?? ''}
${longestWaits(data.requests)}
</section>
${spend === undefined ? '' : `<section aria-labelledby="h-spend"><h2 id="h-spend">Spend</h2>\n${spend}\n</section>`}
<section aria-labelledby="h-totals"><h2 id="h-totals">Numbers</h2>
${totalsTable(data)}
${limitsTable(rows, data, several)}
</section>
${failuresTable(data.requests)}
<footer>Made by forestall ${escapeHtml(packageVersion())}. Times are from the start of the run; "requests started" counts every attempt the limiter admitted. No key, header or request body is in this file.</footer>
</main>
</body>
</html>
`;
}
