/* The comparison model behind `muxbench compare`: two runs cell by cell, or
 * two strategies within runs, metric by metric, with the statistics of
 * harness/comparison.ts. Pure: no I/O, no formatting beyond the one-line
 * summary (reports/markdown.ts renders the rest). */
import { compare, DEFAULT_MIN_EFFECT_PERCENT, median, type Comparison } from '../harness/comparison.js';
import { UsageError } from '../harness/errors.js';
import type { CellResult, ResultsFile } from '../harness/results.js';
import { mergeEncoded, type LatencyUs } from '../harness/stats.js';

export interface MetricDef {
  /* Dotted path in a repetition's metrics. */
  path: string;
  /* Short name for tables and the summary line. */
  name: string;
  higherIsBetter: boolean;
}

/* The metrics compared, in display order. Costs per operation rather than
 * totals, so runs of different lengths stay comparable. */
export const COMPARED_METRICS: readonly MetricDef[] = [
  { path: 'throughput.ops_per_s', name: 'ops/s', higherIsBetter: true },
  { path: 'throughput.payload_bytes_per_s', name: 'payload/s', higherIsBetter: true },
  { path: 'server.cpu_us_per_op', name: 'server CPU/op', higherIsBetter: false },
  { path: 'latency_us.p50', name: 'p50 (per rep)', higherIsBetter: false },
  { path: 'latency_us.p99', name: 'p99 (per rep)', higherIsBetter: false },
  { path: 'server.syscalls_per_op', name: 'syscalls/op', higherIsBetter: false },
  { path: 'server.rss_kb_per_connection', name: 'RSS/conn', higherIsBetter: false },
  { path: 'server.wakeups_per_op', name: 'wakeups/op', higherIsBetter: false },
];

export interface MetricRow {
  metric: MetricDef;
  /* Per-repetition values of the ok repetitions. */
  base: number[];
  head: number[];
  base_median: number;
  head_median: number;
  comparison: Comparison;
  /* The change in the bad direction, in percent: positive = worse (a fall
   * of ops/s, a rise of a latency or cost); null without a ratio. */
  regression_percent: number | null;
}

export interface CellComparison {
  /* What the two cells share: the id in run mode; scenario/transport[/label]
   * in strategy mode (the strategies differ by design). */
  key: string;
  base_id: string;
  head_id: string;
  scenario: string;
  transport: string;
  label: string;
  /* Why some numbers may be missing or not like for like (a failed side,
   * a different load generator setup). */
  notes: string[];
  /* The cells' own status: a head cell that failed has no numbers to
   * regress, which the gate must still catch. */
  base_status: CellResult['status'];
  head_status: CellResult['status'];
  rows: MetricRow[];
  /* All ok repetitions' latency histograms merged, per side (µs). */
  latency: { base: LatencyUs | null; head: LatencyUs | null };
}

export interface Regression {
  key: string;
  row: MetricRow;
}

/* compare --flamegraphs: one differential flamegraph per compared pair of
 * profiled cells (flamegraphs/compare-diff.ts), or why there is none. */
export interface FlamegraphDiff {
  key: string;
  problem?: string;
  /* Cost per operation of each side's profiled window: ns/op (or samples/op when perf's period is unknown). */
  unit?: 'ns/op' | 'samples/op';
  base_per_op?: number;
  head_per_op?: number;
  /* Relative to the comparison's output folder. */
  files?: { html: string; svg: string; folded: string };
  /* The functions whose self cost per operation changed most (same unit). */
  /* Only changes beyond their sampling noise (2σ); empty when none is. */
  largest?: { frame: string; base: number; head: number; noise: number }[];
}

