/* The comparison model (reports/compare.ts) and its Markdown (reports/markdown.ts)
 * on two small real runs, trimmed (test/fixtures/compare/base.json: epoll and
 * io_uring, peer-ping and http-rpc over unix sockets, 3 quick repetitions;
 * head.json: the same plus poll). Synthetic changes are made on copies here.
 * UPDATE_GOLDEN=1 rewrites compare.md from the current output (check it by eye). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, type ResultsFile } from '../harness/results.js';
import { UsageError } from '../harness/errors.js';
import { compareRuns, regressionsOver, type ComparisonModel } from '../reports/compare.js';
import { COMMENT_LIMIT, compareMarkdown, escapeMarkdown } from '../reports/markdown.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'compare');
// readResults validates the schema: the fixtures must stay valid results files.
const base = readResults(path.join(FIXTURES, 'base.json'));
const head = readResults(path.join(FIXTURES, 'head.json'));
const copy = (r: ResultsFile): ResultsFile => structuredClone(r);

const rowsOf = (m: ComparisonModel, metric: string) => m.cells.flatMap((c) => c.rows.filter((r) => r.metric.path === metric));

function scale(r: ResultsFile, group: 'server' | 'throughput', key: string, factor: number): ResultsFile {
  for (const c of r.cells) for (const rep of c.repetitions) (rep.metrics![group] as unknown as Record<string, number>)[key] *= factor;
  return r;
}

test('two runs: cells matched by id, cells of one side listed', () => {
  const m = compareRuns(base, head);
  assert.equal(m.mode, 'runs');
  assert.deepEqual(m.cells.map((c) => c.key).sort(), base.cells.map((c) => c.id).sort());
  for (const c of m.cells) assert.equal(c.base_id, c.head_id);
  assert.deepEqual(m.only_base, []);
  assert.deepEqual(m.only_head.sort(), ['poll/http-rpc/unix', 'poll/peer-ping/unix']);
  assert.equal(m.summary.cells, 4);
  // Every metric of the list is present in these cells (peer-ping and http-rpc have payload, latency, counters).
  assert.equal(m.cells[0].rows.length, 8);
  assert.equal(m.cells[0].rows[0].base.length, 3);
  assert.match(m.summary.text, /^head vs base: \d+ better, \d+ worse.*, \d+ no significant change; 4 cells compared \(2 only in head\)$/);

  const fewer = copy(head);
  fewer.cells = fewer.cells.filter((c) => c.id !== 'epoll/peer-ping/unix');
  const m2 = compareRuns(base, fewer);
  assert.deepEqual(m2.only_base, ['epoll/peer-ping/unix']);
  assert.equal(m2.summary.cells, 3);
});

test('merged latency of each side: the histograms of the ok repetitions', () => {
  const m = compareRuns(base, head);
  for (const c of m.cells) {
    assert.deepEqual(c.latency.base, base.cells.find((x) => x.id === c.base_id)!.latency_merged_us);
    assert.deepEqual(c.latency.head, head.cells.find((x) => x.id === c.head_id)!.latency_merged_us);
  }
});

test('strategy mode: one file or two, cells matched by scenario/transport/label', () => {
  const m = compareRuns(head, head, { baseStrategy: 'epoll', headStrategy: 'poll' });
  assert.equal(m.mode, 'strategies');
  assert.deepEqual(m.cells.map((c) => c.key).sort(), ['http-rpc/unix', 'peer-ping/unix']);
  for (const c of m.cells) {
    assert.match(c.base_id, /^epoll\//);
    assert.match(c.head_id, /^poll\//);
  }
  assert.match(m.summary.text, /^poll vs epoll: /);

  const across = compareRuns(base, head, { baseStrategy: 'io_uring', headStrategy: 'poll' });
  assert.equal(across.cells.length, 2);
  // One strategy named: that strategy in both runs.
  const one = compareRuns(base, head, { baseStrategy: 'epoll' });
  assert.deepEqual(one.cells.map((c) => [c.base_id, c.head_id]).sort(), [
    ['epoll/http-rpc/unix', 'epoll/http-rpc/unix'],
    ['epoll/peer-ping/unix', 'epoll/peer-ping/unix'],
  ]);
});

function throwsUsage(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

test('incompatible inputs are usage errors that say why', () => {
  const v3 = copy(head);
  (v3 as { version: number }).version = 3;
  throwsUsage(() => compareRuns(base, v3), /different format versions \(base muxbench-results v2, head muxbench-results v3\)/);

  const rpc = copy(base);
  rpc.cells = rpc.cells.filter((c) => c.scenario === 'http-rpc');
  const ping = copy(head);
  ping.cells = ping.cells.filter((c) => c.scenario === 'peer-ping');
  throwsUsage(() => compareRuns(rpc, ping), /no cell in common between base and head: base has epoll\/http-rpc\/unix, io_uring\/http-rpc\/unix; head has .*poll\/peer-ping\/unix/);

  const bigger = copy(head);
  const cell = bigger.cells.find((c) => c.id === 'io_uring/http-rpc/unix')!;
  const requests = cell.params.requests;
  cell.params.requests = requests * 2;
  throwsUsage(() => compareRuns(base, bigger), new RegExp(`io_uring/http-rpc/unix was measured with different workload parameters: requests ${requests} vs ${requests * 2}`));

  throwsUsage(() => compareRuns(base, head, { baseStrategy: 'kqueue', headStrategy: 'epoll' }), /--base-strategy kqueue: not in the base results .*it has: epoll, io_uring/);
  throwsUsage(() => compareRuns(base, base, { baseStrategy: 'epoll', headStrategy: 'poll' }), /--head-strategy poll: not in the head results/);
  throwsUsage(() => compareRuns(head, head, { baseStrategy: 'epoll', headStrategy: 'epoll' }), /nothing to compare/);
  throwsUsage(() => compareRuns(base, head, { headStrategy: 'poll' }), /^--head-strategy poll: not in the base results/);
});

test('a clear regression is "worse" and counted against the threshold; an unchanged copy is not', () => {
  const slower = scale(copy(base), 'server', 'cpu_us_per_op', 1.5);
  const m = compareRuns(base, slower);
  const cpu = rowsOf(m, 'server.cpu_us_per_op');
  assert.equal(cpu.length, 4);
  for (const r of cpu) {
    assert.equal(r.comparison.verdict, 'worse');
    assert.ok(Math.abs(r.regression_percent! - 50) < 1e-9, `${r.regression_percent}`);
  }
  // The other metrics are the same values: no change.
  assert.equal(m.summary.worse, 4);
  assert.equal(m.summary.better, 0);
  assert.equal(m.summary.unchanged, 28);
  assert.deepEqual(regressionsOver(m, 10).map((r) => r.row.metric.path), Array(4).fill('server.cpu_us_per_op'));
  assert.deepEqual(regressionsOver(m, 60), []);
  assert.match(m.summary.text, /^head vs base: 0 better, 4 worse \(\S+ server CPU\/op \+50\.0% \[CI 1\.\d+–1\.\d+\]\), 28 no significant change; 4 cells compared$/);

  // For a higher-is-better metric a fall is the regression, in positive percent.
  const fewerOps = compareRuns(base, scale(copy(base), 'throughput', 'ops_per_s', 0.8));
  for (const r of rowsOf(fewerOps, 'throughput.ops_per_s')) {
    assert.equal(r.comparison.verdict, 'worse');
    assert.ok(Math.abs(r.regression_percent! - 20) < 1e-9);
  }
  const faster = compareRuns(base, scale(copy(base), 'server', 'cpu_us_per_op', 0.5));
  assert.ok(rowsOf(faster, 'server.cpu_us_per_op').every((r) => r.comparison.verdict === 'better'));
  assert.deepEqual(regressionsOver(faster, 0), []);

  const same = compareRuns(base, copy(base));
  assert.ok(same.cells.every((c) => c.rows.every((r) => r.comparison.verdict === 'no significant change')));
  assert.equal(same.summary.largest_regression, null);
  assert.match(same.summary.text, /^head vs base: 0 better, 0 worse, 32 no significant change; 4 cells compared$/);
});

test('absent metrics are skipped; one repetition is too few', () => {
  const h = copy(base);
  const cell = h.cells[0];
  for (const rep of cell.repetitions) rep.metrics!.latency_us = null;
  cell.repetitions = cell.repetitions.slice(0, 1);
  const m = compareRuns(base, h);
  const c = m.cells.find((x) => x.key === cell.id)!;
  assert.deepEqual(c.rows.map((r) => r.metric.path).filter((p) => p.startsWith('latency')), []);
  assert.ok(c.rows.every((r) => r.comparison.verdict === 'not enough samples'));
  assert.match(m.summary.text, /, 6 with too few repetitions \(each side needs 2 or more\);/);
  // Some metrics judged: the Markdown says no significant change.
  assert.match(compareMarkdown(m), /\n\nNo significant change\.\n/);
  // Nothing judged at all (one repetition everywhere): it says so instead.
  const one = copy(base);
  for (const x of one.cells) x.repetitions = x.repetitions.slice(0, 1);
  assert.match(compareMarkdown(compareRuns(one, one)), /Nothing could be judged: each side needs at least 2 repetitions/);
});

test('compareMarkdown of the fixtures matches the golden file', () => {
  const md = compareMarkdown(compareRuns(base, head));
  const golden = path.join(FIXTURES, 'compare.md');
  if (process.env.UPDATE_GOLDEN) fs.writeFileSync(golden, md);
  assert.equal(md, fs.readFileSync(golden, 'utf8'));
});

/* Pipes that end table cells: those not escaped with a backslash. */
const cellPipes = (line: string) => line.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length - 1;

