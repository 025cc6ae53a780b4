/* Sections 2-5 of the report: per-scenario bar charts, scaling lines for
 * sweeps, latency percentile curves and syscall costs. Each figure is a
 * chart spec plus the table of the numbers it draws. */
import { unevenLoops, type CellResult } from '../harness/results.js';
import { cellName, colourMap, groupBy, labelWithout, measured, med, okReps, parseLabel, sweptParams } from './html-cells.js';
import { CURVE_PERCENTILES, latencyCurve } from './latency.js';
import { HEADLINE_METRICS, type Axis, type Dataset, type Figure, type Group, type Metric, type NextId, type Section } from './model.js';

const byScenarioTransport = (cells: CellResult[]) => groupBy(measured(cells), (c) => `${c.scenario}\0${c.transport}`);
const groupTitle = (c: CellResult) => `${c.scenario} · ${c.transport}`;
const strategyColours = (cells: CellResult[]) => colourMap(cells.map((c) => c.strategy));

/* What the scenario did: each parameter once, or every value it took in a sweep. */
function workload(cells: CellResult[]): string {
  const keys = [...new Set(cells.flatMap((c) => Object.keys(c.params)))];
  const values = keys.map((k) => `${k}=${[...new Set(cells.map((c) => c.params[k]).filter((v) => v !== undefined))].join('/')}`);
  return `Workload: ${values.join(', ')}.`;
}

function notes(c: CellResult): string {
  const uneven = unevenLoops(c);
  return [c.status !== 'ok' ? c.status : '', c.client_bound ? 'client-bound' : '', uneven ? `uneven loops ${uneven}` : ''].filter(Boolean).join(', ');
}

const yAxis = (m: Metric): Axis => (m.fmt === 'us' ? { title: m.title, unit: 'us' } : { title: m.unit });

/* ---- 2. Per scenario: one bar chart per headline metric ------------------ */

function metricFigure(cells: CellResult[], m: Metric, colour: (s: string) => string, nextId: NextId): Figure {
  const withNotes = m.key === 'throughput.ops_per_s';
  const spread = (c: CellResult) => c.summary[m.key] ?? null;
  return {
    title: `${m.title} (${m.unit})`,
    chart: {
      id: nextId(),
      type: 'bar',
      title: `${m.title} (${m.unit})`,
      labels: cells.map(cellName),
      datasets: [
        { label: 'median', kind: 'bar', color: cells.map((c) => colour(c.strategy)), data: cells.map((c) => med(c, m.key)) },
        {
          label: 'min–max over repetitions',
          kind: 'range',
          color: '#222',
          data: cells.map((c) => (spread(c) ? ([spread(c)!.min, spread(c)!.max] as [number, number]) : null)),
        },
      ],
      y: yAxis(m),
    },
    table: {
      columns: [
        { header: 'strategy', fmt: 'text' },
        { header: 'reps', fmt: 'int' },
        { header: 'median', fmt: m.fmt },
        { header: 'min', fmt: m.fmt },
        { header: 'max', fmt: m.fmt },
        ...(withNotes ? [{ header: 'notes', fmt: 'text' as const }] : []),
      ],
      rows: cells.map((c) => [
        cellName(c),
        okReps(c).length,
        med(c, m.key),
        spread(c)?.min ?? null,
        spread(c)?.max ?? null,
        ...(withNotes ? [notes(c)] : []),
      ]),
    },
  };
}

export function metricsSection(all: CellResult[], nextId: NextId): Section {
  const colour = strategyColours(all);
  const groups: Group[] = [...byScenarioTransport(all).values()].map((cells) => ({
    title: groupTitle(cells[0]),
    notes: [workload(cells)],
    figures: HEADLINE_METRICS.map((m) => metricFigure(cells, m, colour, nextId)),
  }));
  return {
    id: 'scenarios',
    title: 'Per scenario',
    intro: ['Bars: the median over the repetitions; the thin dark bar spans their minimum to maximum. Memory is the growth of the server’s RSS while the load generator connected, per connection.'],
    groups,
  };
}

/* ---- 3. Scaling: swept parameter on x, one line per strategy ------------- */

const SCALING_METRICS: readonly Metric[] = [
  { key: 'server.cpu_us_per_op', title: 'Server CPU', unit: 'µs/op', fmt: 'num', higherIsBetter: false },
  { key: 'throughput.ops_per_s', title: 'Throughput', unit: 'ops/s', fmt: 'count', higherIsBetter: true },
  { key: 'latency_us.p99', title: 'p99 latency (median of the repetitions’ p99)', unit: 'µs', fmt: 'us', higherIsBetter: false },
];

