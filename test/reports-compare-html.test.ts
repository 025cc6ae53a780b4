/* compare.html (reports/compare-html.ts) on the two small real runs of
 * test/fixtures/compare: the tables and the chart data against the
 * comparison model, escaping of hostile names, and the page in headless
 * Chromium (playwright-core, as test/report-browser.test.ts): no errors,
 * every chart drew, hostile names show as text and never run. The browser
 * part is skipped only where /usr/bin/chromium is missing. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, tempRoot } from './harness-fixture.js';
import { CHROMIUM, HOSTILE, openPage } from './browser-fixture.js';
import { readResults, type ResultsFile } from '../harness/results.js';
import { changeText, compareRuns, type ComparisonModel } from '../reports/compare.js';
import { renderCompare, type CompareChartSpec } from '../reports/compare-html.js';
import { escapeHtml } from '../reports/html-escape.js';
import { formatMetric } from '../reports/markdown.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'compare');
const base = readResults(path.join(FIXTURES, 'base.json'));
const head = readResults(path.join(FIXTURES, 'head.json'));

/* epoll renamed to the hostile string, and every cell labelled with it (ids to match, so the runs still pair up). */
function hostile(r: ResultsFile): ResultsFile {
  const h = structuredClone(r);
  for (const c of h.cells) {
    if (c.strategy === 'epoll') c.strategy = HOSTILE;
    c.label = `x=${HOSTILE}`;
    c.id = `${c.strategy}/${c.scenario}/${c.transport}/${c.label}`;
  }
  return h;
}

interface ParsedRow {
  key: string;
  cells: { attrs: Record<string, string>; text: string }[];
}

/* The comparison tables of a page, by metric path: rows of <td> with their data-* attributes. Keys and texts stay escaped. */
function tables(page: string): Map<string, ParsedRow[]> {
  const out = new Map<string, ParsedRow[]>();
  for (const [, metric, body] of page.matchAll(/<table data-metric="([^"]+)">(.*?)<\/table>/gs)) {
    const rows: ParsedRow[] = [];
    for (const [, key, tr] of body.matchAll(/<tr data-key="([^"]*)"[^>]*>(.*?)<\/tr>/gs)) {
      const cells = [...tr.matchAll(/<td([^>]*)>(.*?)<\/td>/gs)].map(([, a, text]) => ({
        attrs: Object.fromEntries([...a.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, k, v]) => [k, v])),
        text,
      }));
      rows.push({ key, cells });
    }
    out.set(metric, rows);
  }
  return out;
}

function chartData(page: string): CompareChartSpec[] {
  const m = /<script type="application\/json" id="compare-data">(.*?)<\/script>/s.exec(page);
  assert.ok(m, 'the chart data block');
  return JSON.parse(m[1]).charts;
}

const finiteOrNull = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null);

/* Every number of every table and chart against the model. */
function checkAgainstModel(model: ComparisonModel, page: string): void {
  const parsed = tables(page);
  const charts = chartData(page);
  const metrics = [...new Set(model.cells.flatMap((c) => c.rows.map((r) => r.metric.path)))];
  assert.equal(parsed.size, metrics.length, 'a table per metric measured');
  assert.equal(charts.length, metrics.length, 'a chart per metric measured');
  assert.equal((page.match(/<canvas /g) ?? []).length, charts.length);
  for (const [i, path] of metrics.entries()) {
    const rows = model.cells.flatMap((cell) => cell.rows.filter((r) => r.metric.path === path).map((row) => ({ cell, row })));
    const got = parsed.get(path)!;
    assert.deepEqual(got.map((r) => r.key), rows.map(({ cell }) => escapeHtml(cell.key)), path);
    const chart = charts[i];
    assert.deepEqual(chart.labels, rows.map(({ cell }) => cell.key));
    for (const [j, { row }] of rows.entries()) {
      const [, reps, b, h, change, welch, verdict] = got[j].cells;
      const c = row.comparison;
      const where = `${path} ${rows[j].cell.key}`;
      assert.equal(reps.text, `${c.n_base}/${c.n_head}`, where);
      assert.equal(Number(b.attrs['data-v']), row.base_median, where);
      assert.equal(b.text, escapeHtml(formatMetric(row.metric, row.base_median)), where);
      assert.equal(Number(h.attrs['data-v']), row.head_median, where);
      assert.equal(h.text, escapeHtml(formatMetric(row.metric, row.head_median)), where);
      assert.equal(Number(change.attrs['data-v']), c.change_percent, where);
      assert.equal(change.text, escapeHtml(changeText(c)), where);
      assert.equal(Number(change.attrs['data-ci-lo']), c.ci![0], where);
      assert.equal(Number(change.attrs['data-ci-hi']), c.ci![1], where);
      assert.equal(Number(welch.attrs['data-v']), c.p_welch, where);
      assert.ok(verdict.text.endsWith(c.verdict), where);
      // What the chart draws: the ratio and the CI, the same numbers.
      assert.equal(chart.ratio[j], finiteOrNull(c.ratio), where);
      assert.deepEqual(chart.ci[j], c.ci, where);
    }
  }
}

