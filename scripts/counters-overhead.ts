/* `npm run bench:counters`: what the servers' syscall counters cost.
 *
 * Every data-path syscall of a strategy goes through a counting wrapper (or,
 * for library strategies, the interposer); `muxbench run --no-counters`
 * turns counting off. This benchmark runs the same cells with counters on
 * and off, alternating which goes first in each round (so drift of the
 * machine falls on both sides), and compares the server's CPU per operation
 * and the throughput with the statistics module of the reports: ratio of
 * medians, bootstrap 95% interval, Welch's t. A benchmark, not a test: it
 * prints what it measured. Exit status 0 when every cell ran, 1 when one
 * failed, 2 for a usage error, 130 on Ctrl-C. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readResults, writeJsonAtomic } from '../harness/results.js';
import { compare, median, Comparison } from '../harness/comparison.js';
import { renderTable } from '../harness/table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(root, 'dist/harness/cli.js');
/* Server cost (lower is better) and rate (higher is better). */
const METRICS = [
  { key: 'server.cpu_us_per_op', label: 'server CPU µs/op', higherIsBetter: false },
  { key: 'throughput.ops_per_s', label: 'ops/s', higherIsBetter: true },
] as const;

const USAGE = `usage: npm run bench:counters [-- options]    (or: node dist/scripts/counters-overhead.js [options])

  --rounds N          rounds; each runs every cell with counters on and off,
                      alternating which goes first (default 5)
  --strategies LIST   (default epoll,io_uring,libuv,libevent)
  --scenarios LIST    (default peer-ping,http-rpc)
  --transports LIST   (default tcp)
  --requests N        round trips per cell (default 200k)
  --out FILE          JSON output (default results/counters-<time>.json)
`;

function usage(msg: string): never {
  process.stderr.write(`bench:counters: ${msg}\n${USAGE}`);
  process.exit(2);
}

function options() {
  let v;
  try {
    v = parseArgs({
      options: {
        rounds: { type: 'string', default: '5' },
        strategies: { type: 'string', default: 'epoll,io_uring,libuv,libevent' },
        scenarios: { type: 'string', default: 'peer-ping,http-rpc' },
        transports: { type: 'string', default: 'tcp' },
        requests: { type: 'string', default: '200k' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const rounds = Number(v.rounds);
  if (!Number.isInteger(rounds) || rounds < 2) usage(`--rounds ${v.rounds}: at least 2 (the comparison needs two values per side)`);
  return { rounds, strategies: v.strategies!, scenarios: v.scenarios!, transports: v.transports!, requests: v.requests!, out: v.out ?? null };
}

let child: ReturnType<typeof spawn> | null = null;
let interrupted = false;

/* One `muxbench run` (one warm-up, one measured repetition per cell); its
 * output folder is a temp folder, read back through the validating reader. */
function runOnce(o: ReturnType<typeof options>, counters: boolean, round: number): Promise<{ samples: Map<string, Record<string, number>>; failed: string[] }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'muxbench-counters-'));
  const argv = [CLI, 'run', '--strategies', o.strategies, '--scenarios', o.scenarios, '--transports', o.transports, '--requests', o.requests, '--repeat', '1', '--warmup', '1', '--out', out];
  if (!counters) argv.push('--no-counters');
  process.stdout.write(`round ${round}/${o.rounds}, counters ${counters ? 'on ' : 'off'} … `);
  return new Promise((resolve, reject) => {
    let stderr = '';
    child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      child = null;
      try {
        if (interrupted) throw new Error('interrupted');
        if (code !== 0 && code !== 1) throw new Error(`muxbench run exited ${code}: ${stderr.trim().slice(-500)}`);
        const results = readResults(out);
        const samples = new Map<string, Record<string, number>>();
        const failed: string[] = [];
        for (const c of results.cells) {
          const id = c.id.replace(/\/counters=off$/, '');
          if (c.status !== 'ok') failed.push(`${id} (counters ${counters ? 'on' : 'off'}): ${c.error}`);
          else samples.set(id, Object.fromEntries(METRICS.map((m) => [m.key, c.summary[m.key].median])));
        }
        process.stdout.write(`${samples.size} cells${failed.length ? `, ${failed.length} FAILED` : ''}\n`);
        resolve({ samples, failed });
      } catch (err) {
        reject(err);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });
  });
}

const fmt = (x: number | null | undefined, digits: number) => (x === null || x === undefined ? '-' : x.toFixed(digits));
const ratioText = (c: Comparison) => (c.ratio === null ? '-' : `${c.ratio.toFixed(3)} [${fmt(c.ci?.[0], 3)}, ${fmt(c.ci?.[1], 3)}]`);

async function main(): Promise<number> {
  const o = options();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      interrupted = true;
      // The harness ends its own servers and load generator on SIGTERM.
      child?.kill('SIGTERM');
    });
  }
  // cell id -> counters on/off -> metric -> values over the rounds
  const data = new Map<string, { on: Record<string, number[]>; off: Record<string, number[]> }>();
  const failures: string[] = [];
  const started = new Date();
  for (let round = 1; round <= o.rounds; round++) {
    const order = round % 2 === 1 ? [true, false] : [false, true];
    for (const counters of order) {
      const { samples, failed } = await runOnce(o, counters, round);
      failures.push(...failed);
      for (const [id, values] of samples) {
        const cell = data.get(id) ?? { on: {}, off: {} };
        data.set(id, cell);
        const side = counters ? cell.on : cell.off;
        for (const [k, v] of Object.entries(values)) (side[k] ??= []).push(v);
      }
    }
  }

  const rows: string[][] = [];
  const record: Record<string, unknown>[] = [];
  for (const [id, cell] of data) {
    const row = [id];
    const entry: Record<string, unknown> = { cell: id, on: cell.on, off: cell.off };
    for (const m of METRICS) {
      const on = cell.on[m.key] ?? [];
      const off = cell.off[m.key] ?? [];
      // head = counters on, base = counters off: the ratio is what counting costs.
      const c = compare(off, on, { higherIsBetter: m.higherIsBetter });
      const digits = m.key.endsWith('per_op') ? 2 : 0;
      row.push(fmt(off.length ? median(off) : null, digits), fmt(on.length ? median(on) : null, digits), ratioText(c), c.significant ? 'yes' : 'no');
      entry[m.key] = c;
    }
    rows.push(row);
    record.push(entry);
  }
  const cols = [{ header: 'cell' }];
  for (const m of METRICS) {
    cols.push({ header: `${m.label} off` }, { header: 'on' }, { header: 'on/off [95% CI]' }, { header: 'signif.' });
  }
  const table = renderTable(cols.map((c, i) => ({ ...c, align: i === 0 ? 'left' : ('right' as const) })), rows);
  process.stdout.write(`\nmedians over ${o.rounds} rounds; on/off = median with counters / median without; 95% bootstrap interval; significant: interval excludes 1 and Welch p < 0.05\n\n${table}\n`);
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);

  const outFile = o.out ?? path.join(root, 'results', `counters-${started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  writeJsonAtomic(outFile, { schema: 'muxbench-counters-overhead', version: 1, started: started.toISOString(), finished: new Date().toISOString(), options: o, table, cells: record, failures });
  const shown = path.relative(process.cwd(), outFile);
  process.stdout.write(`\nresults: ${shown.startsWith('..') ? outFile : shown}\n`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench:counters: ${(err as Error).message}\n`);
    process.exit(interrupted ? 130 : 1);
  },
);
