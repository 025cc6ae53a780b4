/* compare.html: a comparison (reports/compare.ts) as one self-contained page
 * in report.html's style. Per metric, a chart of every cell's ratio
 * head/base with its bootstrap CI as a floating bar around 1 (coloured by
 * verdict), and beside it the table of every number drawn. chart.js and the
 * CSS are inlined as in report.html; chart data travels as escaped JSON read
 * with JSON.parse, and every string from the results files goes through the
 * `html` template (reports/html-escape.ts). */
import type { Verdict } from '../harness/comparison.js';
import type { LatencyUs } from '../harness/stats.js';
import { formatMicros } from '../harness/units.js';
import { changeText, COMPARED_METRICS, type CellComparison, type ComparisonModel, type FlamegraphDiff, type MetricDef, type MetricRow } from './compare.js';
import { Html, html, jsonForScript, safeHref } from './html-escape.js';
import { chartJsSource, REPORT_CSS } from './html.js';
import { formatMetric, formatSignificant } from './markdown.js';

export const VERDICT_COLOURS: Readonly<Record<Verdict, string>> = {
  better: '#59a14f',
  worse: '#e15759',
  'no significant change': '#8c8c8c',
  'not enough samples': '#edc948',
};

/* One metric's chart: a category per cell (the cell keys), drawn as
 * horizontal bars. Non-finite values (a ratio over a median of 0) are null
 * and not drawn; the table says what happened. */
export interface CompareChartSpec {
  /* Canvas id: generated, never from a results file. */
  id: string;
  title: string;
  axis: string;
  labels: string[];
  ci: ([number, number] | null)[];
  ratio: (number | null)[];
  colors: string[];
  log: boolean;
  min: number;
  max: number;
}

export interface CompareFigure {
  metric: MetricDef;
  chart: CompareChartSpec;
  rows: { cell: CellComparison; row: MetricRow }[];
}

const finite = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/* The axis holds every drawn value and 1 (no change). Ratios spanning more
 * than 4x go on a log axis, so 0.5 and 2 sit equally far from 1 and a wild
 * cell does not squash the rest into a line. */
function axisRange(values: number[]): { log: boolean; min: number; max: number } {
  const lo = Math.min(1, ...values);
  const hi = Math.max(1, ...values);
  if (lo > 0 && hi / lo > 4) return { log: true, min: lo / 1.15, max: hi * 1.15 };
  const pad = (hi - lo) * 0.08 || 0.05;
  return { log: false, min: Math.max(0, lo - pad), max: hi + pad };
}

/* A figure per compared metric that at least one cell measured, in
 * COMPARED_METRICS order. */
export function compareFigures(model: ComparisonModel): CompareFigure[] {
  const pct = Math.round((1 - model.alpha) * 100);
  const figures: CompareFigure[] = [];
  for (const metric of COMPARED_METRICS) {
    const rows = model.cells.flatMap((cell) => cell.rows.filter((r) => r.metric.path === metric.path).map((row) => ({ cell, row })));
    if (!rows.length) continue;
    const ci = rows.map(({ row }) => {
      const c = row.comparison.ci;
      const lo = finite(c?.[0]);
      const hi = finite(c?.[1]);
      return lo !== null && hi !== null ? ([lo, hi] as [number, number]) : null;
    });
    const ratio = rows.map(({ row }) => finite(row.comparison.ratio));
    const drawn = [...ci.flatMap((c) => c ?? []), ...ratio.filter((r): r is number => r !== null)];
    figures.push({
      metric,
      rows,
      chart: {
        id: `chart-${figures.length + 1}`,
        title: `${metric.name}: ${model.head_name}/${model.base_name} with the ${pct}% CI`,
        axis: `${model.head_name}/${model.base_name} (1 = no change; ${metric.higherIsBetter ? 'higher' : 'lower'} is better)`,
        labels: rows.map(({ cell }) => cell.key),
        ci,
        ratio,
        colors: rows.map(({ row }) => VERDICT_COLOURS[row.comparison.verdict]),
        ...axisRange(drawn),
      },
    });
  }
  return figures;
}

const EXTRA_CSS = `
.summary { font-size: 16px; font-weight: 600; }
.swatch { display: inline-block; width: .8em; height: .8em; margin-right: .35em; border-radius: 2px; vertical-align: -1px; }
.key span.item { margin-right: 1.2rem; white-space: nowrap; }
tr.significant td { background: #fffbea; }
td.verdict { white-space: nowrap; }
figure.compare .chart { flex: 1 1 440px; }
figure.compare .table { flex: 1 1 620px; }
`;

/* The page's own script: chart specs from the JSON block into chart.js
 * configs (as reports/html-client.ts does for report.html). A dashed line at
 * 1 is drawn by a plugin defined here; nothing from a results file is code.
 * Animation off: every chart is drawn when its constructor returns. */
