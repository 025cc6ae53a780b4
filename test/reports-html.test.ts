/* The HTML report's model and markup, on synthetic results: tables carry the
 * summary medians exactly, the headline picks the right strategy and says
 * when a lead is not significant, sweeps are found, and strings from the
 * results file cannot become markup or script. The browser side is in
 * test/report-browser.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CellResult, ResultsFile } from '../harness/results.js';
import { encodeBuckets, mergeEncoded, summarize } from '../harness/stats.js';
import { RESULTS_SCHEMA, RESULTS_VERSION } from '../harness/results.js';
import { HEADLINE_METRICS, reportModel, type Section } from '../reports/model.js';
import { chartJsSource, renderReport } from '../reports/html.js';
import { latencyCurve } from '../reports/latency.js';
import { sweptParams } from '../reports/html-cells.js';
import { shellQuote } from '../reports/html-run.js';

interface Rep {
  ops: number;
  cpu: number;
  p99: number;
  rss: number;
}

/* A cell as `run` records it, with just the metrics the report reads. */
function cell(strategy: string, reps: Rep[], o: { scenario?: string; label?: string; handoff?: number } = {}): CellResult {
  const scenario = o.scenario ?? 'peer-ping';
  const label = o.label ?? '';
  const repetitions = reps.map((r, i) => ({
    rep: i + 1,
    status: 'ok' as const,
    wall_s: 0.1,
    metrics: {
      throughput: { ops_per_s: r.ops },
      latency_us: { p99: r.p99 },
      server: {
        cpu_us_per_op: r.cpu,
        rss_kb_per_connection: r.rss,
        syscalls_per_op: 2.5,
        syscalls: { read: { calls_per_op: 1 }, write: { calls_per_op: 1 }, epoll_wait: { calls_per_op: 0.5 } },
        wakeups_per_op: 0.5,
        events_per_wakeup: 2 + i,
      },
    } as never,
    // 90 samples near half the p99, 10 at it: a histogram with a tail.
    latency_hdr: encodeBuckets([[r.p99 * 500, 90], [r.p99 * 1000, 10]]),
    logs: { server: '', loadgen: '' },
  }));
  return {
    id: `${strategy}/${scenario}/unix${label ? `/${label.replace(/ /g, ',')}` : ''}`,
    strategy,
    mechanism: strategy,
    scenario,
    protocol: 'peer',
    transport: 'unix',
    params: { connections: 10, requests: 100, depth: 1, active: 10 },
    server_params: { handoff: o.handoff ?? 0, counters: true },
    client_params: { threads: 1, wait: 'adaptive' },
    label,
    server_argv: [],
    loadgen_argv: [],
    cpus: null,
    pinning: 'unpinned',
    status: 'ok',
    client_bound: false,
    warmup_repetitions: [],
    repetitions,
    window_stats: null,
    summary: summarize(repetitions.map((r) => r.metrics)),
  };
}

function results(cells: CellResult[]): ResultsFile {
  return {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    run_id: '2026-11-25T00-00-00Z-test',
    status: 'finished',
    started: '2026-11-25T00:00:00.000Z',
    finished: '2026-11-25T00:00:01.000Z',
    command_line: ['node', 'dist/harness/cli.js', 'run', '--quick'],
    options: {
      strategies: null, scenarios: null, transports: ['unix'], overrides: {}, sweeps: {}, handoff: [0], counters: true,
      loadgen_threads: 1, loadgen_wait: 'adaptive', repeat: 3, warmup: 0, quick: true, verify_checksum: false, timeout_s: 120, cpus: '0,1',
    },
    environment: { kernel: '6.1', arch: 'x64', cpu_model: 'test CPU', cpu_count: 2, cpu_governor: null, node: 'v20', compiler: null, libraries: {}, git: null, load_at_start: 0 },
    warnings: [],
    unavailable: [],
    cells,
  };
}

const reps = (ops: number[], cpu: number[], p99: number[], rss = [4, 4, 4]): Rep[] => ops.map((o, i) => ({ ops: o, cpu: cpu[i], p99: p99[i], rss: rss[i] }));

