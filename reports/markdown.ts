/* A comparison as GitHub-flavoured Markdown for a pull-request comment: the
 * one-line summary, the significant changes, and everything else folded
 * away. Strings from results files (strategy names, labels, run ids) are
 * escaped: a hostile label must not break a table or inject HTML. */
import { changeText, type CellComparison, type ComparisonModel, type MetricDef, type MetricRow } from './compare.js';
import { formatCount, formatMiBps, formatMicros } from '../harness/units.js';
import type { Verdict } from '../harness/comparison.js';
import type { LatencyUs } from '../harness/stats.js';

/* Backslash-escapes Markdown punctuation and turns the HTML-significant
 * characters into entities (a backslash does not stop GitHub's HTML
 * sanitiser from seeing a tag). `\|` is what GFM tables take for a literal
 * pipe; newlines would end a table row, so they become spaces. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~#!]/g, (c) => `\\${c}`);
}

/* Per-operation ratios: two decimals from 1 up (so a column lines up),
 * three significant digits below (0.000244 wakeups/op stays readable),
 * compact counts from 1000. */
export function formatSignificant(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const abs = Math.abs(v);
  if (abs >= 1000) return formatCount(v);
  if (abs >= 1) return v.toFixed(2);
  return v === 0 ? '0' : v.toPrecision(3);
}

export function formatMetric(metric: MetricDef, v: number): string {
  switch (metric.path) {
    case 'throughput.ops_per_s':
      return `${formatCount(v)} ops/s`;
    case 'throughput.payload_bytes_per_s':
      return formatMiBps(v);
    case 'server.cpu_us_per_op':
    case 'latency_us.p50':
    case 'latency_us.p99':
      return formatMicros(v);
    case 'server.rss_kb_per_connection':
      return `${formatSignificant(v)} KiB`;
    default:
      return formatSignificant(v);
  }
}

const MARKER: Record<Verdict, string> = {
  better: 'better',
  worse: 'worse',
  'no significant change': '~',
  'not enough samples': 'too few reps',
};

type Row = { cell: CellComparison; row: MetricRow };

/* Table cells built here from numbers ("+1.5% [CI 0.99–1.10]") are not
 * escaped: no file string reaches them, and a bracket followed by neither
 * "(" nor "[" is no link. Everything from a file goes through escapeMarkdown. */

function table(model: ComparisonModel, rows: Row[]): string {
  const ci = `${Math.round((1 - model.alpha) * 100)}% CI of ${model.head_name}/${model.base_name}`;
  const lines = [
    `| cell | metric | ${escapeMarkdown(model.base_name)} | ${escapeMarkdown(model.head_name)} | change [${escapeMarkdown(ci)}] | verdict |`,
    '|:--|:--|--:|--:|--:|:--|',
  ];
  for (const { cell, row } of rows) {
    lines.push(
      `| ${escapeMarkdown(cell.key)} | ${escapeMarkdown(row.metric.name)} | ${formatMetric(row.metric, row.base_median)} | ${formatMetric(row.metric, row.head_median)} | ${changeText(row.comparison)} | ${MARKER[row.comparison.verdict]} |`,
    );
  }
  return lines.join('\n');
}

function latencyTable(model: ComparisonModel, cells: CellComparison[]): string {
  const pcts: [keyof LatencyUs, string][] = [['p50', 'p50'], ['p99', 'p99'], ['p99_9', 'p99.9']];
  const b = escapeMarkdown(model.base_name);
  const h = escapeMarkdown(model.head_name);
  const lines = [
    `| cell | ${pcts.map(([, n]) => `${n} ${b} | ${n} ${h}`).join(' | ')} |`,
    `|:--|${pcts.map(() => '--:|--:').join('|')}|`,
  ];
  for (const c of cells) {
    const v = (l: LatencyUs | null, k: keyof LatencyUs) => (l ? formatMicros(l[k]) : '-');
    lines.push(`| ${escapeMarkdown(c.key)} | ${pcts.map(([k]) => `${v(c.latency.base, k)} | ${v(c.latency.head, k)}`).join(' | ')} |`);
  }
  return lines.join('\n');
}

/* A folded section; the blank lines around the body make GitHub render the
 * Markdown inside the HTML block. */
/* GitHub refuses comments over 65,536 characters; stay under with room to spare. */
export const COMMENT_LIMIT = 60_000;

const details = (summary: string, body: string) => `<details><summary>${summary}</summary>\n\n${body}\n\n</details>`;

