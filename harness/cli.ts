#!/usr/bin/env node
/* muxbench: the one command line of the workbench.
 *
 *   muxbench run     run the benchmark matrix and write results/<run-id>/results.json
 *   muxbench profile a short run of a few cells with flamegraphs of their servers
 *   muxbench summary print the summary table of a results.json (validated)
 *   muxbench report  write report.html, summary.csv and summary.md of a run
 *   muxbench compare compare two runs (or two strategies) with confidence intervals
 *   muxbench list    show the strategies and scenarios found in the repository
 *   muxbench serve   run one strategy's server for curl, wrk, ab or the load generator
 *
 * Exit codes (for CI): 0 every cell ok, 1 some cell failed, 2 usage or input
 * error (bad flag, unknown name, invalid manifest, programs not built). */
import fs from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadCatalog, findExecutable, TRANSPORTS, Catalog, StrategyVariant } from './catalog.js';
import { errorMessage, EXIT_CELL_FAILED, EXIT_USAGE, UsageError } from './errors.js';
import { LOADGEN_COMMAND, repoRoot } from './paths.js';
import { checkNames, LOADGEN_WAITS, LoadgenWait, splitList } from './plan.js';
import { endAllProcesses } from './process.js';
import { summaryTable } from './run.js';
import { runCommand, MAX_SERVER_THREADS, type RunArgs } from './run-command.js';
import { readResults } from './results.js';
import { appendStepSummary, prepareOutputFolder, writeCompareOutputs, writeRunReports } from './outputs.js';
import { compareRuns, gateProblems } from '../reports/compare.js';
import { serve } from './serve.js';
import { renderTable } from './table.js';
import { formatBytes, parseCount, parseSeconds, parseSize } from './units.js';
import type { Params } from './catalog.js';
import { CALL_GRAPHS, DEFAULT_PERF, type CallGraph } from '../flamegraphs/perf.js';
import { PROFILERS, type ProfilerName } from '../flamegraphs/profilers.js';
import { diffComparedCells } from '../flamegraphs/compare-diff.js';

const root = repoRoot();

function packageVersion(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/* Runs a command body; turns thrown errors into a message and an exit code. */
async function guarded(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`muxbench: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else {
      // The message says what failed; the stack is for debugging muxbench itself.
      const detail = err instanceof Error && process.env.MUXBENCH_DEBUG ? (err.stack ?? err.message) : errorMessage(err);
      process.stderr.write(`muxbench: ${detail}\n`);
      process.exitCode = 1;
    }
  } finally {
    // Whatever happened, no child outlives the command.
    await endAllProcesses();
  }
}

/* serve --threads: only a strategy that has a threading model takes it. */
function checkServeThreads(variant: StrategyVariant, threads: number | undefined): number {
  if (threads === undefined || threads === 1) return 1;
  if (!variant.threads) throw new UsageError(`--threads ${threads}: ${variant.name} runs one loop (strategies with a threading model: muxbench list)`);
  if (threads > MAX_SERVER_THREADS) throw new UsageError(`--threads ${threads}: at most ${MAX_SERVER_THREADS} loop threads`);
  return threads;
}

function describeParams(p: Params): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${k === 'bytes' || k === 'chunk' ? formatBytes(v).replace(' ', '') : v}`)
    .join(' ');
}