export interface ComparisonModel {
  /* runs: two runs, cell by cell; strategies: two sides picked within the
   * runs (strategies and/or server loop thread counts). */
  mode: 'runs' | 'strategies';
  /* "base"/"head" in run mode, the strategy names in strategy mode. */
  base_name: string;
  head_name: string;
  base_run: string;
  head_run: string;
  alpha: number;
  /* Significant changes smaller than this (percent) count as unchanged. */
  min_effect_percent: number;
  cells: CellComparison[];
  /* Keys of the cells found on one side only. */
  only_base: string[];
  only_head: string[];
  flamegraphs?: FlamegraphDiff[];
  summary: {
    better: number;
    worse: number;
    unchanged: number;
    not_enough_samples: number;
    cells: number;
    largest_regression: Regression | null;
    text: string;
  };
}

export interface CompareRunsOptions {
  baseStrategy?: string;
  headStrategy?: string;
  /* Compare server loop thread counts (--threads sweeps): cells with this
   * many loops are the base, ... the head; matched without their threads=N. */
  baseThreads?: number;
  headThreads?: number;
  /* Significance level; default 0.05 (the CI is then 95%). */
  alpha?: number;
  /* Smallest change that counts, percent (default DEFAULT_MIN_EFFECT_PERCENT). */
  minEffectPercent?: number;
}

/* The values of one metric over a cell's ok repetitions; absent metrics
 * (latency of a bulk cell, syscalls under --no-counters) give none. */
export function metricValues(cell: CellResult, path: string): number[] {
  const out: number[] = [];
  for (const rep of cell.repetitions) {
    if (rep.status !== 'ok' || !rep.metrics) continue;
    let v: unknown = rep.metrics;
    for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  }
  return out;
}

const labelSuffix = (c: CellResult) => (c.label ? `/${c.label.replace(/ /g, ',')}` : '');
/* A cell key without its threads=N, so cells of two loop counts match. */
const withoutThreads = (key: string) => key.replace(/threads=\d+,?/, '').replace(/[,/]$/, '');
const loopsOf = (c: CellResult) => c.server_params.threads ?? 1;
const pointKey = (c: CellResult) => `${c.scenario}/${c.transport}${labelSuffix(c)}`;

function byKey(cells: CellResult[], key: (c: CellResult) => string): Map<string, CellResult> {
  const m = new Map<string, CellResult>();
  for (const c of cells) m.set(key(c), c);
  return m;
}

function strategiesOf(r: ResultsFile): string[] {
  return [...new Set(r.cells.map((c) => c.strategy))];
}

/* Different workloads make every number differ for a reason that is not
 * the change under test, so they are refused rather than compared. */
function paramsDifference(a: CellResult, b: CellResult): string | null {
  const keys = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort();
  const diffs = keys.filter((k) => a.params[k] !== b.params[k]).map((k) => `${k} ${a.params[k] ?? 'absent'} vs ${b.params[k] ?? 'absent'}`);
  return diffs.length ? diffs.join(', ') : null;
}

/* Differences that are allowed (they may be what is being compared) but
 * that a reader must see next to the numbers. */
function setupNotes(a: CellResult, b: CellResult): string[] {
  const notes: string[] = [];
  for (const [side, c] of [['base', a], ['head', b]] as const) {
    const ok = c.repetitions.filter((r) => r.status === 'ok').length;
    if (c.status !== 'ok') notes.push(`${side} cell ${c.status}${ok ? ` (${ok} ok ${ok === 1 ? 'repetition' : 'repetitions'})` : ''}`);
    if (c.client_bound) notes.push(`${side} client-bound`);
  }
  if (a.server_params.handoff !== b.server_params.handoff) notes.push(`handoff ${a.server_params.handoff} vs ${b.server_params.handoff}`);
  const loops = (c: CellResult) => c.server_params.threads ?? 1;
  if (loops(a) !== loops(b)) notes.push(`server loop threads ${loops(a)} vs ${loops(b)}`);
  if (a.server_params.counters !== b.server_params.counters) notes.push(`counters ${a.server_params.counters ? 'on' : 'off'} vs ${b.server_params.counters ? 'on' : 'off'}`);
  if (a.client_params.threads !== b.client_params.threads) notes.push(`loadgen threads ${a.client_params.threads} vs ${b.client_params.threads}`);
  if (a.client_params.wait !== b.client_params.wait) notes.push(`loadgen wait ${a.client_params.wait} vs ${b.client_params.wait}`);
  return notes;
}

