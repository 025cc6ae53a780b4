/* Section 1 of the report: per scenario, transport and sweep point, the
 * strategy with the best median for each headline metric and how far ahead
 * of the runner-up it is, with compare()'s verdict on the repetitions. */
import type { CellResult } from '../harness/results.js';
import { compare, DEFAULT_MIN_EFFECT_PERCENT } from '../harness/comparison.js';
import { formatValue, groupBy, measured, med, repValues } from './html-cells.js';
import { HEADLINE_METRICS, type Headline, type Metric, type Section } from './model.js';

/* Client-bound cells understate the server's throughput and overstate its latency. */
const CLIENT_SENSITIVE = new Set(['throughput.ops_per_s', 'latency_us.p99']);

export function headlines(cells: CellResult[]): Headline[] {
  const groups = groupBy(measured(cells), (c) => `${c.scenario}\0${c.transport}\0${c.label}`);
  const out: Headline[] = [];
  for (const group of groups.values()) {
    for (const metric of HEADLINE_METRICS) out.push(headline(group, metric));
  }
  return out;
}

function headline(group: CellResult[], m: Metric): Headline {
  const { scenario, transport, label } = group[0];
  const ranked = group
    .filter((c) => med(c, m.key) !== null && repValues(c, m.key).length > 0)
    .sort((a, b) => (m.higherIsBetter ? med(b, m.key)! - med(a, m.key)! : med(a, m.key)! - med(b, m.key)!));
  const [best, runner] = ranked;
  const h: Headline = {
    scenario,
    transport,
    label,
    metric: m.key,
    best: best?.strategy ?? null,
    bestMedian: best ? med(best, m.key) : null,
    runnerUp: runner?.strategy ?? null,
    runnerUpMedian: runner ? med(runner, m.key) : null,
    comparison: runner ? compare(repValues(runner, m.key), repValues(best, m.key), { higherIsBetter: m.higherIsBetter, minEffectPercent: DEFAULT_MIN_EFFECT_PERCENT }) : null,
    clientBound: CLIENT_SENSITIVE.has(m.key) && [best, runner].some((c) => c?.client_bound),
    text: '',
  };
  h.text = headlineText(h, m);
  return h;
}

const pct = (x: number) => `${x.toFixed(1)}%`;

export function headlineText(h: Headline, m: Metric): string {
  if (h.best === null || h.bestMedian === null) return '–';
  // formatMicros names its own unit (µs, ms, s).
  const value = (v: number) => (m.fmt === 'us' ? formatValue(m.fmt, v) : `${formatValue(m.fmt, v)} ${m.unit}`);
  const bound = h.clientBound ? ' [client-bound]' : '';
  const lead = `${h.best}: ${value(h.bestMedian)}`;
  const c = h.comparison;
  if (!c || h.runnerUp === null || h.runnerUpMedian === null) return `${lead} (the only strategy)${bound}`;
  if (h.bestMedian === h.runnerUpMedian) return `${h.best} and ${h.runnerUp} tie at ${value(h.bestMedian)}${bound}`;
  // A ratio of values at or below zero (memory can shrink) says nothing.
  if (h.bestMedian <= 0 || h.runnerUpMedian <= 0) {
    return `${lead}; ${h.runnerUp}: ${value(h.runnerUpMedian)}; no ratio (values ≤ 0)${bound}`;
  }
  const ratio = c.ratio!;
  const dir = m.higherIsBetter ? 'more' : 'less';
  // "how much better" in the metric's own direction, and the interval likewise.
  const gain = (r: number) => (m.higherIsBetter ? r - 1 : 1 - r) * 100;
  let verdict: string;
  if (c.verdict === 'not enough samples') verdict = 'too few repetitions to test';
  else if (!c.significant) verdict = 'not significant';
  else {
    const [lo, hi] = c.ci!.map(gain).sort((a, b) => a - b);
    verdict = `significant (95% CI ${pct(lo)} to ${pct(hi)})`;
  }
  return `${lead}, ${pct(gain(ratio))} ${dir} than ${h.runnerUp} (${value(h.runnerUpMedian)}); ${verdict}${bound}`;
}

export function headlineSection(heads: Headline[]): Section {
  // The "point" column only when something was swept or handed off, as in the run's summary table.
  const points = heads.some((h) => h.label);
  const rows = [...groupBy(heads, (h) => `${h.scenario}\0${h.transport}\0${h.label}`).values()].map((hs) => [
    hs[0].scenario,
    hs[0].transport,
    ...(points ? [hs[0].label] : []),
    ...HEADLINE_METRICS.map((m) => hs.find((h) => h.metric === m.key)?.text ?? '–'),
  ]);
  return {
    id: 'headline',
    title: 'Headline',
    intro: [
      'Best strategy by median over the repetitions, and its lead over the runner-up. “Significant” means compare() found the difference real: the bootstrap 95% interval of the ratio of medians excludes 1 and Welch’s t-test agrees (p < 0.05), and the lead is at least 1% (a smaller one is called not significant); the interval is given as the lead in percent.',
      '[client-bound]: the load generator was the bottleneck for the best or the runner-up, so the server may be faster than measured.',
    ],
    groups: [
      {
        title: 'Verdict per scenario',
        notes: [],
        figures: [
          {
            title: 'Best strategy per metric',
            chart: null,
            table: {
              columns: [
                { header: 'scenario', fmt: 'text' },
                { header: 'transport', fmt: 'text' },
                ...(points ? [{ header: 'point', fmt: 'text' as const }] : []),
                ...HEADLINE_METRICS.map((m) => ({ header: `${m.title} (${m.unit})`, fmt: 'text' as const })),
              ],
              rows,
            },
          },
        ],
      },
    ],
  };
}