test('compare.html: the tables and the chart data carry the model numbers', () => {
  const model = compareRuns(base, head);
  const page = renderCompare(model);
  checkAgainstModel(model, page);
  assert.equal(tables(page).get('throughput.ops_per_s')!.length, 4);
  assert.ok(page.includes(`<p class="summary" id="summary">${escapeHtml(model.summary.text)}</p>`));
  assert.ok(page.includes(model.base_run) && page.includes(model.head_run), 'the two run ids');
  assert.match(page, /<h3>Only in head \([^)]*\)<\/h3><ul><li>poll\/http-rpc\/unix<\/li><li>poll\/peer-ping\/unix<\/li><\/ul>/);
  assert.ok(page.includes('epoll/http-rpc/unix: base client-bound, head client-bound'), 'the notes');
  assert.ok(!/<script src=|<link |https?:\/\/(?!www\.w3\.org)/.test(page.replace(/<script>[^]*?<\/script>/g, '')), 'nothing loaded from the network');
  // The widest CI of the fixtures (epoll/peer-ping wake-ups, 0.09–6.36) puts its chart on a log axis; the rest stay linear.
  const charts = chartData(page);
  assert.deepEqual(charts.filter((c) => c.log).map((c) => c.title.split(':')[0]), ['wakeups/op']);
  for (const c of charts) assert.ok(c.min <= 1 && c.max >= 1, `${c.title}: 1 on the axis`);
});

test('compare.html: a ratio over a median of 0 is not drawn and reads "up from 0"', () => {
  const b = structuredClone(base);
  for (const rep of b.cells[0].repetitions) rep.metrics!.server.wakeups_per_op = 0;
  const model = compareRuns(b, head);
  const page = renderCompare(model);
  const row = tables(page).get('server.wakeups_per_op')!.find((r) => r.key === b.cells[0].id)!;
  assert.match(row.cells[4].text, /^up from 0/);
  const chart = chartData(page).find((c) => c.title.startsWith('wakeups/op'))!;
  const i = chart.labels.indexOf(b.cells[0].id);
  assert.equal(chart.ratio[i], null);
  assert.equal(chart.ci[i], null);
  assert.ok(Number.isFinite(chart.min) && Number.isFinite(chart.max));
});

test('compare.html: hostile strategy names and labels are escaped everywhere', () => {
  const hb = hostile(base);
  const hh = hostile(head);
  for (const model of [compareRuns(hb, hh), compareRuns(hb, hh, { baseStrategy: HOSTILE, headStrategy: 'io_uring' })]) {
    const page = renderCompare(model);
    assert.ok(!page.includes('<script>window.__pwned'), 'no raw hostile tag');
    // Outside the scripts (chart.js's source has such quotes; the JSON block has them as \" and a harmless ').
    assert.ok(!page.replace(/<script[^>]*>[^]*?<\/script>/g, '').includes(`"'`), 'no raw quotes from the file in the markup');
    assert.ok(page.includes(escapeHtml(HOSTILE)), 'shown escaped');
    assert.ok(page.includes('\\u003cscript\\u003ewindow.__pwned=1\\u003c/script\\u003e'), 'escaped in the chart JSON');
    checkAgainstModel(model, page);
  }
  const strategies = renderCompare(compareRuns(hb, hh, { baseStrategy: HOSTILE, headStrategy: 'io_uring' }));
  assert.ok(strategies.includes(`<title>muxbench compare: io_uring vs ${escapeHtml(HOSTILE)}</title>`));
  assert.ok(strategies.includes(`<th>${escapeHtml(HOSTILE)}</th>`));
});


test('compare.html draws every chart in headless Chromium and keeps hostile names inert', { timeout: 60_000 }, async (t: TestContext) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    return;
  }
  const dir = tempRoot();
  const hb = hostile(base);
  const hh = hostile(head);
  const pages: [string, ComparisonModel][] = [
    ['plain', compareRuns(base, head)],
    ['hostile-runs', compareRuns(hb, hh)],
    ['hostile-strategies', compareRuns(hb, hh, { baseStrategy: HOSTILE, headStrategy: 'io_uring' })],
  ];
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    for (const [name, model] of pages) {
      const file = path.join(dir, `${name}.html`);
      fs.writeFileSync(file, renderCompare(model));
      const seen = await openPage(browser, file, 10_000);
      assert.deepEqual(seen.errors, [], name);
      // All eight compared metrics are measured in these cells.
      assert.equal(seen.canvases, 8, name);
      assert.equal(seen.drawn, seen.canvases, name);
      assert.deepEqual(seen.blank, [], name);
      assert.equal(seen.pwned, undefined, `${name}: a name from the results file ran as script`);
      assert.ok(seen.text.includes(model.summary.text), `${name}: the summary`);
      if (name === 'plain') continue;
      const key = model.cells.find((c) => c.key.includes(HOSTILE))?.key;
      assert.ok(key, name);
      assert.ok(seen.text.includes(key), `${name}: the hostile cell key shows as text`);
    }
    assert.ok(pages[2][1].summary.text.includes(`vs ${HOSTILE}:`));
  } finally {
    await browser.close();
  }
});