function mergedLatency(c: CellResult): LatencyUs | null {
  const ok = c.repetitions.filter((r) => r.status === 'ok');
  if (ok.some((r) => r.latency_hdr)) return mergeEncoded(ok.map((r) => r.latency_hdr));
  // Files trimmed of their histograms still carry the merged percentiles.
  return c.latency_merged_us ?? null;
}

function compareCell(key: string, a: CellResult, b: CellResult, alpha: number, minEffect: number): CellComparison {
  const rows: MetricRow[] = [];
  for (const metric of COMPARED_METRICS) {
    const base = metricValues(a, metric.path);
    const head = metricValues(b, metric.path);
    if (!base.length || !head.length) continue;
    // Zero on both sides (p50 of a bulk transfer's piece gaps, wakeups of a
    // completion loop) has no ratio and nothing to compare.
    if (base.every((v) => v === 0) && head.every((v) => v === 0)) continue;
    // A ratio of negative medians means nothing (memory per connection can
    // shrink below the baseline): such a metric is not compared.
    if (median(base) < 0 || median(head) < 0) continue;
    const comparison = compare(base, head, { higherIsBetter: metric.higherIsBetter, alpha, minEffectPercent: minEffect });
    const cp = comparison.change_percent;
    rows.push({
      metric,
      base,
      head,
      base_median: median(base),
      head_median: median(head),
      comparison,
      regression_percent: cp === null || Number.isNaN(cp) ? null : metric.higherIsBetter ? -cp : cp,
    });
  }
  return {
    key,
    base_id: a.id,
    head_id: b.id,
    scenario: a.scenario,
    transport: a.transport,
    label: a.label,
    notes: setupNotes(a, b),
    base_status: a.status,
    head_status: b.status,
    rows,
    latency: { base: mergedLatency(a), head: mergedLatency(b) },
  };
}

const list = (xs: string[], max = 6) => (xs.length > max ? `${xs.slice(0, max).join(', ')}, … (${xs.length} in all)` : xs.join(', ')) || 'none';

