/* The `run` command after its flags are parsed: run every planned cell
 * `repeat` times, aggregate, write results.json after each cell and print a
 * summary. A failing cell is recorded with its reason and the run goes on. */
import { CLIENT_BOUND_PERCENT } from './metrics.js';
import fs from 'node:fs';
import path from 'node:path';
import { cellStem, runRepetition } from './cell.js';
import { profileCell, profilerFor, type ProfileRequest } from '../flamegraphs/profilers.js';
import { runRepetitions } from './repetitions.js';
import { CellPlan, Plan, warmupCell } from './plan.js';
import { endAllProcesses, formatCpus, installCleanupHandlers, Pinning } from './process.js';
import { CellResult, newRunId, unevenLoops, pointLatestAt, ResultsFile, RunOptions, writeJsonAtomic, RESULTS_SCHEMA, RESULTS_VERSION } from './results.js';
import { mergeEncoded, summarize } from './stats.js';
import { environmentWarnings, probeEnvironment } from './environment.js';
import { renderTable } from './table.js';
import { formatCount, formatMiBps, formatMicros, formatSeconds } from './units.js';
import { loadgenArgv, serverArgv } from './cell.js';
import { EXIT_CELL_FAILED, EXIT_INTERRUPTED, EXIT_OK } from './errors.js';
import { appendStepSummary, writeRunReports } from './outputs.js';
import { summaryMarkdown } from '../reports/exports.js';

export interface RunRequest {
  root: string;
  plan: Plan;
  options: RunOptions;
  pinning: Pinning;
  /* --out, or null for results/<run-id>. */
  outDir: string | null;
  /* --profile: one more repetition per cell with a profiler (null: none). */
  profile: ProfileRequest | null;
  /* Why perf cannot record here, when --profile was asked for and it cannot. */
  profileProblem?: string;
  log?: (line: string) => void;
}

const cpuNames = (cpus: number[]) => `CPU${cpus.length > 1 ? 's' : ''} ${formatCpus(cpus)}`;

function cellRecord(cell: CellPlan, pinning: Pinning, verify: boolean, timeoutS: number): CellResult {
  const listen = cell.transport === 'unix' ? 'unix:<temp dir>/s.sock' : 'tcp:127.0.0.1:0';
  return {
    id: cell.id,
    strategy: cell.variant.name,
    mechanism: cell.variant.mechanism,
    scenario: cell.scenario.name,
    protocol: cell.scenario.protocol,
    transport: cell.transport,
    params: cell.params,
    server_params: cell.server,
    client_params: cell.client,
    label: cell.label,
    server_argv: serverArgv(cell, listen, verify),
    loadgen_argv: loadgenArgv(cell, '<server address>', timeoutS, verify),
    cpus: pinning.pinned ? { server: pinning.server, loadgen: pinning.loadgen } : null,
    pinning: pinning.pinned ? `taskset: server on ${cpuNames(pinning.server)}, load generator on ${cpuNames(pinning.loadgen)}` : `unpinned: ${pinning.reason}`,
    status: 'pending',
    client_bound: false,
    warmup_repetitions: [],
    repetitions: [],
    window_stats: null,
    summary: {},
  };
}

function progressLine(m: CellResult['repetitions'][number]): string {
  if (m.status !== 'ok' || !m.metrics) return `${formatSeconds(m.wall_s)}  FAILED: ${(m.error ?? '').split('\n')[0]}`;
  const t = m.metrics.throughput;
  const parts = [formatSeconds(m.metrics.elapsed_ns / 1e9), `${formatCount(t.ops_per_s)} ops/s`];
  if (t.payload_bytes_per_s > 0) parts.push(formatMiBps(t.payload_bytes_per_s));
  if (m.metrics.latency_us) parts.push(`p99 ${formatMicros(m.metrics.latency_us.p99)}`);
  if (m.client_bound) parts.push('client-bound');
  return parts.join('  ');
}