function listCommand(catalog: Catalog, json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify({ strategies: catalog.strategies, scenarios: catalog.scenarios }, null, 2) + '\n');
    return 0;
  }
  // The mechanism is a sentence or two: below the table, not a column hundreds of characters wide.
  const strategyRows = catalog.strategies.map((v) => [v.name, v.protocols.join(','), v.transports.join(','), v.threads ? 'N' : '1', v.available ? 'yes' : `no: ${v.unavailableReason}`]);
  const scenarioRows = catalog.scenarios.map((s) => [s.name, s.protocol, s.operation, describeParams(s.defaults)]);
  const loadgenOk = findExecutable(LOADGEN_COMMAND, root) !== null;
  const out = [
    'Strategies (strategies/*/strategy.json):',
    renderTable([{ header: 'name' }, { header: 'protocols' }, { header: 'transports' }, { header: 'loops' }, { header: 'available' }], strategyRows),
    '',
    ...catalog.strategies.map((v) => `${v.name}: ${v.mechanism}`),
    '',
    ...(catalog.strategies.some((v) => v.threads)
      ? ['Loop threads (--threads N; the strategies with N above):', ...catalog.strategies.filter((v) => v.threads).map((v) => `${v.name}: ${v.threads}`), '']
      : []),
    ...catalog.strategies.flatMap((v) => Object.entries(v.limitations).map(([k, why]) => `${v.name}, known limitation (${k}): ${why}`)),
    '',
    `Load generator (${LOADGEN_COMMAND}): ${loadgenOk ? 'yes' : 'not built: run npm run build'}`,
    '',
    'Scenarios (scenarios/*.json):',
    renderTable([{ header: 'name' }, { header: 'protocol' }, { header: 'operation' }, { header: 'defaults' }], scenarioRows),
    '',
    ...catalog.scenarios.map((s) => `${s.name}: ${s.summary}${Object.keys(s.quick).length ? ` (--quick: ${describeParams(s.quick)})` : ''}`),
  ];
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

function reportCommand(file: string, out: string | undefined): number {
  const results = readResults(file);
  const from = fs.statSync(file).isDirectory() ? file : path.dirname(file);
  if (out) prepareOutputFolder(out);
  const files = writeRunReports(results, out ? path.resolve(out) : from, from);
  for (const f of files) process.stdout.write(`wrote ${shownPath(f)}\n`);
  return 0;
}

interface CompareArgs {
  base: string;
  head: string;
  baseStrategy?: string;
  headStrategy?: string;
  baseThreads?: number;
  headThreads?: number;
  failOnRegression?: number;
  minEffect?: number;
  out?: string;
  flamegraphs: boolean;
}

/* Relative to the current folder when inside it, else absolute. */
function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

/* The folder of a results.json given as a file or as its folder. */
function runFolder(arg: string): string {
  const p = path.resolve(arg);
  return fs.statSync(p).isDirectory() ? p : path.dirname(p);
}

function compareCommand(argv: CompareArgs): number {
  const base = readResults(path.resolve(argv.base));
  const head = readResults(path.resolve(argv.head));
  const model = compareRuns(base, head, { baseStrategy: argv.baseStrategy, headStrategy: argv.headStrategy, baseThreads: argv.baseThreads, headThreads: argv.headThreads, minEffectPercent: argv.minEffect });
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const dir = argv.out ? path.resolve(argv.out) : path.join(root, 'results', `compare-${stamp}`);
  prepareOutputFolder(dir, argv.out ? '--out' : 'the comparison folder');
  if (argv.flamegraphs) {
    model.flamegraphs = diffComparedCells(model, { results: base, dir: runFolder(argv.base) }, { results: head, dir: runFolder(argv.head) }, dir);
  }
  const { markdown, files } = writeCompareOutputs(model, dir);
  const log = (line: string) => process.stdout.write(line + '\n');
  log(model.summary.text);
  for (const f of files) log(`wrote ${shownPath(f)}`);
  for (const f of model.flamegraphs ?? []) log(f.files ? `wrote ${shownPath(path.join(dir, f.files.html))}` : `no differential flamegraph for ${f.key}: ${f.problem}`);
  appendStepSummary(markdown, log);
  if (argv.failOnRegression === undefined) return 0;
  const problems = gateProblems(model, argv.failOnRegression);
  if (!problems.length) return 0;
  log(`\n--fail-on-regression ${argv.failOnRegression}%: the gate trips on`);
  for (const p of problems) log(`  ${p}`);
  return EXIT_CELL_FAILED;
}