function scalingGroup(cells: CellResult[], param: string, nextId: NextId): Group {
  // A line: same strategy and same other label values (say handoff=2), x = the swept value.
  const lines = groupBy(cells.filter((c) => parseLabel(c.label).some(([k]) => k === param)), (c) =>
    [c.strategy, labelWithout(c.label, param)].filter(Boolean).join(' '),
  );
  const xOf = (c: CellResult) => Number(parseLabel(c.label).find(([k]) => k === param)![1]);
  const xs = [...new Set([...lines.values()].flat().map(xOf))].sort((a, b) => a - b);
  // Decades of connections read best on a log axis; handoff=0 cannot be on one.
  const log = xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 10;
  // A colour per line: two lines of one strategy (say at handoff=0 and 2) must differ.
  const colour = colourMap([...lines.keys()]);
  const figures = SCALING_METRICS.map((m): Figure => ({
    title: `${m.title} (${m.unit}) by ${param}`,
    chart: {
      id: nextId(),
      type: 'line',
      title: `${m.title} (${m.unit}) by ${param}`,
      datasets: [...lines].map(([name, cs]) => ({
        label: name,
        kind: 'line',
        color: colour(name),
        dashed: param !== 'handoff' && cs[0].server_params.handoff > 0,
        data: cs
          .filter((c) => med(c, m.key) !== null)
          .map((c) => ({ x: xOf(c), y: med(c, m.key)! }))
          .sort((a, b) => a.x - b.x),
      })),
      x: { title: param, log, ticks: xs.map((x) => ({ value: x, label: String(x) })) },
      y: yAxis(m),
    },
    table: {
      columns: [{ header: param, fmt: 'int' }, ...[...lines.keys()].map((name) => ({ header: name, fmt: m.fmt }))],
      rows: xs.map((x) => [
        x,
        ...[...lines.values()].map((cs) => {
          const c = cs.find((c) => xOf(c) === x);
          return c ? med(c, m.key) : null;
        }),
      ]),
    },
  }));
  return { title: `${groupTitle(cells[0])} · ${param}`, notes: [], figures };
}

export function scalingSection(all: CellResult[], nextId: NextId): Section {
  const groups: Group[] = [];
  for (const cells of byScenarioTransport(all).values()) {
    for (const param of sweptParams(cells)) groups.push(scalingGroup(cells, param, nextId));
  }
  return {
    id: 'scaling',
    title: 'Scaling',
    intro: groups.length
      ? ['Sweeps: the swept parameter on x, the median on y, one line per strategy (dashed: hand-off workers build the replies).']
      : ['Nothing was swept in this run (run with a list, e.g. --connections 10,100,1000, to get scaling charts).'],
    groups,
  };
}

/* ---- 4. Latency percentile curves ----------------------------------------- */

const PCT_LABEL = (p: number) => `p${p}`;
/* 1/(1-p): equal steps per "nine", the usual HDR percentile plot. */
const tailX = (p: number) => Math.round(1 / (1 - p / 100));

export function latencySection(all: CellResult[], nextId: NextId): Section {
  const groups: Group[] = [];
  for (const group of byScenarioTransport(all).values()) {
    // One chart per sweep point (a connection sweep of 11 strategies would
    // draw 40+ curves in one); hand-off cells stay with their plain cell,
    // same colour, dashed.
    const figures = [];
    for (const [point, cells] of groupBy(group, (c) => labelWithout(c.label, 'handoff'))) {
      const base = (c: CellResult) => [c.strategy, labelWithout(c.label, 'handoff')].filter(Boolean).join(' ');
      const order = [...groupBy(cells, base).values()].flat();
      const colour = colourMap(order.map(base));
      const curves = order
        .map((c) => ({ c, curve: latencyCurve(okReps(c).map((r) => r.latency_hdr)) }))
        .filter((x) => x.curve !== null);
      if (!curves.length) continue;
      const positive = curves.every(({ curve }) => curve!.points.every((p) => p.us > 0));
      const title = `Latency by percentile (µs)${point ? ` · ${point}` : ''}`;
      figures.push({
        title,
        chart: {
          id: nextId(),
          type: 'line' as const,
          title,
          datasets: curves.map(({ c, curve }): Dataset => ({
            label: cellName(c),
            kind: 'line',
            color: colour(base(c)),
            dashed: c.server_params.handoff > 0,
            data: curve!.points.map((p) => ({ x: tailX(p.percentile), y: p.us })),
          })),
          x: { title: 'percentile', log: true, ticks: CURVE_PERCENTILES.map((p) => ({ value: tailX(p), label: PCT_LABEL(p) })) },
          // Log when possible: the tail is often 10-100x the median. A zero (sub-µs bulk gaps) forces linear.
          y: { title: 'latency', log: positive, unit: 'us' as const },
        },
        table: {
          columns: [
            { header: 'strategy', fmt: 'text' as const },
            { header: 'samples', fmt: 'count' as const },
            ...CURVE_PERCENTILES.map((p) => ({ header: PCT_LABEL(p), fmt: 'us' as const })),
            { header: 'max', fmt: 'us' as const },
          ],
          rows: curves.map(({ c, curve }) => [cellName(c), curve!.count, ...curve!.points.map((p) => p.us), curve!.max_us]),
        },
      });
    }
    if (figures.length) groups.push({ title: groupTitle(group[0]), notes: [], figures });
  }
  return {
    id: 'latency',
    title: 'Latency percentiles',
    intro: [
      'All repetitions’ HDR histograms merged per cell; x is 1/(1−p) on a log scale, so each “nine” gets equal width. Dashed: hand-off cells, next to the plain cell of the same strategy. What one sample measures depends on the scenario (docs/results-format.md, latency_us).',
    ],
    groups,
  };
}