export function compareRuns(base: ResultsFile, head: ResultsFile, opts: CompareRunsOptions = {}): ComparisonModel {
  const alpha = opts.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`alpha must be between 0 and 1, got ${alpha}`);
  if (base.schema !== head.schema || base.version !== head.version) {
    throw new UsageError(`the two results files have different format versions (base ${base.schema} v${base.version}, head ${head.schema} v${head.version}); rerun one of them with this muxbench`);
  }
  const strategyMode = opts.baseStrategy !== undefined || opts.headStrategy !== undefined;
  // One strategy named: compare that strategy in both files.
  const baseStrategy = opts.baseStrategy ?? opts.headStrategy;
  const headStrategy = opts.headStrategy ?? opts.baseStrategy;
  let baseCells = base.cells;
  let headCells = head.cells;
  let key = (c: CellResult) => c.id;
  if (strategyMode) {
    for (const [side, name, file, given] of [['base', baseStrategy!, base, opts.baseStrategy], ['head', headStrategy!, head, opts.headStrategy]] as const) {
      if (!strategiesOf(file).includes(name)) {
        // Name the flag the user typed, even when it stood in for the other side.
        const flag = given !== undefined ? side : side === 'base' ? 'head' : 'base';
        throw new UsageError(`--${flag}-strategy ${name}: not in the ${side} results (${file.run_id}); it has: ${list(strategiesOf(file))}`);
      }
    }
    if (base.run_id === head.run_id && baseStrategy === headStrategy) {
      const given = opts.baseStrategy !== undefined && opts.headStrategy !== undefined;
      throw new UsageError(
        given
          ? `--base-strategy and --head-strategy are both ${baseStrategy} in one results file: nothing to compare`
          : `${baseStrategy} against itself in one run: give the other side too (--base-strategy A --head-strategy B), or two results files to compare ${baseStrategy} across runs`,
      );
    }
    baseCells = base.cells.filter((c) => c.strategy === baseStrategy);
    headCells = head.cells.filter((c) => c.strategy === headStrategy);
    key = pointKey;
  }
  const threadsMode = opts.baseThreads !== undefined || opts.headThreads !== undefined;
  const baseThreads = opts.baseThreads ?? opts.headThreads;
  const headThreads = opts.headThreads ?? opts.baseThreads;
  if (threadsMode) {
    if (base.run_id === head.run_id && baseThreads === headThreads && baseStrategy === headStrategy) {
      throw new UsageError(`threads=${baseThreads} against itself in one run: give the other side too (--base-threads 1 --head-threads 2)`);
    }
    for (const [side, n, file, cells] of [['base', baseThreads!, base, baseCells], ['head', headThreads!, head, headCells]] as const) {
      if (!cells.some((c) => loopsOf(c) === n)) {
        throw new UsageError(`--${side}-threads ${n}: no cell with ${n} server loop thread${n === 1 ? '' : 's'} in the ${side} results (${file.run_id}); it has: ${list([...new Set(file.cells.map(loopsOf))].map(String))}`);
      }
    }
    baseCells = baseCells.filter((c) => loopsOf(c) === baseThreads);
    headCells = headCells.filter((c) => loopsOf(c) === headThreads);
    const inner = key;
    key = (c) => withoutThreads(inner(c));
  }
  const sideName = (strategy: string | undefined, threads: number | undefined) =>
    [strategyMode ? strategy : '', threadsMode ? `threads=${threads}` : ''].filter(Boolean).join(' ');

  const a = byKey(baseCells, key);
  const b = byKey(headCells, key);
  const common = [...a.keys()].filter((k) => b.has(k));
  if (!common.length) {
    const what = (cs: CellResult[]) => list([...new Set(cs.map(strategyMode ? pointKey : (c) => c.id))]);
    throw new UsageError(`no cell in common between base and head: base has ${what(baseCells)}; head has ${what(headCells)}`);
  }
  const mismatched = common.map((k) => [k, paramsDifference(a.get(k)!, b.get(k)!)] as const).filter(([, d]) => d);
  if (mismatched.length) {
    const [k, d] = mismatched[0];
    const more = mismatched.length > 1 ? ` (and ${mismatched.length - 1} more cells)` : '';
    throw new UsageError(`${k} was measured with different workload parameters: ${d}${more}; compare runs made with the same options`);
  }

  const minEffect = opts.minEffectPercent ?? DEFAULT_MIN_EFFECT_PERCENT;
  if (!(minEffect >= 0)) throw new UsageError(`the smallest change that counts must be 0% or more, got ${minEffect}`);
  const cells = common.map((k) => compareCell(k, a.get(k)!, b.get(k)!, alpha, minEffect));
  const model: ComparisonModel = {
    mode: strategyMode || threadsMode ? 'strategies' : 'runs',
    base_name: strategyMode || threadsMode ? sideName(baseStrategy, baseThreads) : 'base',
    head_name: strategyMode || threadsMode ? sideName(headStrategy, headThreads) : 'head',
    base_run: base.run_id,
    head_run: head.run_id,
    alpha,
    min_effect_percent: minEffect,
    cells,
    only_base: [...a.keys()].filter((k) => !b.has(k)),
    only_head: [...b.keys()].filter((k) => !a.has(k)),
    summary: { better: 0, worse: 0, unchanged: 0, not_enough_samples: 0, cells: cells.length, largest_regression: null, text: '' },
  };
  summarise(model);
  return model;
}

/* Significant regressions larger than pct percent, largest first (for
 * --fail-on-regression). */
/* Why a --fail-on-regression gate must not pass, beyond regressions over
 * the threshold: cells that worked in base but failed or were not run in
 * head (a broken cell has no numbers to regress), and a comparison with
 * too few repetitions to find anything (a gate that cannot fire). */