function summaryCommand(file: string): number {
  const results = readResults(file);
  const out: string[] = [`run ${results.run_id} (${results.status}), started ${results.started}: ${results.command_line.slice(2).join(' ') || '(defaults)'}`];
  for (const w of results.warnings) out.push(`warning: ${w}`);
  for (const u of results.unavailable) out.push(`skipped ${u.strategy}: ${u.reason}`);
  const done = results.cells.filter((c) => c.status !== 'pending');
  out.push('', done.length ? summaryTable(done) : 'no cell was run');
  const notRun = results.cells.length - done.length;
  if (notRun) out.push('', `not run: ${notRun} ${notRun === 1 ? 'cell' : 'cells'}`);
  for (const c of done.filter((c) => c.status === 'failed')) out.push('', `FAILED ${c.id}: ${c.error}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

/* yargs `coerce` helpers: errors become usage errors with the flag named. */
const size = (flag: string) => (v: unknown) => (v === undefined ? undefined : parseSize(String(v), `--${flag}`));
/* "5" or "5%" -> 5 (a percentage, 0 or more). */
const percent = (flag: string) => (v: unknown) => {
  if (v === undefined) return undefined;
  const n = Number(String(v).replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${flag}: "${String(v)}" is not a percentage (e.g. 5 or 5%)`);
  return n;
};
const count = (flag: string) => (v: unknown) => (v === undefined ? undefined : parseCount(String(v), `--${flag}`));
/* "10,100,1k" (or the flag repeated) -> [10, 100, 1000], duplicates dropped, order kept. */
const list = (flag: string, parse: (text: string, what: string) => number) => (v: unknown) => {
  const items = splitList(v);
  if (v === undefined) return undefined;
  if (!items) throw new UsageError(`--${flag}: give one value or a comma-separated list`);
  return [...new Set(items.map((x) => parse(x, `--${flag}`)))];
};
const countList = (flag: string, allowZero = false) => list(flag, (t, w) => parseCount(t, w, { allowZero }));
const sizeList = (flag: string) => list(flag, (t, w) => parseSize(t, w));