export function summaryTable(cells: CellResult[]): string {
  const med = (c: CellResult, k: string) => c.summary[k]?.median;
  const fixed = (c: CellResult, k: string, digits: number) => med(c, k)?.toFixed(digits) ?? '-';
  const rows = cells.map((c) => {
    const okReps = c.repetitions.filter((r) => r.status === 'ok').length;
    const notes = [
      c.status === 'failed' ? 'FAILED' : '',
      c.status === 'interrupted' ? `interrupted (${okReps} ${okReps === 1 ? 'rep' : 'reps'})` : '',
      c.client_bound ? 'client-bound' : '',
      unevenLoops(c) ? `uneven loops ${unevenLoops(c)}` : '',
      (c.client_params?.threads ?? 1) > 1 ? `loadgen ${c.client_params.threads} threads` : '',
      c.client_params?.wait === 'block' ? 'loadgen wait=block' : '',
    ].filter(Boolean);
    const payload = med(c, 'throughput.payload_bytes_per_s') ?? 0;
    return [
      c.scenario,
      c.transport,
      c.strategy,
      c.label || '-',
      okReps ? formatCount(med(c, 'throughput.ops_per_s')) : '-',
      okReps && payload > 0 ? formatMiBps(payload).replace(' MiB/s', '') : '-',
      fixed(c, 'latency_us.p99', 1),
      fixed(c, 'server.cpu_us_per_op', 2),
      fixed(c, 'server.syscalls_per_op', 2),
      fixed(c, 'server.cpu_percent', 0),
      fixed(c, 'client.busy_percent', 0),
      notes.join(', '),
    ];
  });
  const columns = [
    { header: 'scenario' },
    { header: 'transport' },
    { header: 'strategy' },
    { header: 'point' },
    { header: 'ops/s', align: 'right' as const },
    { header: 'payload MiB/s', align: 'right' as const },
    { header: 'p99 µs', align: 'right' as const },
    { header: 'server CPU µs/op', align: 'right' as const },
    { header: 'server syscalls/op', align: 'right' as const },
    { header: 'server CPU%', align: 'right' as const },
    { header: 'client busy%', align: 'right' as const },
    { header: 'notes' },
  ];
  // The sweep column only when something was swept.
  if (cells.some((c) => c.label)) return renderTable(columns, rows);
  const drop = <T,>(xs: T[]) => xs.filter((_, i) => i !== 3);
  return renderTable(drop(columns), rows.map(drop));
}

/* One more repetition with a profiler watching the server. It is kept apart
 * (cell.profile): a profiler costs CPU, so its window is not a measurement. */
async function profileRepetition(
  req: RunRequest,
  profile: ProfileRequest,
  cell: CellPlan,
  record: CellResult,
  runDir: string,
  head: string,
  log: (l: string) => void,
  stopped: () => NodeJS.Signals | null,
): Promise<void> {
  const which = profilerFor(profile, cell.variant.runtime);
  if (!which) return;
  const profiling = profileCell(profile, which, {
    runtime: cell.variant.runtime,
    title: `${cell.variant.name} · ${cell.scenario.name} · ${cell.transport}${cell.label ? ` · ${cell.label}` : ''}`,
    runDir,
    stem: path.join('flamegraphs', cellStem(cell)),
    root: req.root,
  });
  const r = await runRepetition({
    root: req.root,
    cell,
    rep: 0,
    pinning: req.pinning,
    verifyChecksum: req.options.verify_checksum,
    timeoutS: req.options.timeout_s,
    runDir,
    profiler: profiling.profiler,
  });
  if (stopped() && r.status === 'failed') r.error = `interrupted by ${stopped()}`;
  record.profile = await profiling.finish({ status: r.status, error: r.error, ops: r.metrics?.ops, interrupted: stopped() !== null });
  record.profile.repetition = r;
  const p = record.profile;
  const s = p.summary;
  log(
    p.status === 'ok'
      ? `${head} ${which}${s ? `: ${s.samples} samples, kernel ${s.kernel_frames === false ? '– (no kernel frames)' : `${s.kernel_percent.toFixed(0)}%`}, in the multiplexing call ${s.mux_percent.toFixed(0)}%` : ''} -> ${p.files.html ?? p.files[which] ?? Object.values(p.files)[0] ?? '(no files)'}${which !== 'perf' && p.notes.length ? `\n    ${p.notes.join('\n    ')}` : ''}`
      : `${head} ${which} FAILED: ${(p.error ?? '').split('\n')[0]}`,
  );
}