export function gateProblems(model: ComparisonModel, pct: number): string[] {
  const out = regressionsOver(model, pct).map((r) => `${r.key} ${r.row.metric.name}: ${changeText(r.row.comparison)}`);
  for (const c of model.cells) {
    if (c.base_status === 'ok' && c.head_status !== 'ok') out.push(`${c.key}: ${c.head_status} in ${model.head_name}`);
  }
  for (const k of model.only_base) out.push(`${k}: not in ${model.head_name}`);
  const rows = model.cells.flatMap((c) => c.rows);
  if (rows.length && rows.every((r) => r.comparison.verdict === 'not enough samples')) {
    out.push('no comparison had 2 repetitions per side: run with --repeat 2 or more, or nothing can be found significant');
  }
  return out;
}

export function regressionsOver(model: ComparisonModel, pct: number): Regression[] {
  const out: Regression[] = [];
  for (const cell of model.cells) {
    for (const row of cell.rows) {
      // A rise from a median of 0 has no percentage (e.g. a bulk cell's p50
      // gap between pieces, usually 0): shown in the table, never gated on.
      const p = row.regression_percent;
      if (row.comparison.verdict === 'worse' && p !== null && Number.isFinite(p) && p > pct) out.push({ key: cell.key, row });
    }
  }
  return out.sort((x, y) => y.row.regression_percent! - x.row.regression_percent!);
}

/* One decimal, or two significant digits below 0.1% so a tiny significant
 * change does not read "+0.0%". A base median of 0 has no finite ratio: say
 * what happened instead. */
function signed(pct: number): string {
  if (!Number.isFinite(pct)) return 'up from 0';
  const abs = Math.abs(pct);
  return `${pct >= 0 ? '+' : '-'}${abs >= 0.1 || abs === 0 ? abs.toFixed(1) : abs.toPrecision(2)}%`;
}
const ratioText = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '∞');

/* "+12.4% [CI 1.08–1.17]": the change of the median and the interval of the
 * ratio head/base. A narrow interval gets more digits, so a significant
 * +0.2% does not show as "[CI 1.00–1.00]". */
export function changeText(c: Comparison): string {
  if (c.change_percent === null || Number.isNaN(c.change_percent)) return 'n/a';
  if (!c.ci || c.ci.some(Number.isNaN)) return signed(c.change_percent);
  const [lo, hi] = c.ci;
  let digits = 2;
  while (digits < 4 && lo !== hi && ratioText(lo, digits) === ratioText(hi, digits)) digits++;
  return `${signed(c.change_percent)} [CI ${ratioText(lo, digits)}–${ratioText(hi, digits)}]`;
}

function summarise(model: ComparisonModel): void {
  const s = model.summary;
  for (const cell of model.cells) {
    for (const row of cell.rows) {
      const v = row.comparison.verdict;
      if (v === 'better') s.better++;
      else if (v === 'worse') s.worse++;
      else if (v === 'no significant change') s.unchanged++;
      else s.not_enough_samples++;
    }
  }
  s.largest_regression = regressionsOver(model, -Infinity)[0] ?? null;
  const lr = s.largest_regression;
  const worst = lr ? ` (${lr.key} ${lr.row.metric.name} ${changeText(lr.row.comparison)})` : '';
  const parts = [`${s.better} better`, `${s.worse} worse${worst}`, `${s.unchanged} no significant change`];
  if (s.not_enough_samples) parts.push(`${s.not_enough_samples} with too few repetitions (each side needs 2 or more)`);
  const oneSided = [model.only_base.length ? `${model.only_base.length} only in ${model.base_name}` : '', model.only_head.length ? `${model.only_head.length} only in ${model.head_name}` : ''].filter(Boolean);
  s.text = `${model.head_name} vs ${model.base_name}: ${parts.join(', ')}; ${s.cells} ${s.cells === 1 ? 'cell' : 'cells'} compared${oneSided.length ? ` (${oneSided.join(', ')})` : ''}`;
}