/* ---- 5. Syscalls, wake-ups ------------------------------------------------ */

const KIND_PREFIX = 'server.syscalls.';
const KIND_COLOURS = colourMap(['read', 'write', 'writev', 'epoll_wait', 'io_uring_enter', 'epoll_ctl', 'poll', 'select', 'accept', 'close', 'other']);

function kindsOf(cells: CellResult[]): string[] {
  const total = new Map<string, number>();
  for (const c of cells) {
    for (const key of Object.keys(c.summary)) {
      const m = /^server\.syscalls\.([^.]+)\.calls_per_op$/.exec(key);
      if (m) total.set(m[1], (total.get(m[1]) ?? 0) + c.summary[key].median);
    }
  }
  // Biggest at the bottom of the stack.
  return [...total].sort((a, b) => b[1] - a[1]).map(([k]) => k);
}

const asyncPerOp = (c: CellResult) => {
  const keys = Object.keys(c.summary).filter((k) => /^server\.async_ops\.[^.]+\.calls_per_op$/.test(k));
  return keys.length ? keys.reduce((sum, k) => sum + c.summary[k].median, 0) : null;
};

function syscallGroup(cells: CellResult[], nextId: NextId): Group | null {
  const counted = cells.filter((c) => med(c, 'server.syscalls_per_op') !== null);
  if (!counted.length) return null;
  const kinds = kindsOf(counted);
  const perKind = (c: CellResult, k: string) => med(c, `${KIND_PREFIX}${k}.calls_per_op`) ?? 0;
  const labels = counted.map(cellName);
  return {
    title: groupTitle(cells[0]),
    notes: [],
    figures: [
      {
        title: 'Syscalls per operation by kind',
        chart: {
          id: nextId(),
          type: 'bar',
          stacked: true,
          title: 'Server syscalls per operation, by kind',
          labels,
          datasets: kinds.map((k) => ({ label: k, kind: 'bar', color: KIND_COLOURS(k), data: counted.map((c) => perKind(c, k)) })),
          y: { title: 'calls/op' },
        },
        table: {
          columns: [
            { header: 'strategy', fmt: 'text' },
            ...kinds.map((k) => ({ header: k, fmt: 'num' as const })),
            { header: 'all syscalls', fmt: 'num' },
            { header: 'in-kernel ops (io_uring)', fmt: 'num' },
          ],
          rows: counted.map((c) => [cellName(c), ...kinds.map((k) => perKind(c, k)), med(c, 'server.syscalls_per_op'), asyncPerOp(c)]),
        },
      },
      {
        title: 'Wake-ups',
        chart: {
          id: nextId(),
          type: 'bar',
          title: 'Wake-ups per operation and events per wake-up',
          labels,
          datasets: [
            { label: 'wake-ups/op', kind: 'bar', color: '#4e79a7', data: counted.map((c) => med(c, 'server.wakeups_per_op')) },
            { label: 'events/wake-up', kind: 'bar', color: '#f28e2b', axis: 'y2', data: counted.map((c) => med(c, 'server.events_per_wakeup')) },
          ],
          y: { title: 'wake-ups/op' },
          y2: { title: 'events/wake-up' },
        },
        table: {
          columns: [
            { header: 'strategy', fmt: 'text' },
            { header: 'wake-ups/op', fmt: 'num' },
            { header: 'events/wake-up', fmt: 'num' },
          ],
          rows: counted.map((c) => [cellName(c), med(c, 'server.wakeups_per_op'), med(c, 'server.events_per_wakeup')]),
        },
      },
    ],
  };
}

export function syscallSection(all: CellResult[], nextId: NextId): Section {
  const groups = [...byScenarioTransport(all).values()].map((cells) => syscallGroup(cells, nextId)).filter((g): g is Group => g !== null);
  return {
    id: 'syscalls',
    title: 'Syscalls and wake-ups',
    intro: [
      'Server system calls per operation by kind (medians per kind, so the stack can differ slightly from the median of the total, which the table gives). io_uring’s in-kernel receives and sends are not syscalls and are listed apart. Cells run with --no-counters are left out.',
    ],
    groups,
  };
}
