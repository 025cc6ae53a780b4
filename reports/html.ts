/* report.html: one self-contained file (opens offline from a CI artifact)
 * rendering reports/model.ts. chart.js's UMD build and the CSS are inlined;
 * chart data travels as JSON in a <script type="application/json"> block and
 * every results-file string is HTML-escaped (reports/html-escape.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ResultsFile } from '../harness/results.js';
import { formatValue } from './html-cells.js';
import { CLIENT_SCRIPT } from './html-client.js';
import { Html, html, jsonForScript, safeHref } from './html-escape.js';
import { chartsOf, reportModel, type ChartSpec, type Figure, type Group, type ReportModel, type ReportOptions, type Section, type Table } from './model.js';

const require = createRequire(import.meta.url);
let chartJs: string | undefined;

/* chart.js's minified UMD build (defines window.Chart). Its package exports
 * hide dist/, but the main entry lives beside the UMD file. A "</script"
 * inside would end the inline script early; "<\/script" means the same in
 * any JavaScript string, regular expression or comment. */
export function chartJsSource(): string {
  if (chartJs === undefined) {
    const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
    chartJs = fs.readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
  }
  return chartJs;
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto; padding: 0 1.5rem 3rem; max-width: 1500px; }
header { border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
nav a { margin-right: 1rem; }
h2 { border-bottom: 2px solid #4e79a7; padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { margin: 1.8rem 0 .4rem; }
figure { margin: 1rem 0; display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figcaption { flex-basis: 100%; font-weight: 600; }
.chart { position: relative; flex: 3 1 520px; min-width: 320px; }
.table { flex: 2 1 380px; overflow-x: auto; }
figure.wide .table { flex-basis: 100%; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid #ddd; padding: 2px 6px; vertical-align: top; }
th { background: #f3f5f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td:first-child { white-space: nowrap; }
pre { background: #f6f6f6; padding: .6rem; white-space: pre-wrap; word-break: break-all; }
.note, .none { color: #555; }
`;

/* The page style, shared with compare.html (reports/compare-html.ts). */
export const REPORT_CSS = CSS;

function renderTable(t: Table): Html {
  if (!t.rows.length) return html`<p class="none">None.</p>`;
  return html`<table><thead><tr>${t.columns.map((c) => html`<th>${c.header}</th>`)}</tr></thead><tbody>${t.rows.map(
    (row) =>
      html`<tr>${row.map((v, i) =>
        v !== null && typeof v === 'object'
          ? html`<td>${v.links.map((l, j) => html`${j ? ' · ' : ''}<a href="${safeHref(l.href)}">${l.text}</a>`)}</td>`
          : typeof v === 'number'
          ? // data-v: the exact number, so tests (and curious readers) can check it against results.json.
            html`<td class="num" data-v="${String(v)}">${formatValue(t.columns[i].fmt, v)}</td>`
          : html`<td>${formatValue('text', v)}</td>`,
      )}</tr>`,
  )}</tbody></table>`;
}

/* Room for the plot plus the legend below it, which grows with the lines. */
function chartHeight(c: ChartSpec): number {
  const entries = c.datasets.length;
  return 300 + (entries > 4 ? 20 * Math.ceil(entries / 3) : 0);
}

function renderFigure(f: Figure): Html {
  const chart = f.chart ? html`<div class="chart" style="height: ${chartHeight(f.chart)}px"><canvas id="${f.chart.id}" role="img" aria-label="${f.chart.title}"></canvas></div>` : '';
  // A table too wide to sit beside its chart goes below it.
  const wide = f.chart && f.table.columns.length > 7 ? ' class="wide"' : '';
  return html`<figure${new Html(wide)}><figcaption>${f.title}</figcaption>${chart}<div class="table">${renderTable(f.table)}${f.note ? html`<p class="note">${f.note}</p>` : ''}</div></figure>`;
}

function renderGroup(g: Group): Html {
  return html`<div class="group"><h3>${g.title}</h3>${g.notes.map((n) => html`<p class="note">${n}</p>`)}${g.code ? html`<pre>${g.code}</pre>` : ''}${g.figures.map(renderFigure)}</div>`;
}

function renderSection(s: Section, n: number): Html {
  return html`<section id="${s.id}"><h2>${n}. ${s.title}</h2>${s.intro.map((p) => html`<p>${p}</p>`)}${s.groups.map(renderGroup)}</section>`;
}

export function renderModel(model: ReportModel): string {
  const nav = model.sections.map((s, i) => html`<a href="#${s.id}">${i + 1}. ${s.title}</a>`);
  const data = jsonForScript({ charts: chartsOf(model) });
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${model.title}</title>
<style>${new Html(CSS)}</style>
</head>
<body>
<header><h1>${model.title}</h1><p>${model.subtitle}</p><nav>${nav}</nav></header>
${model.sections.map((s, i) => renderSection(s, i + 1))}
<script type="application/json" id="report-data">${new Html(data)}</script>
<script>${new Html(chartJsSource())}</script>
<script>${new Html(CLIENT_SCRIPT)}</script>
</body>
</html>
`;
  return page.text;
}

/* The whole report for a (validated) results file. */
export function renderReport(results: ResultsFile, opts: ReportOptions = {}): string {
  return renderModel(reportModel(results, opts));
}
