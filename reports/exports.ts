/* The run summary (the table `muxbench run` prints) as CSV for spreadsheets
 * and scripts, and as a Markdown table to paste (like hyperfine's
 * --export-markdown). Medians over the ok repetitions, as in the summary. */
import { unevenLoops, type CellResult, type ResultsFile } from '../harness/results.js';
import { formatCount, formatMicros } from '../harness/units.js';
import { escapeMarkdown, formatSignificant } from './markdown.js';

const MIB = 2 ** 20;

interface Column {
  csv: string;
  markdown: string;
  /* The median (or derived number) for the cell; null when absent. */
  value: (c: CellResult) => number | null;
  /* Rounded for reading; the CSV keeps the full value. */
  format: (v: number) => string;
}

const med = (k: string) => (c: CellResult) => c.summary[k]?.median ?? null;
const fixed = (digits: number) => (v: number) => v.toFixed(digits);

const NUMBERS: Column[] = [
  { csv: 'ops_per_s', markdown: 'ops/s', value: med('throughput.ops_per_s'), format: formatCount },
  {
    csv: 'payload_mib_per_s',
    markdown: 'payload MiB/s',
    value: (c) => {
      const v = med('throughput.payload_bytes_per_s')(c);
      return v === null ? null : v / MIB;
    },
    // No payload (0) reads as absent, as in the terminal summary; the CSV keeps the 0.
    format: (v) => (v === 0 ? '-' : v.toFixed(1)),
  },
  // formatMicros picks µs or ms: the unit stays with each value.
  { csv: 'p50_us', markdown: 'p50', value: med('latency_us.p50'), format: (v) => formatMicros(v) },
  { csv: 'p99_us', markdown: 'p99', value: med('latency_us.p99'), format: (v) => formatMicros(v) },
  { csv: 'server_cpu_us_per_op', markdown: 'server CPU µs/op', value: med('server.cpu_us_per_op'), format: fixed(2) },
  { csv: 'syscalls_per_op', markdown: 'syscalls/op', value: med('server.syscalls_per_op'), format: formatSignificant },
  { csv: 'server_cpu_percent', markdown: 'server CPU%', value: med('server.cpu_percent'), format: fixed(0) },
  { csv: 'client_busy_percent', markdown: 'client busy%', value: med('client.busy_percent'), format: fixed(0) },
];

/* The same notes as the terminal summary (harness/run.ts summaryTable). */
function notes(c: CellResult): string[] {
  const okReps = c.repetitions.filter((r) => r.status === 'ok').length;
  return [
    c.status === 'failed' ? 'FAILED' : '',
    c.status === 'interrupted' ? `interrupted (${okReps} ${okReps === 1 ? 'rep' : 'reps'})` : '',
    c.status === 'pending' ? 'not run' : '',
    c.client_bound ? 'client-bound' : '',
    unevenLoops(c) ? `uneven loops ${unevenLoops(c)}` : '',
    (c.client_params?.threads ?? 1) > 1 ? `loadgen ${c.client_params.threads} threads` : '',
    c.client_params?.wait === 'block' ? 'loadgen wait=block' : '',
  ].filter(Boolean);
}

/* RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/* Text from the results file that a spreadsheet would run as a formula
 * (=, +, -, @ first) gets a leading apostrophe, as OWASP advises for CSV. */
function text(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/* One row per cell; numbers unrounded (JavaScript's shortest round-trip
 * form), empty when absent. CRLF line ends, as RFC 4180 says. */
export function summaryCsv(results: ResultsFile): string {
  const header = ['id', 'scenario', 'transport', 'strategy', 'point', ...NUMBERS.map((n) => n.csv), 'status', 'notes'];
  const rows = results.cells.map((c) => [
    text(c.id),
    text(c.scenario),
    text(c.transport),
    text(c.strategy),
    text(c.label),
    ...NUMBERS.map((n) => {
      const v = n.value(c);
      return v === null ? '' : String(v);
    }),
    c.status,
    text(notes(c).join('; ')),
  ]);
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/* A GitHub-flavoured Markdown table, rounded like the terminal summary;
 * the point column only when something was swept. */
export function summaryMarkdown(results: ResultsFile): string {
  const swept = results.cells.some((c) => c.label);
  const header = ['scenario', 'transport', 'strategy', ...(swept ? ['point'] : []), ...NUMBERS.map((n) => n.markdown), 'notes'];
  const align = [':--', ':--', ':--', ...(swept ? [':--'] : []), ...NUMBERS.map(() => '--:'), ':--'];
  const rows = results.cells.map((c) => [
    escapeMarkdown(c.scenario),
    escapeMarkdown(c.transport),
    escapeMarkdown(c.strategy),
    ...(swept ? [escapeMarkdown(c.label) || '-'] : []),
    ...NUMBERS.map((n) => {
      const v = n.value(c);
      return v === null ? '-' : n.format(v);
    }),
    escapeMarkdown(notes(c).join(', ')),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(align), ...rows.map(line)].join('\n') + '\n';
}