test('hostile names and labels are escaped in the Markdown', () => {
  const evil = 'ev|il<script>alert(1)</script>`x`*_[y](z)';
  const b = copy(base);
  const h = copy(head);
  for (const r of [b, h]) {
    for (const c of r.cells.filter((x) => x.strategy === 'epoll')) {
      c.strategy = evil;
      c.label = 'a|b <img src=x>';
      c.id = `${evil}/${c.scenario}/${c.transport}/${c.label}`;
    }
  }
  const outputs = [compareMarkdown(compareRuns(b, h)), compareMarkdown(compareRuns(b, h, { baseStrategy: evil }))];
  for (const md of outputs) {
    assert.ok(!md.includes('<script>') && !md.includes('<img'), md);
    assert.ok(md.includes('ev\\|il&lt;script&gt;alert(1)&lt;/script&gt;\\`x\\`\\*\\_\\[y\\](z)'), md);
    assert.ok(!/(^|[^\\])`/.test(md), 'an unescaped backtick');
    // Every row of a table has as many cells as its header: a pipe in a name adds none.
    let header = 0;
    for (const line of md.split('\n')) {
      if (!line.startsWith('|')) header = 0;
      else if (!header) header = cellPipes(line);
      else assert.equal(cellPipes(line), header, line);
    }
  }
  assert.equal(escapeMarkdown('a|b'), 'a\\|b');
  assert.equal(escapeMarkdown('<b>`x`</b>\nnext'), '&lt;b&gt;\\`x\\`&lt;/b&gt; next');
});

test('a comparison too big for a pull request comment keeps the summary and the significant rows, and says where the rest is', () => {
  // 80 copies of each cell (different ids), head's CPU per op 30% up: every copy regresses.
  const widen = (r: ResultsFile) => {
    const w = copy(r);
    w.cells = Array.from({ length: 80 }, (_, i) => r.cells.map((c) => ({ ...structuredClone(c), id: `${c.id}/copy=${i}`, label: `copy=${i}` }))).flat();
    return w;
  };
  const md = compareMarkdown(compareRuns(widen(base), widen(scale(base, 'server', 'cpu_us_per_op', 1.3))));
  assert.ok(md.length <= COMMENT_LIMIT, `${md.length} characters`);
  assert.match(md, /^\*\*head vs base: 0 better, \d+ worse/);
  assert.match(md, /do not fit a pull request comment: see compare\.html/);
  assert.match(md, /\| server CPU\/op \| [^|]+ \| [^|]+ \| \+30\.0%/);
});
