/* The HTML report as plain data: sections of figures, each a chart spec and
 * the table of every number the chart shows. reports/html.ts only renders
 * this, so tests check the numbers here without a browser. Numbers are raw
 * (summary medians as stored); formatting happens at render time. */
import type { ResultsFile } from '../harness/results.js';
import type { Comparison } from '../harness/comparison.js';
import type { Fmt } from './html-cells.js';
import { headlines, headlineSection } from './html-headline.js';
import { latencySection, metricsSection, scalingSection, syscallSection } from './html-figures.js';
import { environmentSection, problemsSection } from './html-run.js';
import { profilesSection } from './html-profiles.js';

export type { Fmt } from './html-cells.js';
/* Links to files next to the report (flamegraphs), relative to the report. */
export interface Links {
  links: { text: string; href: string }[];
}
export type Value = string | number | null | Links;

export interface Column {
  header: string;
  fmt: Fmt;
}

export interface Table {
  columns: Column[];
  rows: Value[][];
}

export interface Point {
  x: number;
  y: number;
}

export interface Dataset {
  label: string;
  /* bar: a value per category; range: [min, max] per category (drawn as a
   * thin floating bar over the median: the spread over repetitions);
   * line: {x, y} points. */
  kind: 'bar' | 'range' | 'line';
  /* One colour, or one per category (bars coloured by strategy). */
  color: string | string[];
  data: (number | null)[] | ([number, number] | null)[] | Point[];
  /* The right-hand axis (y2), for a second unit in one chart. */
  axis?: 'y' | 'y2';
  dashed?: boolean;
}

export interface Axis {
  title: string;
  log?: boolean;
  /* 'us': tick labels in µs, ms or s as the magnitude needs. */
  unit?: 'us';
  /* Fixed ticks with their labels (the percentile axis). */
  ticks?: { value: number; label: string }[];
}

export interface ChartSpec {
  /* Canvas id: generated, never taken from the results file. */
  id: string;
  type: 'bar' | 'line';
  stacked?: boolean;
  title: string;
  /* Categories of a bar chart. */
  labels?: string[];
  datasets: Dataset[];
  x?: Axis;
  y: Axis;
  y2?: Axis;
}

export interface Figure {
  title: string;
  chart: ChartSpec | null;
  table: Table;
  note?: string;
}

export interface Group {
  title: string;
  notes: string[];
  /* Preformatted text (the command line). */
  code?: string;
  figures: Figure[];
}

export interface Section {
  id: string;
  title: string;
  intro: string[];
  groups: Group[];
}

export interface Metric {
  key: string;
  title: string;
  unit: string;
  fmt: Fmt;
  higherIsBetter: boolean;
}

/* The four headline metrics, also the per-scenario bar charts. */
export const HEADLINE_METRICS: readonly Metric[] = [
  { key: 'throughput.ops_per_s', title: 'Throughput', unit: 'ops/s', fmt: 'count', higherIsBetter: true },
  { key: 'server.cpu_us_per_op', title: 'Server CPU', unit: 'µs/op', fmt: 'num', higherIsBetter: false },
  { key: 'latency_us.p99', title: 'p99 latency (median of the repetitions’ p99)', unit: 'µs', fmt: 'us', higherIsBetter: false },
  { key: 'server.rss_kb_per_connection', title: 'Memory', unit: 'KiB/connection', fmt: 'num', higherIsBetter: false },
];

export interface Headline {
  scenario: string;
  transport: string;
  label: string;
  metric: string;
  /* Strategy with the best median; null when no cell measured the metric. */
  best: string | null;
  bestMedian: number | null;
  runnerUp: string | null;
  runnerUpMedian: number | null;
  /* compare(runner-up's repetitions, best's repetitions); null without a runner-up. */
  comparison: Comparison | null;
  /* The best or the runner-up cell was client-bound (throughput and latency only). */
  clientBound: boolean;
  text: string;
}

export interface ReportModel {
  title: string;
  subtitle: string;
  headlines: Headline[];
  sections: Section[];
}

/* Hands out canvas ids in document order. */
export type NextId = () => string;

export interface ReportOptions {
  /* The run folder as seen from the report's folder ('' when they are the same): files of the run are linked through it. */
  runDirFromReport?: string;
}

export function reportModel(results: ResultsFile, opts: ReportOptions = {}): ReportModel {
  let n = 0;
  const nextId: NextId = () => `chart-${++n}`;
  const heads = headlines(results.cells);
  const sections = [
    headlineSection(heads),
    metricsSection(results.cells, nextId),
    scalingSection(results.cells, nextId),
    latencySection(results.cells, nextId),
    syscallSection(results.cells, nextId),
    ...profilesSection(results, opts.runDirFromReport ?? ''),
    problemsSection(results),
    environmentSection(results),
  ];
  const done = results.cells.filter((c) => c.status === 'ok').length;
  return {
    title: `muxbench report: run ${results.run_id}`,
    subtitle: `${results.status}; ${done} of ${results.cells.length} cells ok; started ${results.started}${results.finished ? `, finished ${results.finished}` : ''}`,
    headlines: heads,
    sections,
  };
}

/* Every chart of the model, for the renderer's JSON block. */
export function chartsOf(model: ReportModel): ChartSpec[] {
  return model.sections.flatMap((s) => s.groups.flatMap((g) => g.figures.flatMap((f) => (f.chart ? [f.chart] : []))));
}