/* A clearly fastest B, a runner-up C and a slow A. */
const threeWay = () => [
  cell('A', reps([100, 101, 102], [5, 5.1, 4.9], [50, 51, 52], [6, 6, 6])),
  cell('B', reps([150, 149, 151], [3, 3.1, 2.9], [30, 31, 29], [8, 8.1, 8])),
  cell('C', reps([120, 121, 119], [4, 4.1, 3.9], [40, 41, 39], [5, 5, 5.1])),
];

const section = (s: Section[], id: string) => s.find((x) => x.id === id)!;

test('tables show the summary medians exactly, in the model and in the HTML', () => {
  const cells = threeWay();
  const model = reportModel(results(cells));
  const scenarios = section(model.sections, 'scenarios');
  assert.equal(scenarios.groups.length, 1);
  scenarios.groups[0].figures.forEach((fig, i) => {
    const key = HEADLINE_METRICS[i].key;
    assert.deepEqual(
      fig.table.rows.map((r) => r.slice(0, 5)),
      cells.map((c) => [c.strategy, 3, c.summary[key].median, c.summary[key].min, c.summary[key].max]),
      key,
    );
    // The chart draws the same numbers its table lists.
    assert.deepEqual(fig.chart!.datasets[0].data, cells.map((c) => c.summary[key].median));
  });
  const sys = section(model.sections, 'syscalls').groups[0].figures[0];
  assert.deepEqual(sys.table.columns.map((c) => c.header).slice(1, 4), ['read', 'write', 'epoll_wait']);
  assert.deepEqual(sys.table.rows[0].slice(1, 5), [1, 1, 0.5, 2.5]);
  const wake = section(model.sections, 'syscalls').groups[0].figures[1];
  assert.deepEqual(wake.table.rows.map((r) => r[2]), cells.map((c) => c.summary['server.events_per_wakeup'].median));

  const page = renderReport(results(cells));
  for (const c of cells) {
    for (const m of HEADLINE_METRICS) assert.ok(page.includes(`data-v="${c.summary[m.key].median}"`), `${c.strategy} ${m.key}`);
  }
});

test('latency curves merge the repetitions as mergeEncoded does', () => {
  const cells = threeWay();
  const encoded = cells[0].repetitions.map((r) => r.latency_hdr);
  const curve = latencyCurve(encoded)!;
  const merged = mergeEncoded(encoded)!;
  assert.equal(curve.count, merged.count);
  assert.deepEqual(curve.points.slice(0, 4).map((p) => p.us), [merged.p50, merged.p90, merged.p99, merged.p99_9]);
  assert.equal(curve.max_us, merged.max);
  assert.equal(latencyCurve([null, undefined]), null);
  const table = section(reportModel(results(cells)).sections, 'latency').groups[0].figures[0].table;
  assert.deepEqual(table.rows[0], ['A', curve.count, ...curve.points.map((p) => p.us), curve.max_us]);
});