/* The flags of `run` (and of `profile`, which is a run of one cell). */
const RUN_OPTIONS = {
  'strategies': { type: 'string', describe: 'Comma list of strategy variants (default: all that are built)' },
  'scenarios': { type: 'string', describe: 'Comma list of scenarios (default: all)' },
  'transports': { type: 'string', describe: `Comma list of transports: ${TRANSPORTS.join(',')} (default: both)` },
  'connections': { type: 'string', describe: "Connections per cell (overrides the scenario's value); a list sweeps, e.g. 10,100,1000,10000", coerce: countList('connections') },
  'active': { type: 'string', describe: "How many of the connections work (default: the scenario's, usually all); the rest stay connected and idle", coerce: count('active') },
  'depth': { type: 'string', describe: 'Requests in flight per active connection (peer-ping, peer-idle, http-rpc, peer-relay)', coerce: count('depth') },
  'message-size': { type: 'string', describe: 'Ping payload bytes (peer-ping, peer-idle; default 8 = the nonce); a list sweeps, e.g. 128,512,1000', coerce: sizeList('message-size') },
  'rate': { type: 'string', describe: 'Open loop: total operations per second sent on a fixed schedule, latency from the intended send time (peer-ping, peer-idle, http-rpc); a list sweeps', coerce: countList('rate') },
  'handoff': { type: 'string', describe: "Worker threads that build every reply and wake the strategy's loop (0 = none); a list sweeps, e.g. 0,4", coerce: countList('handoff', true) },
  'threads': { type: 'string', describe: 'Server loop threads, 1..64 (default 1); a list sweeps, e.g. 1,2. Above 1 only strategies with a threading model run (muxbench list: loops N), and peer-relay and --handoff cells keep one loop; each loop thread is pinned to one of the server\'s CPUs in turn (docs/threads.md)', coerce: countList('threads') },
  'requests': { type: 'string', describe: 'Requests/round trips in total, e.g. 200k', coerce: count('requests') },
  'bytes': { type: 'string', describe: 'Bytes to transfer in bulk scenarios, e.g. 1G, 64M', coerce: size('bytes') },
  'chunk': { type: 'string', describe: 'Piece size in bulk scenarios, e.g. 64K', coerce: size('chunk') },
  'repeat': { type: 'string', describe: 'Repetitions per cell (default 3, or 1 with --quick)', coerce: count('repeat') },
  'warmup': { type: 'string', describe: 'Warm-up repetitions per cell before the measured ones, kept out of the statistics (default 1, or 0 with --quick)', coerce: (v: unknown) => (v === undefined ? undefined : parseCount(String(v), '--warmup', { allowZero: true })) },
  'quick': { type: 'boolean', default: false, describe: 'Small workloads (each scenario\'s "quick" values) for a fast check' },
  'out': { type: 'string', describe: 'Output folder (default results/<run-id>; results/latest follows runs under results/)' },
  'verify-checksum': { type: 'boolean', default: false, describe: 'Peer protocol: verify SHA256d of every payload (models a node\'s CPU cost)' },
  'counters': { type: 'boolean', default: true, describe: "Count the servers' syscalls; --no-counters turns counting off, to measure what counting costs (syscall metrics are then absent)" },
  'timeout': { type: 'string', default: '120', describe: 'Seconds allowed for the work of one repetition', coerce: (v: unknown) => parseSeconds(String(v), '--timeout') },
  'cpus': { type: 'string', describe: 'Pinning with taskset: SERVER_CPU,LOADGEN_CPU (default 0,1 when the machine has 2+ CPUs), SERVER_CPUS/LOADGEN_CPUS as lists (e.g. 0/1-3), or none' },
  'loadgen-wait': { choices: LOADGEN_WAITS, default: 'adaptive' as LoadgenWait, describe: "How the load generator waits: adaptive polls and naps (1% of the latency) while latency is over 0.5 ms, so the server's writes do not pay for waking it (as with a client on another machine); block always sleeps in epoll_wait" },
  'loadgen-threads': { type: 'string', describe: 'Load generator threads, each with its own epoll loop and a share of the connections (default 1); add some when cells are client-bound, with CPUs for them in --cpus', coerce: count('loadgen-threads') },
} as const;

const PROFILE_OPTIONS = {
  profile: { type: 'boolean', default: false, describe: 'After the measured repetitions of each cell, one more with a profiler on the server (kept out of the statistics): folded stacks, flamegraph HTML and SVG, speedscope JSON in <run>/flamegraphs/, linked from the report' },
  'call-graph': { choices: CALL_GRAPHS, default: 'fp' as CallGraph, describe: 'How perf walks stacks: fp (frame pointers: cheap; frames inside system libraries built without them may be cut short) or dwarf (unwinds any code, with more overhead and bigger files)' },
  'profile-frequency': { type: 'string', describe: `perf samples per second of CPU (default ${DEFAULT_PERF.frequencyHz})`, coerce: (v: unknown) => (v === undefined ? undefined : parseCount(String(v), '--profile-frequency')) },
  'node-profiler': { choices: PROFILERS, default: 'perf' as ProfilerName, describe: "Profiler of the Node strategy: perf (with V8's perf map; the measured window only, comparable with the native servers), 0x (its flamegraph of the whole process: perf of every thread with kernel frames where perf works, else V8 --prof), clinic-flame or clinic-doctor (docs/profiling-node.md)" },
} as const;

