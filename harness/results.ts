/* The results.json file: a versioned schema that reports and comparisons read.
 * It is rewritten after every cell (atomically: temp file in the same folder,
 * then rename) so an interrupted run still leaves a complete, valid file. */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Params } from './catalog.js';
import type { Consistency, RepetitionMetrics } from './metrics.js';
import type { LatencyUs, Spread } from './stats.js';
import type { WindowStats } from './repetitions.js';
import type { Environment } from './environment.js';
import type { ProfileRecord } from '../flamegraphs/profilers.js';
import { UsageError } from './errors.js';
import { resultsProblems, RESULTS_SCHEMA, RESULTS_VERSION } from './results-schema.js';

export { RESULTS_SCHEMA, RESULTS_VERSION } from './results-schema.js';

export interface Repetition {
  /* 1, 2, ... for measured repetitions; -1, -2, ... for warm-ups. */
  rep: number;
  status: 'ok' | 'failed';
  error?: string;
  /* Wall time of the whole repetition as the harness saw it (start to teardown). */
  wall_s: number;
  metrics?: RepetitionMetrics;
  /* The load generator's latency histogram (ns), HDR-encoded (hdr-histogram-js
   * compressed base64), so a later comparison can merge repetitions and runs. */
  latency_hdr?: string | null;
  consistency?: Consistency;
  client_bound?: boolean;
  client_errors?: string[];
  /* Time the load generator took to open every connection (outside the window). */
  connect_ns?: number;
  /* Teardown trouble that did not invalidate the measurement. */
  warnings?: string[];
  /* Server and load generator stderr, relative to the run folder. */
  logs: { server: string; loadgen: string };
  /* The server's loop threads as it announced them, and the CPU the harness
   * pinned each to (null: not pinned one by one). */
  server_threads?: { model: string; loop_threads: number; cpus: number[] | null; connections?: number[] };
}

export interface CellResult {
  id: string;
  strategy: string;
  mechanism: string;
  scenario: string;
  protocol: string;
  transport: string;
  params: Params;
  /* Server-side parameters: hand-off worker threads (0 = replies built on the
   * loop), loop threads (absent in results from before --threads: 1). */
  server_params: { handoff: number; counters: boolean; threads?: number };
  /* How the server's loop threads shared the work, as the server reported it
   * ("one loop", "loop per thread, SO_REUSEPORT listener per loop", ...). */
  threading?: string;
  /* How the load generator ran: its threads (--loadgen-threads; 1 for scenarios that need one loop). */
  client_params: { threads: number; wait: 'adaptive' | 'block' };
  /* The swept values that tell this cell from others of the same strategy, scenario and transport. */
  label: string;
  server_argv: string[];
  loadgen_argv: string[];
  /* CPUs of the server and the load generator, or null when unpinned (with the reason). */
  cpus: { server: number[]; loadgen: number[] } | null;
  pinning: string;
  /* pending: not run (yet); interrupted: stopped by a signal, summary covers the repetitions done. */
  status: 'ok' | 'failed' | 'pending' | 'interrupted';
  error?: string;
  client_bound: boolean;
  /* Repetitions run before the measured ones (start-up effects: page cache, CPU frequency); not in the statistics. */
  warmup_repetitions: Repetition[];
  repetitions: Repetition[];
  /* tinybench's statistics of the measured windows (mean, sd, relative margin of error); null when the cell did not complete. */
  window_stats: WindowStats | null;
  /* median/min/max over the ok repetitions, by dotted metric path. */
  summary: Record<string, Spread>;
  /* Latency percentiles of all ok repetitions merged into one histogram (µs). */
  latency_merged_us?: LatencyUs | null;
  /* --profile: the profiled repetition (outside the statistics) and what it left. */
  profile?: CellProfile;
}

export interface CellProfile extends ProfileRecord {
  repetition?: Repetition;
}

