/* The run summary as CSV and Markdown (reports/exports.ts), on the small
 * real run of test/fixtures/compare/head.json. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, type ResultsFile } from '../harness/results.js';
import { summaryCsv, summaryMarkdown } from '../reports/exports.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const results = readResults(path.join(REPO, 'test', 'fixtures', 'compare', 'head.json'));
const copy = (r: ResultsFile): ResultsFile => structuredClone(r);

/* RFC 4180 read back: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += ch;
  }
  assert.equal(field + row.join(''), '', 'the file ends with CRLF');
  return rows;
}

test('CSV: a header and one row per cell, with the summary medians unrounded', () => {
  const [header, ...rows] = parseCsv(summaryCsv(results));
  assert.deepEqual(header, [
    'id', 'scenario', 'transport', 'strategy', 'point', 'ops_per_s', 'payload_mib_per_s', 'p50_us', 'p99_us',
    'server_cpu_us_per_op', 'syscalls_per_op', 'server_cpu_percent', 'client_busy_percent', 'status', 'notes',
  ]);
  assert.equal(rows.length, results.cells.length);
  const sources: Record<string, [string, number]> = {
    ops_per_s: ['throughput.ops_per_s', 1],
    payload_mib_per_s: ['throughput.payload_bytes_per_s', 2 ** 20],
    p50_us: ['latency_us.p50', 1],
    p99_us: ['latency_us.p99', 1],
    server_cpu_us_per_op: ['server.cpu_us_per_op', 1],
    syscalls_per_op: ['server.syscalls_per_op', 1],
    server_cpu_percent: ['server.cpu_percent', 1],
    client_busy_percent: ['client.busy_percent', 1],
  };
  for (const [i, cell] of results.cells.entries()) {
    const row = Object.fromEntries(header.map((h, j) => [h, rows[i][j]]));
    assert.equal(row.id, cell.id);
    assert.equal(row.strategy, cell.strategy);
    assert.equal(row.status, 'ok');
    assert.equal(row.notes, 'client-bound');
    for (const [column, [metric, divisor]] of Object.entries(sources)) {
      assert.equal(Number(row[column]), cell.summary[metric].median / divisor, `${cell.id} ${column}`);
    }
  }
});

test('CSV: commas, quotes and line breaks in labels are quoted; absent numbers are empty', () => {
  const r = copy(results);
  r.cells[0].label = 'connections=10, "big"';
  r.cells[1].label = 'two\nlines';
  delete r.cells[1].summary['latency_us.p99'];
  const text = summaryCsv(r);
  assert.ok(text.includes(',"connections=10, ""big""",'), text);
  const rows = parseCsv(text);
  assert.equal(rows.length, r.cells.length + 1);
  assert.equal(rows[1][4], 'connections=10, "big"');
  assert.equal(rows[2][4], 'two\nlines');
  assert.equal(rows[2][8], '');
  assert.ok(rows.every((row) => row.length === rows[0].length));
});

test('Markdown: one row per cell, rounded, the point column only for sweeps', () => {
  const md = summaryMarkdown(results).trimEnd().split('\n');
  assert.equal(md[0], '| scenario | transport | strategy | ops/s | payload MiB/s | p50 | p99 | server CPU µs/op | syscalls/op | server CPU% | client busy% | notes |');
  assert.equal(md.length, 2 + results.cells.length);
  const first = results.cells[0];
  assert.ok(md[2].startsWith(`| ${first.scenario} | ${first.transport} | ${first.strategy} | `), md[2]);
  assert.ok(md[2].endsWith(' | client-bound |'));

  const swept = copy(results);
  swept.cells[0].label = 'connections=10 | <b>';
  swept.cells[0].status = 'failed';
  const lines = summaryMarkdown(swept).trimEnd().split('\n');
  assert.match(lines[0], /\| strategy \| point \| ops\/s \|/);
  assert.ok(lines[2].includes('| connections=10 \\| &lt;b&gt; |'), lines[2]);
  assert.ok(lines[2].endsWith('| FAILED, client-bound |'));
  assert.equal(lines[3].split(' | ')[3], '-', 'no label: "-"');
});

test('CSV: text a spreadsheet would run as a formula is defused; numbers are left alone', () => {
  const r = copy(results);
  r.cells[0].label = '=HYPERLINK("http://x","y")';
  r.cells[0].strategy = '@sum';
  const line = summaryCsv(r).split('\r\n')[1];
  assert.match(line, /,'@sum,/);
  assert.match(line, /,"'=HYPERLINK\(""http:\/\/x"",""y""\)",/);
  assert.doesNotMatch(line, /,'\d/, 'numbers keep their form');
});