const cli = yargs(hideBin(process.argv))
  .scriptName('muxbench')
  .usage('$0 <command> [options]\n\nBenchmark I/O multiplexing strategies on identical peer-to-peer and HTTP workloads.')
  .epilog(
    [
      'Examples:',
      '  muxbench list',
      '  muxbench run --quick',
      '  muxbench run --strategies epoll --scenarios peer-ping --transports unix',
      '  muxbench summary results/latest',
      '  muxbench serve epoll --protocol http',
      '',
      'Exit status: 0 all cells ok, 1 some cell (or requested profile) failed or results.json could not be written, 2 usage error or programs not built, 130 interrupted (Ctrl-C, SIGTERM, closed output pipe). See docs/faults.md.',
    ].join('\n'),
  )
  .command(
    'run',
    'Run the benchmark matrix (strategies x scenarios x transports) and write results.json',
    (y) =>
      y
        .usage(
          '$0 run [options]\n\nStarts each strategy\'s server and the load generator on loopback, measures the fixed work of each scenario ' +
            'between two counter snapshots, repeats, and writes results/<run-id>/results.json (results/latest points at it).\n' +
            'Sizes take binary suffixes (512K, 64M, 1G = 1GiB); counts take decimal ones (20k, 1M).',
        )
        .options(RUN_OPTIONS)
        .options(PROFILE_OPTIONS)
        // Examples in the epilog rather than .example(): yargs wraps example
        // commands mid-way, and these should stay copy-pasteable.
        .epilog(
          [
            'Examples:',
            '  muxbench run --quick',
            '      every built strategy and scenario, small workloads, one repetition',
            '  muxbench run --strategies epoll --scenarios peer-ping --transports unix',
            '      one strategy, one scenario, unix sockets only',
            '  muxbench run --scenarios peer-block --bytes 256M --chunk 64K --repeat 5',
            '      a bulk transfer of a chosen size, five repetitions',
            '  muxbench run --scenarios peer-idle --connections 100,1000,10000',
            '      a connection sweep: how each strategy scales with idle peers',
            '  muxbench run --scenarios http-rpc --handoff 4',
            '      replies built by 4 worker threads; shows each wake-up design\'s latency',
            '  muxbench run --scenarios peer-ping --rate 20k --message-size 128,1000',
            '      open loop at 20,000 pings/s, two message sizes',
            '  muxbench run --scenarios http-rpc --loadgen-threads 3 --cpus 0/1-3',
            '      server on CPU 0, a 3-thread load generator on CPUs 1-3 (for client-bound cells)',
            '',
            'Exit status: 0 all cells ok, 1 some cell (or requested profile) failed or results.json could not be written, 2 usage error or programs not built, 130 interrupted (Ctrl-C, SIGTERM, closed output pipe). See docs/faults.md.',
          ].join('\n'),
        ),
    (argv) => guarded(() => runCommand(root, argv as unknown as RunArgs)),
  )
  .command(
    'profile <strategies> <scenarios>',
    'Profile strategies on a scenario: a short run (1 repetition, TCP) and one profiled repetition per cell; flamegraphs linked from the report',
    (y) =>
      y
        .usage(
          '$0 profile <strategies> <scenarios> [options]\n\n`muxbench run --profile` for a few cells, with defaults for a quick look: --repeat 1, --warmup 0, --transports tcp. ' +
            'Every run flag works here. The profiled repetition is not in the statistics: the profiler costs CPU.',
        )
        .options(RUN_OPTIONS)
        .options(PROFILE_OPTIONS)
        // After the run flags, so these descriptions and defaults are the ones shown.
        .positional('strategies', { type: 'string', demandOption: true, describe: 'Strategy variant, or a comma list (e.g. poll,io_uring)' })
        .positional('scenarios', { type: 'string', demandOption: true, describe: 'Scenario, or a comma list' })
        .option('transports', { type: 'string', describe: `Comma list of transports: ${TRANSPORTS.join(',')} (default here: tcp)` })
        .option('repeat', { ...RUN_OPTIONS.repeat, describe: 'Measured repetitions per cell (default here: 1)' })
        .option('warmup', { ...RUN_OPTIONS.warmup, describe: 'Warm-up repetitions per cell (default here: 0)' })
        .hide('profile')
        .epilog(
          [
            'Examples:',
            '  muxbench profile epoll peer-ping',
            '      flamegraph of the epoll server answering pings (perf, cpu-clock, measured window only)',
            '  muxbench profile poll,io_uring peer-ping --out results/pp',
            '  muxbench compare results/pp results/pp --base-strategy poll --head-strategy io_uring --flamegraphs',
            '      where io_uring saves CPU per ping compared with poll: a differential flamegraph',
            '  muxbench profile node http-rpc --node-profiler 0x',
            '      the Node strategy under 0x (also clinic-flame, clinic-doctor)',
            '  muxbench profile libuv peer-block --call-graph dwarf',
            '      DWARF unwinding: complete stacks through libraries built without frame pointers',
          ].join('\n'),
        ),
    (argv) => {
      const a = argv as unknown as RunArgs;
      return guarded(() =>
        runCommand(root, { ...a, profile: true, transports: a.transports ?? 'tcp', repeat: a.repeat ?? 1, warmup: a.warmup ?? 0 }),
      );
    },
  )
  .command(
    'summary [results]',
    'Print the summary table of a finished (or interrupted) run from its results.json',
    (y) =>
      y
        .positional('results', { type: 'string', describe: 'A results.json, or a run folder holding one (default: the latest run under results/)' })
        .epilog(
          [
            'The file is validated against the results schema first: a truncated, hand-edited or other-version file is refused (exit 2).',
            '',
            'Examples:',
            '  muxbench summary',
            '      the latest run under results/',
            '  muxbench summary results/2026-11-25T12-41-03Z-1a2b',
          ].join('\n'),
        ),
    (argv) => guarded(async () => summaryCommand(argv.results === undefined ? path.join(root, 'results', 'latest') : path.resolve(argv.results))),
  )
  .command(
    'report [results]',
    'Write report.html (self-contained: charts, tables, headline verdicts), summary.csv and summary.md for a run',
    (y) =>
      y
        .positional('results', { type: 'string', describe: 'A results.json, or a run folder holding one (default: the latest run under results/)' })
        .option('out', { type: 'string', describe: 'Output folder (default: the run folder)' })
        .epilog(
          [
            '`muxbench run` writes these itself at the end of a run; this rewrites them, e.g. after changing --out, or for a run that was killed before it could.',
            '',
            'Examples:',
            '  muxbench report',
            '  muxbench report results/2026-11-25T12-41-03Z-1a2b --out /tmp/report',
          ].join('\n'),
        ),
    (argv) => guarded(async () => reportCommand(argv.results === undefined ? path.join(root, 'results', 'latest') : path.resolve(argv.results), argv.out)),
  )
  .command(
    'compare <base> <head>',
    'Compare two runs (or two strategies of one run): per cell and metric the change, its 95% confidence interval and a verdict; writes compare.md for a pull request and compare.html',
    (y) =>
      y
        .positional('base', { type: 'string', demandOption: true, describe: 'Base results.json or run folder (e.g. main)' })
        .positional('head', { type: 'string', demandOption: true, describe: 'Head results.json or run folder (e.g. the PR branch); may be the same as base with the strategy options' })
        .option('base-strategy', { type: 'string', describe: 'Compare strategies instead of runs: this one is the base' })
        .option('head-strategy', { type: 'string', describe: '... and this one the head (cells matched by scenario, transport and sweep point)' })
        .option('base-threads', { type: 'string', describe: 'Compare server loop thread counts of a --threads sweep: cells with this many loops are the base', coerce: count('base-threads') })
        .option('head-threads', { type: 'string', describe: '... and cells with this many the head (matched without their threads=N)', coerce: count('head-threads') })
        .option('fail-on-regression', {
          type: 'string',
          describe: 'Exit 1 when a significant regression is larger than PCT percent',
          coerce: percent('fail-on-regression'),
        })
        .option('min-effect', {
          type: 'string',
          describe: 'Smallest change that counts, in percent (default 1): smaller significant changes are reported as no change',
          coerce: percent('min-effect'),
        })
        .option('out', { type: 'string', describe: 'Output folder for compare.md and compare.html (default results/compare-<time>)' })
        .option('flamegraphs', { type: 'boolean', default: false, describe: 'Differential flamegraphs (per operation) of every compared pair of cells that both have profiles (runs made with --profile), in <out>/flamegraphs/' })
        .epilog(
          [
            'A change is significant when the bootstrap 95% interval of the ratio of medians excludes 1 and Welch\'s t-test gives p < 0.05.',
            'With GITHUB_STEP_SUMMARY set, compare.md is appended to the job summary.',
            '',
            'Examples:',
            '  muxbench compare results/main results/pr --fail-on-regression 5',
            '      two runs; exit 1 when a significant regression exceeds 5%',
            '  muxbench compare results/latest results/latest --base-strategy epoll --head-strategy io_uring',
            '      two strategies of one run',
            '  muxbench compare results/latest results/latest --base-threads 1 --head-threads 2',
            '      one loop against two, every strategy of a --threads 1,2 run',
            '  muxbench compare results/latest results/latest --base-strategy poll --head-strategy io_uring --flamegraphs',
            '      ... with a differential flamegraph per cell (the run was made with --profile)',
            '',
            'Exit status: 0 compared, 1 a regression over --fail-on-regression, 2 unreadable or incompatible inputs.',
          ].join('\n'),
        ),
    (argv) => guarded(async () => compareCommand(argv as unknown as CompareArgs)),
  )
  .command(
    'list',
    'List the strategies (and whether they are built) and the scenarios',
    (y) => y.option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' }),
    (argv) => guarded(async () => listCommand(loadCatalog(root), argv.json)),
  )
  .command(
    'serve <strategy>',
    "Run one strategy's server in the foreground for curl, wrk, ab or the load generator",
    (y) =>
      y
        .positional('strategy', { type: 'string', demandOption: true, describe: 'Strategy variant (see muxbench list)' })
        .option('protocol', { type: 'string', describe: "peer or http (default: the strategy's first protocol)" })
        .option('listen', { type: 'string', default: 'tcp:127.0.0.1:0', describe: 'tcp:127.0.0.1:PORT (0 = kernel picks) or unix:PATH' })
        .option('snapshot-every', { type: 'string', describe: 'Print server counters every SECONDS', coerce: (v: unknown) => (v === undefined ? undefined : parseSeconds(String(v), '--snapshot-every')) })
        .option('verify-checksum', { type: 'boolean', default: false, describe: 'Peer protocol: verify SHA256d of received payloads' })
        .option('threads', { type: 'string', describe: 'Loop threads, for strategies with a threading model (muxbench list)', coerce: count('threads') })
        .epilog(
          [
            'Examples:',
            '  muxbench serve epoll --protocol http',
            '      HTTP on a kernel-chosen TCP port; prints curl, wrk and ab commands for it',
            '  muxbench serve epoll --protocol peer --listen unix:/tmp/mux.sock --snapshot-every 1',
            '      the peer protocol on a unix socket, with server counters every second',
          ].join('\n'),
        ),
    (argv) =>
      guarded(async () => {
        const catalog = loadCatalog(root);
        const name = String(argv.strategy);
        checkNames([name], catalog.strategies.map((v) => v.name), 'strategy');
        const variant = catalog.strategies.find((v) => v.name === name)!;
        return serve({
          root,
          variant,
          protocol: argv.protocol ?? variant.protocols[0],
          listen: argv.listen,
          snapshotEveryS: (argv.snapshotEvery as number | undefined) ?? null,
          verifyChecksum: argv.verifyChecksum,
          threads: checkServeThreads(variant, argv.threads as number | undefined),
          scenarios: catalog.scenarios,
        });
      }),
  )
  .demandCommand(1, 'Choose a command: run, profile, report, summary, compare, list or serve')
  .strict()
  .recommendCommands()
  .alias('h', 'help')
  .version(packageVersion())
  .wrap(Math.min(120, process.stdout.columns || 100))
  .fail((msg, err, y) => {
    // Usage problems exit 2 with the message and the relevant help hint.
    const text = msg || (err ? errorMessage(err) : 'invalid usage');
    process.stderr.write(`muxbench: ${text}\nRun "muxbench --help" or "muxbench <command> --help" for usage.\n`);
    void y;
    process.exit(EXIT_USAGE);
  });

await cli.parseAsync();