export async function runMatrix(req: RunRequest): Promise<number> {
  const log = req.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const { plan, options, pinning, root } = req;
  const runId = newRunId();
  const resultsDir = path.join(root, 'results');
  const runDir = path.resolve(req.outDir ?? path.join(resultsDir, runId));
  fs.mkdirSync(runDir, { recursive: true });
  // results/latest follows runs kept in results/; a run sent elsewhere with
  // --out (a CI artifact folder, a test's temp folder) leaves it alone, so it
  // never points at a folder that is about to disappear.
  if (!path.relative(resultsDir, runDir).startsWith('..')) {
    try {
      pointLatestAt(resultsDir, runDir);
    } catch (err) {
      log(`note: could not update results/latest: ${(err as Error).message}`);
    }
  }
  const resultsFile = path.join(runDir, 'results.json');

  const environment = probeEnvironment(root);
  const results: ResultsFile = {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    run_id: runId,
    status: 'running',
    started: new Date().toISOString(),
    finished: null,
    command_line: [...process.argv],
    options,
    environment,
    warnings: environmentWarnings(environment),
    unavailable: plan.unavailable,
    skipped: plan.skipped,
    cells: plan.cells.map((c) => cellRecord(c, pinning, options.verify_checksum, options.timeout_s)),
  };
  let saved = false;
  const save = () => {
    try {
      writeJsonAtomic(resultsFile, results);
      saved = true;
    } catch (err) {
      // Measuring on without saving would lose the work: stop with the reason (exit 1).
      const e = err as NodeJS.ErrnoException;
      const why = e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '').replace(/, \w+( '.*')?$/, '')}` : e.message;
      throw new Error(`cannot write ${resultsFile} (${why}): the run stops${saved ? '; the last complete results.json is kept' : ''}`);
    }
  };
  save();

  // Set by the signal handler; checked between repetitions.
  const stop: { signal: NodeJS.Signals | null } = { signal: null };
  installCleanupHandlers((sig) => {
    stop.signal = sig;
    log(`\n${sig}: ending the running programs (again to force)…`);
    void endAllProcesses();
  });
  // Whoever read our output went away (`muxbench run | head`, or
  // `2>&1 | head`, where stderr is the same pipe): an interruption like
  // Ctrl-C -- the programs are ended, results.json and the report keep what
  // was measured -- instead of a crash on the next write. Later writes to
  // the closed pipe fail the same way and are ignored here.
  const pipeClosed = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' || stop.signal) return;
    stop.signal = 'SIGPIPE';
    process.stderr.write('muxbench: the output pipe was closed: ending the running programs; results.json keeps the finished cells\n');
    void endAllProcesses();
  };
  process.stdout.on('error', pipeClosed);
  process.stderr.on('error', pipeClosed);

  log(`muxbench run ${runId}: ${plan.cells.length} cells x ${options.repeat} repetitions${options.warmup ? ` (+${options.warmup} warm-up)` : ''} -> ${path.relative(process.cwd(), runDir) || '.'}`);
  for (const u of plan.unavailable) log(`skipped ${u.strategy}: ${u.reason}`);
  for (const s of plan.skipped) log(`skipped ${s}`);
  for (const w of results.warnings) log(`warning: ${w}`);
  if (req.profileProblem) log(`profiling: ${req.profileProblem}; the run goes on without perf profiles${req.profile?.node !== 'perf' ? ` (the Node strategy still gets ${req.profile?.node})` : ''}`);
  if (!pinning.pinned) log(`CPU pinning off: ${pinning.reason}`);

  const total = plan.cells.length;
  for (const [i, cell] of plan.cells.entries()) {
    if (stop.signal) break;
    const record = results.cells[i];
    const tty = process.stdout.isTTY && !req.log;
    record.window_stats = await runRepetitions({
      warmup: options.warmup,
      repeat: options.repeat,
      run: async (n, warmup) => {
        const of = warmup ? `warm-up ${n}/${options.warmup}` : `rep ${n}/${options.repeat}`;
        const head = `[${i + 1}/${total}] ${cell.variant.name} ${cell.scenario.name} ${cell.transport}${cell.label ? ` ${cell.label}` : ''} ${of} …`;
        if (tty) process.stdout.write(head + ' ');
        const r = await runRepetition({
          root,
          cell: warmup ? warmupCell(cell) : cell,
          rep: warmup ? -n : n,
          pinning,
          verifyChecksum: options.verify_checksum,
          timeoutS: options.timeout_s,
          runDir,
        });
        if (stop.signal && r.status === 'failed') r.error = `interrupted by ${stop.signal}`;
        if (tty) process.stdout.write(progressLine(r) + '\n');
        else log(`${head} ${progressLine(r)}`);
        return r;
      },
      done: (r, warmup) => (warmup ? record.warmup_repetitions : record.repetitions).push(r),
      stopped: () => stop.signal !== null,
    });
    // A warm-up that failed fails the cell like a measured repetition.
    const warmFailed = record.warmup_repetitions.find((r) => r.status === 'failed');
    const ok = record.repetitions.filter((r) => r.status === 'ok');
    const failed = record.repetitions.find((r) => r.status === 'failed');
    record.status = stop.signal ? 'interrupted' : failed || warmFailed ? 'failed' : 'ok';
    if (failed) record.error = `rep ${failed.rep}: ${failed.error}`;
    else if (warmFailed) record.error = `warm-up: ${warmFailed.error}`;
    record.summary = summarize(ok.map((r) => r.metrics!));
    record.latency_merged_us = mergeEncoded(ok.map((r) => r.latency_hdr));
    // The threading model as the server announced it (the same every repetition).
    const announced = [...record.warmup_repetitions, ...record.repetitions].find((r) => r.server_threads)?.server_threads;
    if (announced) record.threading = announced.model;
    // Judged on the median, like every number in the summary.
    record.client_bound = (record.summary['client.busy_percent']?.median ?? 0) >= CLIENT_BOUND_PERCENT;
    save();
    if (req.profile && record.status === 'ok' && !stop.signal) {
      const head = `[${i + 1}/${total}] ${cell.variant.name} ${cell.scenario.name} ${cell.transport}${cell.label ? ` ${cell.label}` : ''} profile …`;
      await profileRepetition(req, req.profile, cell, record, runDir, head, log, () => stop.signal);
      save();
    }
  }

  results.status = stop.signal ? 'interrupted' : 'finished';
  results.finished = new Date().toISOString();
  save();
  // report.html and the summary as CSV and Markdown next to results.json
  // (also after an interruption: they show what was measured), and the
  // summary on the CI job's page.
  let reports: string[] = [];
  try {
    reports = writeRunReports(results, runDir);
    appendStepSummary(`### muxbench run ${results.run_id} (${results.status})\n\n${summaryMarkdown(results)}`, log);
  } catch (err) {
    log(`note: could not write the report: ${(err as Error).message} (muxbench report ${resultsFile} retries)`);
  }

  const done = results.cells.filter((c) => c.status !== 'pending');
  const profiled = done.filter((c) => c.profile?.status === 'ok');
  if (req.profile) log(`\nprofiles: ${profiled.length} of ${done.length} cells${profiled.length ? ` (flamegraphs in ${path.relative(process.cwd(), path.join(runDir, 'flamegraphs')) || '.'}, linked from the report)` : ''}`);
  for (const c of done.filter((x) => x.profile?.status === 'failed')) log(`profile of ${c.id} failed: ${c.profile!.error}`);
  if (done.length) log('\n' + summaryTable(done));
  const notRun = results.cells.length - done.length;
  if (notRun) log(`\nnot run (interrupted): ${notRun} ${notRun === 1 ? 'cell' : 'cells'}`);
  const failures = done.filter((c) => c.status === 'failed');
  for (const c of failures) log(`\nFAILED ${c.id}: ${c.error}`);
  if (done.some((c) => c.client_bound)) log(`\nclient-bound: the load generator was ≥ ${CLIENT_BOUND_PERCENT}% busy (median; of the CPUs its threads could use); the server may be faster than measured (when the server is near 100% too, both sides are saturated). More load generator threads (--loadgen-threads, with CPUs in --cpus) can lift it.`);
  log(`\nresults: ${resultsFile}`);
  if (reports.length) log(`report:  ${reports[0]}`);
  if (stop.signal) return EXIT_INTERRUPTED;
  // A profile that was asked for and failed is a failure too (perf missing is not: it was never attempted).
  const profileFailed = done.some((c) => c.profile?.status === 'failed');
  return failures.length || profileFailed ? EXIT_CELL_FAILED : EXIT_OK;
}
