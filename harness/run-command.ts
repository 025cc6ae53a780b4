/* The `run` command (and `profile`, a run with profiling on) after yargs
 * has parsed its flags: check them against the catalog and the machine,
 * decide pinning and profiling, then hand the plan to runMatrix. */
import path from 'node:path';
import { findExecutable, loadCatalog, TRANSPORTS, type Params } from './catalog.js';
import { UsageError } from './errors.js';
import { LOADGEN_COMMAND, NOT_BUILT_HINT } from './paths.js';
import { planCells, splitList, type LoadgenWait } from './plan.js';
import { allowedCpus, decidePinning, formatCpus, parseCpus, type Pinning } from './process.js';
import { runMatrix } from './run.js';
import { prepareOutputFolder } from './outputs.js';
import { ensureFdLimit } from './fdlimit.js';
import { DEFAULT_PERF, maxSampleRate, probePerf, type CallGraph } from '../flamegraphs/perf.js';
import type { ProfileRequest, ProfilerName } from '../flamegraphs/profilers.js';
import { probeNodeTool } from '../flamegraphs/node-tools.js';

/* The servers' own bound (HUB_MAX_WORKERS in strategies/core/hub.h). */
export const MAX_HANDOFF_WORKERS = 64;
/* The native servers' limit (SERVER_MAX_THREADS in strategies/net/control.h). */
export const MAX_SERVER_THREADS = 64;
/* The load generator's own bound (LG_MAX_THREADS in loadgen/loadgen.h). */
export const MAX_LOADGEN_THREADS = 64;

export interface RunArgs {
  strategies?: string | string[];
  scenarios?: string | string[];
  transports?: string | string[];
  connections?: number[];
  messageSize?: number[];
  rate?: number[];
  handoff?: number[];
  threads?: number[];
  active?: number;
  depth?: number;
  requests?: number;
  bytes?: number;
  chunk?: number;
  repeat?: number;
  warmup?: number;
  counters: boolean;
  loadgenThreads?: number;
  loadgenWait: LoadgenWait;
  quick: boolean;
  out?: string;
  verifyChecksum: boolean;
  timeout: number;
  cpus?: string;
  profile: boolean;
  callGraph: CallGraph;
  profileFrequency?: number;
  nodeProfiler: ProfilerName;
}

/* --profile: perf for native servers (and Node, with V8's perf map), or a
 * Node tool for Node programs. What cannot work here is said once, and the
 * run goes on without it. */
function profileRequest(root: string, argv: RunArgs): { request: ProfileRequest | null; problem?: string } {
  if (!argv.profile) return { request: null };
  const perf = probePerf();
  if (perf.usable && !perf.kernelSamples) {
    process.stderr.write('note: kernel.perf_event_paranoid >= 2 without root: perf leaves kernel code out of the profiles (they will show 0% kernel); run as root or lower it to 1\n');
  } else if (perf.usable && !perf.kernelFrames) {
    process.stderr.write('note: the kernel hides its symbol addresses (kernel.kptr_restrict): kernel frames will show as [kernel.kallsyms]; as root, sysctl kernel.kptr_restrict=0 names them\n');
  }
  let node = argv.nodeProfiler;
  if (node !== 'perf') {
    const tool = probeNodeTool(node, root);
    if (!tool.usable) {
      process.stderr.write(`note: --node-profiler ${node} cannot run here (${tool.reason}); the Node strategy is profiled with perf instead\n`);
      node = 'perf';
    }
  }
  const frequencyHz = argv.profileFrequency ?? DEFAULT_PERF.frequencyHz;
  // Above the kernel's limit perf samples at the limit instead, and its
  // overhead swamps the window: refuse rather than record a wrong setting.
  const ceiling = maxSampleRate();
  if (ceiling !== null && frequencyHz > ceiling) {
    throw new UsageError(`--profile-frequency ${frequencyHz}: above this kernel's limit of ${ceiling} samples per second (kernel.perf_event_max_sample_rate); the default ${DEFAULT_PERF.frequencyHz} is plenty for windows of a second or more`);
  }
  const request: ProfileRequest = {
    perf: { callGraph: argv.callGraph, frequencyHz },
    perfUsable: perf.usable,
    node,
  };
  return { request, problem: perf.usable ? undefined : perf.reason };
}