export interface RunOptions {
  strategies: string[] | null;
  scenarios: string[] | null;
  transports: string[];
  overrides: Params;
  sweeps: Record<string, number[]>;
  handoff: number[];
  /* Server loop threads swept (--threads); absent in older results. */
  threads?: number[];
  counters: boolean;
  loadgen_threads: number;
  loadgen_wait: 'adaptive' | 'block';
  repeat: number;
  warmup: number;
  quick: boolean;
  verify_checksum: boolean;
  timeout_s: number;
  cpus: string;
  /* --profile: how cells were profiled; absent or null when they were not. */
  profile?: { call_graph: string; frequency_hz: number; node: string; perf_problem: string | null } | null;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  version: typeof RESULTS_VERSION;
  run_id: string;
  status: 'running' | 'finished' | 'interrupted';
  started: string;
  finished: string | null;
  command_line: string[];
  options: RunOptions;
  environment: Environment;
  /* Conditions that make the numbers less trustworthy (few CPUs, governor, load at start). */
  warnings: string[];
  /* Strategies not run because their program is missing. */
  unavailable: { strategy: string; reason: string }[];
  /* Combinations the plan left out, one line per reason (--threads with a one-loop strategy, ...); absent in older runs. */
  skipped?: string[];
  cells: CellResult[];
}

/* Sortable and readable: 2026-11-25T12-41-03Z-1a2b (the suffix keeps two runs
 * started in the same second apart). */
/* "87/13" when a server with several loops left some loop under half its
 * fair share of the connections in a measured repetition (the threading
 * model spread them unevenly, so the cell is not really N loops' result),
 * else null. */
export function unevenLoops(c: CellResult): string | null {
  for (const r of c.repetitions) {
    const n = r.status === 'ok' ? r.server_threads?.connections : undefined;
    if (!n || n.length < 2) continue;
    const fair = n.reduce((a, b) => a + b, 0) / n.length;
    if (n.some((x) => x < fair / 2)) return n.join('/');
  }
  return null;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  return `${stamp}-${crypto.randomBytes(2).toString('hex')}`;
}

export function writeJsonAtomic(file: string, data: unknown): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    try {
      fs.writeSync(fd, JSON.stringify(data, null, 2) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    // A full disk: the half-written temp file goes, the previous file stays.
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/* results/latest -> the run folder, as a relative link so the results
 * folder can be moved or archived as a whole. */
export function pointLatestAt(resultsDir: string, runDir: string): void {
  const link = path.join(resultsDir, 'latest');
  const target = path.relative(resultsDir, runDir);
  fs.mkdirSync(resultsDir, { recursive: true });
  // Replace via a temporary link and rename, so "latest" never disappears.
  const tmp = path.join(resultsDir, `.latest.${process.pid}`);
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
}

/* How many schema problems a message lists before "and N more". */
const PROBLEMS_SHOWN = 5;

/* Reads and validates a results file (or a run folder holding one) for the
 * readers (summary, reports, comparisons). Anything a reader cannot trust --
 * missing, not JSON (e.g. truncated), another kind of file, another format
 * version, wrong types -- is a UsageError naming the file: exit status 2. */
export function readResults(fileOrDir: string): ResultsFile {
  let file = fileOrDir;
  try {
    if (fs.statSync(file).isDirectory()) file = path.join(file, 'results.json');
  } catch {
    throw new UsageError(`${fileOrDir}: no such file or folder`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const hint = text.trim().length === 0 ? 'the file is empty' : `${(err as Error).message}; a truncated file (full disk, killed writer) looks like this`;
    throw new UsageError(`${file}: not valid JSON: ${hint}`);
  }
  const problems = resultsProblems(data);
  if (problems.length) {
    const shown = problems.slice(0, PROBLEMS_SHOWN).map((p) => `\n  ${p}`).join('');
    const more = problems.length > PROBLEMS_SHOWN ? `\n  ... and ${problems.length - PROBLEMS_SHOWN} more` : '';
    throw new UsageError(`${file}: not a valid muxbench results file:${shown}${more}`);
  }
  return data as ResultsFile;
}