test('the headline picks the best median per metric and tests it against the runner-up', () => {
  const heads = reportModel(results(threeWay())).headlines;
  const by = (metric: string) => heads.find((h) => h.metric === metric)!;
  const ops = by('throughput.ops_per_s');
  assert.equal(ops.best, 'B');
  assert.equal(ops.runnerUp, 'C');
  assert.equal(ops.comparison!.significant, true);
  assert.match(ops.text, /^B: 150 ops\/s, 25\.0% more than C \(120 ops\/s\); significant \(95% CI /);
  // Lower is better for CPU, latency and memory.
  assert.deepEqual([by('server.cpu_us_per_op').best, by('server.cpu_us_per_op').runnerUp], ['B', 'C']);
  assert.deepEqual([by('latency_us.p99').best, by('latency_us.p99').runnerUp], ['B', 'C']);
  const mem = by('server.rss_kb_per_connection');
  assert.deepEqual([mem.best, mem.runnerUp], ['C', 'A']);
  assert.match(by('server.cpu_us_per_op').text, /^B: 3\.00 µs\/op, 25\.0% less than C/);

  // Overlapping repetitions: a lead in the medians, but not a significant one.
  const close = reportModel(results([cell('D', reps([100, 130, 90], [5, 5, 5], [9, 9, 9])), cell('E', reps([105, 95, 125], [5, 5, 5], [9, 9, 9]))])).headlines;
  const closeOps = close.find((h) => h.metric === 'throughput.ops_per_s')!;
  assert.equal(closeOps.best, 'E');
  assert.equal(closeOps.comparison!.significant, false);
  assert.match(closeOps.text, /; not significant$/);
  assert.match(close.find((h) => h.metric === 'latency_us.p99')!.text, /tie at/);

  // One repetition each: nothing to test.
  const single = reportModel(results([cell('F', reps([100], [5], [9])), cell('G', reps([200], [4], [8]))])).headlines;
  assert.match(single.find((h) => h.metric === 'throughput.ops_per_s')!.text, /^G: .*too few repetitions to test$/);

  // Sweep points and hand-off are compared only with their own kind.
  const swept = reportModel(results([cell('A', reps([1, 1, 1], [1, 1, 1], [1, 1, 1]), { label: 'connections=10' }), cell('A', reps([2, 2, 2], [1, 1, 1], [1, 1, 1]), { label: 'connections=100' })])).headlines;
  assert.deepEqual(swept.filter((h) => h.metric === 'throughput.ops_per_s').map((h) => [h.label, h.best, h.runnerUp]), [['connections=10', 'A', null], ['connections=100', 'A', null]]);
});

test('sweeps are detected from the labels and drawn as scaling lines', () => {
  const label = (l: string) => cell('A', reps([1], [1], [1]), { label: l });
  assert.deepEqual(sweptParams([label('connections=10'), label('connections=100')]), ['connections']);
  assert.deepEqual(sweptParams([label('connections=10 handoff=0'), label('connections=10 handoff=2')]), ['handoff']);
  assert.deepEqual(sweptParams([label('counters=off'), label('')]), []);
  assert.deepEqual(sweptParams([label('rate=1000'), label('rate=1000')]), [], 'one value is no sweep');

  const r = (ops: number) => reps([ops, ops, ops], [1, 1, 1], [1, 1, 1]);
  const cells = [10, 100, 1000].flatMap((n) => [cell('epoll', r(n), { label: `connections=${n}` }), cell('select', r(n / 2), { label: `connections=${n}` })]);
  const scaling = section(reportModel(results(cells)).sections, 'scaling');
  assert.deepEqual(scaling.groups.map((g) => g.title), ['peer-ping · unix · connections']);
  const ops = scaling.groups[0].figures.find((f) => f.title.startsWith('Throughput'))!;
  assert.deepEqual(ops.table.columns.map((c) => c.header), ['connections', 'epoll', 'select']);
  assert.deepEqual(ops.table.rows, [[10, 10, 5], [100, 100, 50], [1000, 1000, 500]]);
  assert.equal(ops.chart!.x!.log, true, 'decades of connections on a log axis');
  assert.deepEqual(ops.chart!.datasets[1].data, [{ x: 10, y: 5 }, { x: 100, y: 50 }, { x: 1000, y: 500 }]);

  assert.deepEqual(section(reportModel(results(threeWay())).sections, 'scaling').groups, []);
});

test('strings from the results file are escaped, and chart data cannot close its script', () => {
  const HOSTILE = `<script>window.__pwned=1</script>"'&\u2028`;
  const cells = threeWay();
  cells[0].strategy = HOSTILE;
  cells[0].label = `x=${HOSTILE}`;
  cells[0].id = `${HOSTILE}/peer-ping/unix`;
  cells[1].status = 'failed';
  cells[1].error = `<img src=x onerror="window.__pwned=2">`;
  const file = results(cells);
  file.warnings.push(HOSTILE);
  file.unavailable.push({ strategy: HOSTILE, reason: HOSTILE });
  file.command_line.push(`--label=${HOSTILE}`);
  file.environment.kernel = HOSTILE;
  const page = renderReport(file);

  assert.ok(!page.includes('<script>window.__pwned'), 'no script element from the data');
  assert.ok(!page.includes('<img'), 'no element from the data');
  assert.ok(page.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;&quot;&#39;&amp;'));
  const count = (s: string, sub: string) => s.split(sub).length - 1;
  // Exactly our three script elements: data, chart.js, the report's own.
  assert.equal(count(page, '<script') - count(chartJsSource(), '<script'), 3);

  const json = /<script type="application\/json" id="report-data">([^]*?)<\/script>/.exec(page)![1];
  assert.doesNotMatch(json, /[<>&\u2028\u2029]/);
  const charts = JSON.parse(json).charts as { labels?: string[] }[];
  assert.ok(charts.some((c) => c.labels?.includes(`${HOSTILE} x=${HOSTILE}`)), 'JSON.parse gives the exact name back');

  assert.equal(shellQuote(['run', "it's", 'a b', '--x=1']), `run 'it'\\''s' 'a b' --x=1`);
});

test('chart.js v4 is inlined from node_modules', () => {
  const src = chartJsSource();
  assert.match(src.slice(0, 200), /Chart\.js v4\./);
  assert.doesNotMatch(src, /<\/script/i);
  assert.ok(renderReport(results(threeWay())).includes(src));
});

const EVIL = '<script>alert(1)</script>';

test('profiles: a section only when the run was profiled; numbers from the summary, links through the run folder, hostile paths neutralised', () => {
  const plain = results(threeWay());
  assert.equal(reportModel(plain).sections.find((s) => s.id === 'profiles'), undefined, 'no profiles section without --profile');

  const r = results(threeWay());
  r.options.profile = { call_graph: 'fp', frequency_hz: 999, node: 'perf', perf_problem: null };
  const summary = { samples: 1000, cpu_ms: 1001.001, kernel_frames: true, kernel_percent: 90, user_percent: 10, mux_percent: 12.5, mux_calls: [{ call: 'poll', percent: 12.5 }], top_self: [{ frame: 'tcp_sendmsg_[k]', percent: 7 }] };
  r.cells[0].profile = {
    profiler: 'perf', settings: 's', status: 'ok', window: 'measured', ops: 100_000, summary, notes: [],
    files: { html: 'flamegraphs/A x.html', svg: 'javascript:alert(1)', folded: '/etc/passwd', speedscope: '../../secret.json' },
  };
  r.cells[1].profile = { profiler: 'perf', settings: 's', status: 'failed', error: `perf ${EVIL}`, files: {}, notes: [] };
  // A tool's whole-process profile: no per-operation figure even with ops and a period.
  r.cells[2].profile = {
    profiler: '0x', settings: 's', status: 'ok', window: 'process', ops: 100_000, notes: [],
    // V8 --prof stacks: no kernel frames, so no kernel share either.
    summary: { ...summary, kernel_frames: false, kernel_percent: 0 },
    files: { '0x': 'flamegraphs/c.0x/flamegraph.html', 'PID.clinic-flame/PID.clinic-flame-samples': 'flamegraphs/c.0x/123.clinic-flame/123.clinic-flame-samples' },
  };
  for (const runDirFromReport of ['../run', '']) {
    const s = section(reportModel(r, { runDirFromReport }).sections, 'profiles');
    const rows = s.groups[0].figures[0].table.rows;
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0].slice(0, 6), [r.cells[0].id, 'perf', 1000, 10.01001, 90, 12.5], 'CPU µs/op = cpu_ms × 1000 ÷ ops');
    assert.deepEqual(rows[1].slice(0, 4), [r.cells[1].id, 'perf', null, null], 'a failed profile has no numbers');
    assert.equal(rows[2][3], null, 'no CPU per op for a whole-process profile');
    assert.equal(rows[2][4], null, 'no kernel share for a profile without kernel frames');
    const page = renderReport(r, { runDirFromReport });
    const prefix = runDirFromReport ? `${runDirFromReport}/` : '';
    assert.ok(page.includes(`href="${prefix}flamegraphs/A%20x.html"`), 'relative link through the run folder, encoded');
    assert.ok(page.includes(`href="${prefix}flamegraphs/c.0x/flamegraph.html">0x page<`), "the tool's page, named by the tool");
    assert.ok(page.includes('>123.clinic-flame-samples<'), 'other files go by their own name');
    for (const bad of ['javascript', 'etc/passwd', 'secret.json']) assert.ok(!page.includes(bad), `no link to ${bad}`);
    assert.ok(!page.includes(`perf ${EVIL}`) && page.includes('perf &lt;script&gt;'), 'errors are escaped');
  }
});