export const COMPARE_CLIENT_SCRIPT = `
(function () {
  'use strict';
  var specs = JSON.parse(document.getElementById('compare-data').textContent).charts;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';

  var noChange = {
    id: 'noChange',
    beforeDatasetsDraw: function (chart) {
      var x = chart.scales.x;
      var area = chart.chartArea;
      var px = x.getPixelForValue(1);
      if (!(px >= area.left && px <= area.right)) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = '#333';
      ctx.lineWidth = 1;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(px, area.top);
      ctx.lineTo(px, area.bottom);
      ctx.stroke();
      ctx.restore();
    }
  };

  // Log axes: a label at 1, 2 and 5 times a power of ten only.
  function logTick(v) {
    var m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
    var r = Math.round(m * 1000) / 1000;
    return r === 1 || r === 2 || r === 5 ? String(+v.toPrecision(3)) : '';
  }

  function config(spec) {
    return {
      type: 'bar',
      data: {
        labels: spec.labels,
        datasets: [
          { type: 'bar', label: 'CI', data: spec.ci, indexAxis: 'y', grouped: false,
            backgroundColor: spec.colors.map(function (c) { return c + '80'; }), borderColor: spec.colors,
            borderWidth: 1, barPercentage: 0.55, categoryPercentage: 1, order: 1 },
          { type: 'line', label: 'head/base', data: spec.ratio, indexAxis: 'y', showLine: false,
            pointRadius: 5, pointHoverRadius: 6, pointBackgroundColor: spec.colors, pointBorderColor: '#222',
            pointBorderWidth: 1, order: 0 }
        ]
      },
      options: {
        indexAxis: 'y',
        responsive: true,
        scales: {
          x: { type: spec.log ? 'logarithmic' : 'linear', min: spec.min, max: spec.max,
               title: { display: true, text: spec.axis },
               ticks: spec.log ? { autoSkip: false, maxRotation: 0, callback: logTick } : {} },
          y: { type: 'category', ticks: { autoSkip: false } }
        },
        plugins: { title: { display: true, text: spec.title }, legend: { display: false } }
      },
      plugins: [noChange]
    };
  }

  var drawn = 0;
  specs.forEach(function (spec) {
    try {
      new Chart(document.getElementById(spec.id), config(spec));
      drawn++;
    } catch (err) {
      console.error('chart ' + spec.id + ': ' + err);
    }
  });
  document.documentElement.setAttribute('data-charts-drawn', String(drawn));
})();
`;