/* The per-operation CPU of each side's profiled window, and the file to open. */
function flamegraphTable(model: ComparisonModel): string {
  const rows = (model.flamegraphs ?? []).map((f) => {
    if (!f.files) return `| ${escapeMarkdown(f.key)} | - | - | - | - | ${escapeMarkdown(f.problem ?? '')} |`;
    const ratio = f.base_per_op ? (f.head_per_op! / f.base_per_op).toFixed(3) : '-';
    const unit = f.unit === 'ns/op' ? 'µs/op' : 'samples/op';
    const v = (x: number) => (f.unit === 'ns/op' ? formatSignificant(x / 1000) : formatSignificant(x));
    const largest = (f.largest ?? []).map((c) => `${c.frame} ${c.head >= c.base ? '+' : '−'}${v(Math.abs(c.head - c.base))}`).join(', ') || 'none beyond sampling noise';
    const links = (['html', 'svg', 'folded'] as const).map((k) => `[${k}](${encodeURI(f.files![k])})`).join(' · ');
    return `| ${escapeMarkdown(f.key)} | ${v(f.base_per_op!)} ${unit} | ${v(f.head_per_op!)} ${unit} | ${ratio} | ${escapeMarkdown(largest)} | ${links} |`;
  });
  return [
    `| cell | ${escapeMarkdown(model.base_name)} profiled CPU | ${escapeMarkdown(model.head_name)} profiled CPU | ratio | largest changes in self time beyond sampling noise (same unit) | differential flamegraph (next to compare.md) |`,
    '|---|---:|---:|---:|---|---|',
    ...rows,
  ].join('\n');
}

export function compareMarkdown(model: ComparisonModel): string {
  const all: Row[] = model.cells.flatMap((cell) => cell.rows.map((row) => ({ cell, row })));
  // Regressions first, the largest on top; then improvements, largest first.
  const badness = (r: Row) => r.row.regression_percent ?? 0;
  const significant = all
    .filter((r) => r.row.comparison.significant)
    .sort((x, y) => {
      const xw = x.row.comparison.verdict === 'worse' ? 0 : 1;
      const yw = y.row.comparison.verdict === 'worse' ? 0 : 1;
      return xw - yw || (xw === 0 ? badness(y) - badness(x) : badness(x) - badness(y));
    });

  const out: string[] = [`**${escapeMarkdown(model.summary.text)}**`];
  const runs =
    model.mode === 'runs'
      ? `base run ${model.base_run}, head run ${model.head_run}`
      : model.base_run === model.head_run
        ? `${model.base_name} against ${model.head_name} in run ${model.base_run}`
        : `${model.base_name} (run ${model.base_run}) against ${model.head_name} (run ${model.head_run})`;
  out.push(
    escapeMarkdown(`${runs}. Medians over repetitions; significant = the ${Math.round((1 - model.alpha) * 100)}% bootstrap CI of the ratio of medians excludes 1 and Welch's p < ${model.alpha}, and the change is at least ${model.min_effect_percent}%.`),
  );
  // With one repetition a side nothing can be significant: say that, not "no change".
  const noVerdict = !significant.length && model.summary.not_enough_samples > 0 && model.summary.unchanged === 0;
  out.push(significant.length ? table(model, significant) : noVerdict ? 'Nothing could be judged: each side needs at least 2 repetitions (run with `--repeat 3` or more).' : 'No significant change.');

  const oneSided = [
    model.only_base.length ? `Only in ${model.base_name}: ${model.only_base.join(', ')}` : '',
    model.only_head.length ? `Only in ${model.head_name}: ${model.only_head.join(', ')}` : '',
  ].filter(Boolean);
  if (oneSided.length) out.push(oneSided.map((l) => `- ${escapeMarkdown(l)}`).join('\n'));

  const notes = model.cells.filter((c) => c.notes.length).map((c) => `- ${escapeMarkdown(c.key)}: ${escapeMarkdown(c.notes.join(', '))}`);
  const folded = [details(`All ${all.length} comparisons`, [table(model, all), ...(notes.length ? ['Notes:\n\n' + notes.join('\n')] : [])].join('\n\n'))];
  const withLatency = model.cells.filter((c) => c.latency.base || c.latency.head);
  if (withLatency.length) folded.push(details('Latency of all repetitions merged', latencyTable(model, withLatency)));
  if (model.flamegraphs) folded.push(details('Differential flamegraphs', flamegraphTable(model)));
  const full = [...out, ...folded].join('\n\n') + '\n';
  if (full.length <= COMMENT_LIMIT) return full;
  // A big matrix: keep what fits a PR comment; compare.html has every row.
  const cut = `The full tables (${all.length} comparisons) do not fit a pull request comment: see compare.html.`;
  const short = [...out, cut].join('\n\n') + '\n';
  if (short.length <= COMMENT_LIMIT) return short;
  const kept = significant.slice(0, 150);
  out[2] = table(model, kept);
  return [...out, `${significant.length - kept.length} more significant changes and the full tables (${all.length} comparisons) do not fit a pull request comment: see compare.html.`].join('\n\n') + '\n';
}