export async function runCommand(root: string, argv: RunArgs): Promise<number> {
  if (argv.out) prepareOutputFolder(argv.out);
  const catalog = loadCatalog(root);
  const overrides: Params = {};
  for (const k of ['requests', 'bytes', 'chunk', 'active', 'depth'] as const) {
    if (argv[k] !== undefined) overrides[k] = argv[k]!;
  }
  const sweeps: Record<string, number[]> = {};
  if (argv.connections) sweeps.connections = argv.connections;
  if (argv.messageSize) sweeps.message_size = argv.messageSize;
  if (argv.rate) sweeps.rate = argv.rate;
  const handoff = argv.handoff ?? [0];
  const tooMany = handoff.find((n) => n > MAX_HANDOFF_WORKERS);
  if (tooMany !== undefined) throw new UsageError(`--handoff ${tooMany}: at most ${MAX_HANDOFF_WORKERS} worker threads`);
  const serverThreads = argv.threads ?? [1];
  const tooManyLoops = serverThreads.find((n) => n > MAX_SERVER_THREADS);
  if (tooManyLoops !== undefined) throw new UsageError(`--threads ${tooManyLoops}: at most ${MAX_SERVER_THREADS} loop threads`);
  const strategies = splitList(argv.strategies);
  const plan = planCells(catalog, {
    strategies,
    scenarios: splitList(argv.scenarios),
    transports: splitList(argv.transports),
    quick: argv.quick,
    overrides,
    sweeps,
    handoff,
    threads: serverThreads,
    counters: argv.counters,
    loadgenThreads: argv.loadgenThreads ?? 1,
    loadgenWait: argv.loadgenWait,
  });
  // --active above --connections contradicts itself: say so rather than clamp quietly.
  const tooActive = overrides.active !== undefined ? plan.cells.find((c) => overrides.active > c.params.connections) : undefined;
  if (tooActive) {
    throw new UsageError(`--active ${overrides.active} is more than the ${tooActive.params.connections} connections of ${tooActive.id}: at most as many connections can work as are open`);
  }
  // Nothing can run without the load generator, and nothing runs when no strategy is built.
  if (!findExecutable(LOADGEN_COMMAND, root) || !catalog.strategies.some((v) => v.available)) {
    throw new UsageError(NOT_BUILT_HINT);
  }
  ensureFdLimit(Math.max(0, ...plan.cells.map((c) => c.params.connections)));
  if (plan.cells.length === 0) {
    // Everything left out for --threads: say that, not "unsupported".
    if (plan.skipped.length) throw new UsageError(`nothing to run with these --threads:\n${plan.skipped.map((s) => `  ${s}`).join('\n')}`);
    throw new UsageError('nothing to run: no selected strategy supports the selected scenarios and transports (see muxbench list)');
  }
  for (const k of plan.unusedOverrides) process.stderr.write(`note: --${k.replace(/_/g, '-')} is not a parameter of any selected scenario; ignored\n`);

  // Pin by default when possible; an explicit --cpus that cannot be honoured is an error.
  const requested = parseCpus(argv.cpus ?? '0,1');
  const pinning: Pinning = decidePinning(requested);
  if (!pinning.pinned && argv.cpus !== undefined && requested !== null) throw new UsageError(`--cpus ${argv.cpus}: ${pinning.reason}`);
  if (pinning.pinned && pinning.server.some((c) => pinning.loadgen.includes(c))) process.stderr.write('note: the server and the load generator share a CPU: they compete for it\n');
  const loops = Math.max(...plan.cells.map((c) => c.server.threads));
  if (loops > 1 && pinning.pinned && pinning.server.length < loops) {
    const cpus = allowedCpus();
    // A CPU per loop and one for the load generator when the machine has them; else the loops take them all and the load generator shares the last.
    const hint = cpus.length > loops ? `${formatCpus(cpus.slice(0, loops))}/${cpus[loops]}` : `${formatCpus(cpus)}/${cpus[cpus.length - 1]}`;
    process.stderr.write(`note: ${loops} server loop threads share ${pinning.server.length === 1 ? 'one CPU' : `${pinning.server.length} CPUs`} (${formatCpus(pinning.server)}); give each its own with --cpus SERVER/LOADGEN, e.g. --cpus ${hint}${cpus.length > loops ? '' : ' (the load generator then shares a CPU with a loop)'}\n`);
  }
  const threads = argv.loadgenThreads ?? 1;
  if (threads > MAX_LOADGEN_THREADS) throw new UsageError(`--loadgen-threads ${threads}: at most ${MAX_LOADGEN_THREADS} threads`);
  if (threads > 1 && pinning.pinned && pinning.loadgen.length < threads) {
    process.stderr.write(`note: ${threads} load generator threads share ${pinning.loadgen.length === 1 ? 'one CPU' : `${pinning.loadgen.length} CPUs`} (${formatCpus(pinning.loadgen)}); give it more with --cpus SERVER/LOADGEN, e.g. --cpus 0/1-${threads}\n`);
  }
  for (const s of new Set(plan.cells.filter((c) => c.scenario.singleLoadgenThread && threads > 1).map((c) => c.scenario))) {
    process.stderr.write(`note: ${s.name} runs with one load generator thread: ${s.singleLoadgenThread}\n`);
  }
  const fewer = plan.cells.filter((c) => !c.scenario.singleLoadgenThread && c.client.threads < threads);
  if (fewer.length) {
    process.stderr.write(`note: ${fewer.length} ${fewer.length === 1 ? 'cell runs' : 'cells run'} fewer load generator threads than asked: one thread per working connection at most (e.g. ${fewer[0].id}: ${fewer[0].client.threads})\n`);
  }

  if (argv.profile && argv.nodeProfiler !== 'perf' && !plan.cells.some((c) => c.variant.runtime === 'node')) {
    process.stderr.write(`note: --node-profiler ${argv.nodeProfiler} profiles Node programs only, and no selected strategy is one (the others get perf)\n`);
  }
  const repeat = argv.repeat ?? (argv.quick ? 1 : 3);
  const warmup = argv.warmup ?? (argv.quick ? 0 : 1);
  const profiling = profileRequest(root, argv);
  return runMatrix({
    root,
    plan,
    pinning,
    profile: profiling.request,
    profileProblem: profiling.problem,
    outDir: argv.out ? path.resolve(argv.out) : null,
    options: {
      strategies: strategies ?? null,
      scenarios: splitList(argv.scenarios) ?? null,
      transports: splitList(argv.transports) ?? [...TRANSPORTS],
      overrides,
      sweeps,
      handoff,
      threads: serverThreads,
      counters: argv.counters,
      loadgen_threads: threads,
      loadgen_wait: argv.loadgenWait,
      repeat,
      warmup,
      quick: argv.quick,
      verify_checksum: argv.verifyChecksum,
      timeout_s: argv.timeout,
      cpus: argv.cpus ?? '0,1',
      profile: profiling.request
        ? { call_graph: profiling.request.perf.callGraph, frequency_hz: profiling.request.perf.frequencyHz, node: profiling.request.node, perf_problem: profiling.problem ?? null }
        : null,
    },
  });
}