function pText(p: number | null): string {
  if (p === null || Number.isNaN(p)) return '–';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/* data-v on a numeric cell: the exact value, as in report.html. */
const num = (v: number | null, text: string, extra?: Html) =>
  v === null ? html`<td class="num">${text}</td>` : html`<td class="num" data-v="${String(v)}"${extra}>${text}</td>`;

const swatch = (v: Verdict) => html`<span class="swatch" style="background: ${VERDICT_COLOURS[v]}"></span>`;

function chartHeight(cells: number): number {
  return Math.max(200, 90 + 30 * cells);
}

function renderFigure(model: ComparisonModel, f: CompareFigure): Html {
  const pct = Math.round((1 - model.alpha) * 100);
  const table = html`<table data-metric="${f.metric.path}"><thead><tr><th>cell</th><th>reps</th><th>${model.base_name}</th><th>${model.head_name}</th><th>change [${pct}% CI of ${model.head_name}/${model.base_name}]</th><th>Welch p</th><th>verdict</th></tr></thead><tbody>${f.rows.map(({ cell, row }) => {
    const c = row.comparison;
    const ci = c.ci ? html` data-ci-lo="${String(c.ci[0])}" data-ci-hi="${String(c.ci[1])}"` : undefined;
    return html`<tr data-key="${cell.key}"${c.significant ? new Html(' class="significant"') : ''}><td>${cell.key}</td><td class="num">${c.n_base}/${c.n_head}</td>${num(row.base_median, formatMetric(row.metric, row.base_median))}${num(row.head_median, formatMetric(row.metric, row.head_median))}${num(c.change_percent, changeText(c), ci)}${num(c.p_welch, pText(c.p_welch))}<td class="verdict">${swatch(c.verdict)}${c.verdict}</td></tr>`;
  })}</tbody></table>`;
  return html`<figure class="compare"><div class="chart" style="height: ${chartHeight(f.rows.length)}px"><canvas id="${f.chart.id}" role="img" aria-label="${f.chart.title}"></canvas></div><div class="table">${table}</div></figure>`;
}

function latencyTable(model: ComparisonModel): Html {
  const cells = model.cells.filter((c) => c.latency.base || c.latency.head);
  if (!cells.length) return html`<p class="none">No latency histograms.</p>`;
  const pcts: [keyof LatencyUs, string][] = [['p50', 'p50'], ['p99', 'p99'], ['p99_9', 'p99.9']];
  const v = (l: LatencyUs | null, k: keyof LatencyUs) => (l ? num(l[k], formatMicros(l[k])) : html`<td class="num">–</td>`);
  return html`<table><thead><tr><th>cell</th>${pcts.map(([, n]) => html`<th>${n} ${model.base_name}</th><th>${n} ${model.head_name}</th>`)}</tr></thead><tbody>${cells.map(
    (c) => html`<tr data-key="${c.key}"><td>${c.key}</td>${pcts.map(([k]) => [v(c.latency.base, k), v(c.latency.head, k)])}</tr>`,
  )}</tbody></table>`;
}

const list = (xs: string[]) => (xs.length ? html`<ul>${xs.map((x) => html`<li>${x}</li>`)}</ul>` : html`<p class="none">None.</p>`);

function runsText(model: ComparisonModel): string {
  if (model.mode === 'runs') return `base run ${model.base_run}, head run ${model.head_run}`;
  if (model.base_run === model.head_run) return `${model.base_name} against ${model.head_name} in run ${model.base_run}`;
  return `${model.base_name} (run ${model.base_run}) against ${model.head_name} (run ${model.head_run})`;
}

function flamegraphTable(model: ComparisonModel): Html {
  const perOp = (f: FlamegraphDiff, v: number) => (f.unit === 'ns/op' ? `${formatSignificant(v / 1000)} µs/op` : `${formatSignificant(v)} samples/op`);
  return html`<table><thead><tr><th>cell</th><th>${model.base_name}</th><th>${model.head_name}</th><th>ratio</th><th>differential flamegraph</th></tr></thead><tbody>${(model.flamegraphs ?? []).map((f) =>
    f.files
      ? html`<tr><td>${f.key}</td><td class="num">${perOp(f, f.base_per_op!)}</td><td class="num">${perOp(f, f.head_per_op!)}</td><td class="num">${f.base_per_op ? (f.head_per_op! / f.base_per_op).toFixed(3) : '–'}</td><td><a href="${safeHref(f.files.html)}">flamegraph</a> · <a href="${safeHref(f.files.svg)}">SVG</a> · <a href="${safeHref(f.files.folded)}">folded</a></td></tr>`
      : html`<tr><td>${f.key}</td><td colspan="4" class="note">${f.problem ?? ''}</td></tr>`,
  )}</tbody></table>`;
}

export function renderCompare(model: ComparisonModel): string {
  const figures = compareFigures(model);
  const pct = Math.round((1 - model.alpha) * 100);
  const title = `muxbench compare: ${model.head_name} vs ${model.base_name}`;
  const data = jsonForScript({ charts: figures.map((f) => f.chart) });
  const nav = figures.map((f, i) => html`<a href="#metric-${i + 1}">${f.metric.name}</a>`);
  const verdicts = Object.keys(VERDICT_COLOURS) as Verdict[];
  const notes = model.cells.filter((c) => c.notes.length);
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${new Html(REPORT_CSS + EXTRA_CSS)}</style>
</head>
<body>
<header><h1>${title}</h1>
<p class="summary" id="summary">${model.summary.text}</p>
<p id="runs">${runsText(model)}.</p>
<p class="note">Medians over repetitions; significant = the ${pct}% bootstrap CI of the ratio of medians excludes 1 and Welch's p &lt; ${model.alpha}, and the change is at least ${model.min_effect_percent}% (smaller ones count as no change). In each chart a bar spans the CI of ${model.head_name}/${model.base_name}, the dot is the ratio of the medians and the dashed line is 1 (no change).</p>
<p class="key">${verdicts.map((v) => html`<span class="item">${swatch(v)}${v}</span>`)}</p>
<nav>${nav}<a href="#latency">latency</a><a href="#one-sided">cells on one side</a><a href="#notes">notes</a></nav></header>
${figures.map((f, i) => html`<section id="metric-${i + 1}"><h2>${f.metric.name} <small>(${f.metric.higherIsBetter ? 'higher' : 'lower'} is better; medians)</small></h2>${renderFigure(model, f)}</section>`)}
${figures.length ? '' : html`<p class="none">No metric measured on both sides.</p>`}
<section id="latency"><h2>Latency of all repetitions merged</h2>${latencyTable(model)}</section>
<section id="one-sided"><h2>Cells on one side only</h2>
<h3>Only in ${model.base_name} (${model.base_run})</h3>${list(model.only_base)}
<h3>Only in ${model.head_name} (${model.head_run})</h3>${list(model.only_head)}</section>
${model.flamegraphs ? html`<section id="flamegraphs"><h2>Differential flamegraphs</h2><p class="note">CPU per operation in each side's profiled window (one more repetition with perf, outside the statistics above). In the flamegraphs, red frames cost ${model.head_name} more per operation than ${model.base_name}, blue ones less.</p>${flamegraphTable(model)}</section>` : ''}
<section id="notes"><h2>Notes</h2>${notes.length ? html`<ul>${notes.map((c) => html`<li>${c.key}: ${c.notes.join(', ')}</li>`)}</ul>` : html`<p class="none">None.</p>`}</section>
<script type="application/json" id="compare-data">${new Html(data)}</script>
<script>${new Html(chartJsSource())}</script>
<script>${new Html(COMPARE_CLIENT_SCRIPT)}</script>
</body>
</html>
`;
  return page.text;
}
