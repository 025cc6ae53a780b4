/* One repetition of one cell, following the data path (DESIGN.md §3):
 *
 *   server "listening" -> load generator connects everything, "ready"
 *   -> wait until the server has accepted every connection (accepts stay
 *      outside the window) -> snapshot A -> "go" -> "result" -> snapshot B
 *   -> both processes told to exit and ended; measured = B - A.
 *
 * Nothing here depends on which strategy or scenario runs: the server argv
 * comes from the manifest and the load generator flags from the scenario. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CellPlan, loadgenArgs } from './plan.js';
import { LOADGEN_COMMAND } from './paths.js';
import { NativeProcess, Pinning, startProcess, ExitInfo } from './process.js';
import { measure, parseResult, parseSnapshot, ServerSnapshot } from './metrics.js';
import { Repetition } from './results.js';
import { errorMessage } from './errors.js';
import { ChannelError } from './jsonlines.js';
import { encodeBuckets } from './stats.js';
import { loopThreadIds, pinLoopThreads } from './pin-threads.js';
import type { ServerLaunch, WindowProfiler } from '../flamegraphs/profilers.js';

export interface RepetitionContext {
  root: string;
  cell: CellPlan;
  rep: number;
  pinning: Pinning;
  verifyChecksum: boolean;
  /* Budget for the fixed work of one repetition (--timeout). */
  timeoutS: number;
  /* Run folder; stderr logs go to <runDir>/logs/. */
  runDir: string;
  /* The profiled repetition (rep 0): a profiler that watches the server
   * during the window; its numbers stay out of the statistics. */
  profiler?: WindowProfiler;
}

/* Bounded waits for the phases outside the measured work. */
const LISTEN_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 30_000;
const ACCEPT_WAIT_MS = 15_000;
const SNAPSHOT_TIMEOUT_MS = 5_000;
const ACCEPT_POLL_MS = 20;
/* The load generator enforces --timeout itself; the harness waits a little
 * longer so the load generator's own failure report arrives first. */
const RESULT_GRACE_MS = 5_000;
/* Snapshots taken again, SETTLE_MS apart, while the server's counts lag the client's. */
const SETTLE_SNAPSHOTS = 5;
const SETTLE_MS = 20;
/* How long a failed load generator waits to see whether the server died first. */
const SERVER_DEATH_GRACE_MS = 1_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/* sun_path is 108 bytes including the terminating NUL. */
const UNIX_PATH_MAX = 107;

export function serverArgv(cell: CellPlan, listen: string, verifyChecksum: boolean): string[] {
  const v = cell.variant;
  return [
    ...v.command,
    ...v.args,
    '--protocol',
    cell.scenario.protocol,
    '--listen',
    listen,
    ...(verifyChecksum ? ['--verify-checksum'] : []),
    ...(cell.server.handoff > 0 ? ['--handoff', String(cell.server.handoff)] : []),
    ...(cell.server.threads > 1 ? ['--threads', String(cell.server.threads)] : []),
    ...(cell.server.counters ? [] : ['--no-counters']),
  ];
}

export function loadgenArgv(cell: CellPlan, address: string, timeoutS: number, verifyChecksum: boolean): string[] {
  return [
    LOADGEN_COMMAND,
    '--connect',
    address,
    ...loadgenArgs(cell.scenario, cell.params),
    ...(cell.client.threads > 1 ? ['--threads', String(cell.client.threads)] : []),
    ...(cell.client.wait !== 'adaptive' ? ['--wait', cell.client.wait] : []),
    '--timeout-ms',
    String(Math.round(timeoutS * 1000)),
    ...(verifyChecksum ? ['--verify-checksum'] : []),
  ];
}

/* A fresh private (0700) folder for the socket, short enough for sun_path. */
export function makeSocketDir(): string {
  let base = os.tmpdir();
  if (path.join(base, 'muxbench-XXXXXX', 's.sock').length > UNIX_PATH_MAX) base = '/tmp';
  const dir = fs.mkdtempSync(path.join(base, 'muxbench-'));
  fs.chmodSync(dir, 0o700);
  return dir;
}

/* "epoll-peer-ping-tcp", "epoll-http-rpc-tcp-connections100": names the
 * cell's files (logs, flamegraphs). */
export function cellStem(cell: CellPlan): string {
  const point = cell.label ? `-${cell.label.replace(/[ =]/g, (c) => (c === ' ' ? '-' : ''))}` : '';
  return `${cell.variant.name}-${cell.scenario.name}-${cell.transport}${point}`;
}

export function logName(cell: CellPlan, rep: number, role: 'server' | 'loadgen'): string {
  const which = rep < 0 ? `warmup${-rep}` : rep === 0 ? 'profile' : `rep${rep}`;
  return path.join('logs', `${cellStem(cell)}-${which}.${role}.log`);
}

async function snapshot(server: NativeProcess): Promise<ServerSnapshot> {
  return parseSnapshot(await server.request({ cmd: 'snapshot' }, 'snapshot', SNAPSHOT_TIMEOUT_MS));
}

/* The load generator's "ready" means it has connected; the server may still
 * have connections in its accept queue. Accepting them inside the window
 * would charge accept cost to the workload, so wait until all are open. */
async function waitForAccepts(server: NativeProcess, loadgen: NativeProcess, connections: number): Promise<void> {
  const deadline = Date.now() + ACCEPT_WAIT_MS;
  for (;;) {
    if (loadgen.events.failed) throw loadgen.events.failed;
    const s = await snapshot(server);
    if (s.connections.open >= connections) return;
    if (Date.now() > deadline) {
      throw new Error(`server has ${s.connections.open} of ${connections} connections open after ${ACCEPT_WAIT_MS / 1000} s (accepted ${s.connections.accepted}, closed ${s.connections.closed})`);
    }
    await new Promise((r) => setTimeout(r, ACCEPT_POLL_MS));
  }
}

/* Teardown trouble that does not invalidate the measurement: a program that
 * ignored the exit command and had to be signalled by the harness. */
function describeSignalled(p: NativeProcess): string | null {
  const e = p.exit;
  if (!e || e.signal === null || p.crashed) return null;
  return `${p.label} did not exit on the exit command and was ended with ${e.signal}`;
}

function describeExit(e: ExitInfo): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`;
}

/* Rejects as soon as `p` ends: a server that crashes mid-window must fail the
 * repetition now, not after the load generator's timeout. */
function failOnExit(p: NativeProcess, what: string): Promise<never> {
  return p.exited.then((e) => {
    throw new Error(`${p.label} ${describeExit(e)} ${what}${p.lastStderr().length ? `\nlast stderr lines:\n  ${p.lastStderr().join('\n  ')}` : ''}`);
  });
}

export async function runRepetition(ctx: RepetitionContext): Promise<Repetition> {
  const { cell, rep, pinning } = ctx;
  const started = process.hrtime.bigint();
  const logs = { server: logName(cell, rep, 'server'), loadgen: logName(cell, rep, 'loadgen') };
  fs.mkdirSync(path.join(ctx.runDir, 'logs'), { recursive: true });
  const socketDir = cell.transport === 'unix' ? makeSocketDir() : null;
  const listen = socketDir ? `unix:${path.join(socketDir, 's.sock')}` : 'tcp:127.0.0.1:0';
  const procs: NativeProcess[] = [];
  const out: Repetition = { rep, status: 'failed', wall_s: 0, logs };
  const warnings: string[] = [];

  let serverExit: { graceMs?: number; signal?: NodeJS.Signals } = {};
  let serverPid: number | null = null;

  try {
    const argv = serverArgv(cell, listen, ctx.verifyChecksum);
    const launch: ServerLaunch = ctx.profiler ? ctx.profiler.launch(argv) : { argv };
    const server = startProcess({
      label: `${cell.variant.name} server`,
      argv: launch.argv,
      env: launch.env,
      cwd: ctx.root,
      cpus: pinning.pinned ? pinning.server : null,
      stderrLog: path.join(ctx.runDir, logs.server),
    });
    serverExit = { graceMs: launch.exitGraceMs, signal: launch.stopSignal };
    procs.push(server);
    const listening = await server.waitFor('listening', LISTEN_TIMEOUT_MS);
    if (typeof listening.address !== 'string' || !/^(tcp|unix):/.test(listening.address)) {
      throw new Error(`${server.label}: "listening" event has no usable "address" (${JSON.stringify(listening.address)})`);
    }

    // Under a profiling tool the server is the tool's child: its own pid is the one it reports.
    serverPid = typeof listening.pid === 'number' ? listening.pid : server.pid;
    const tids = loopThreadIds(listening);
    if (cell.server.threads > 1 && tids.length !== cell.server.threads) {
      throw new Error(`${server.label}: asked for ${cell.server.threads} loop threads, it announced ${tids.length}`);
    }
    // Each loop thread on its own CPU of the server's set, before any
    // connection; a single loop too when the server has several CPUs, so
    // one loop and two compare on the same CPUs.
    const loopCpus = pinning.pinned && tids.length > 0 && (tids.length > 1 || pinning.server.length > 1) ? await pinLoopThreads(tids, pinning.server) : null;
    out.server_threads = {
      model: typeof listening.threading === 'string' ? listening.threading : 'not reported',
      loop_threads: Math.max(tids.length, 1),
      cpus: loopCpus,
    };
    // The server's memory before any connection: the baseline of memory per connection.
    const baseline = await snapshot(server);
    const loadgen = startProcess({
      label: 'load generator',
      argv: loadgenArgv(cell, listening.address, ctx.timeoutS, ctx.verifyChecksum),
      cwd: ctx.root,
      cpus: pinning.pinned ? pinning.loadgen : null,
      stderrLog: path.join(ctx.runDir, logs.loadgen),
    });
    procs.push(loadgen);
    const ready = await loadgen.waitFor('ready', READY_TIMEOUT_MS);
    if (typeof ready.connections === 'number' && ready.connections !== cell.params.connections) {
      throw new Error(`load generator is ready with ${ready.connections} connections, expected ${cell.params.connections}`);
    }
    await waitForAccepts(server, loadgen, cell.params.connections);

    // The profiler's attach (perf: a few hundred ms) stays outside the window.
    if (ctx.profiler) await ctx.profiler.start(serverPid!);
    const a = await snapshot(server);
    // How the threading model spread the connections over the loops.
    if (a.loop_connections && out.server_threads) out.server_threads.connections = a.loop_connections;
    const resultEvent = loadgen.waitFor('result', ctx.timeoutS * 1000 + RESULT_GRACE_MS).catch((err: unknown) => {
      // The load generator did not enforce --timeout (it hangs too): say which limit passed.
      if (err instanceof ChannelError && err.kind === 'timeout') {
        throw new Error(`no result from the load generator within --timeout ${ctx.timeoutS} s (+${RESULT_GRACE_MS / 1000} s grace): the server or the load generator stopped making progress\n${err.message}`);
      }
      throw err;
    });
    loadgen.send({ cmd: 'go' });
    const serverGone = failOnExit(server, 'during the measured window');
    // Whichever loses the race below settles later; nobody awaits it then.
    serverGone.catch(() => {});
    resultEvent.catch(() => {});
    let resultLine;
    try {
      resultLine = await Promise.race([resultEvent, serverGone]);
    } catch (err) {
      // A crashing server often reaches the load generator first (as a
      // connection reset): if the server is gone too, name the root cause.
      const serverDied = await Promise.race([server.exited.then(() => true), sleep(SERVER_DEATH_GRACE_MS).then(() => false)]);
      if (serverDied) await serverGone; // rejects with the server's exit and stderr
      throw err;
    }
    if (ctx.profiler) await ctx.profiler.stop();
    const result = parseResult(resultLine);
    const expect = { agrees: cell.scenario.agrees, handoff: cell.server.handoff, counted: cell.server.counters, baseline, connections: cell.params.connections };
    let b = await snapshot(server);
    let m = measure(a, b, result, expect);
    // A loop thread that shares a CPU with the load generator can be
    // preempted between a write and the count after it: the client already
    // has the bytes, the server's counter follows a moment later. While the
    // server's byte counts are behind the client's, look again briefly; a
    // real loss stays a failure.
    const behind = (c: typeof m.consistency) => c.ok === false && (c.server_read_bytes < c.client_bytes_sent || c.server_written_bytes < c.client_bytes_received);
    for (let i = 1; i <= SETTLE_SNAPSHOTS && result.ok && behind(m.consistency); i++) {
      await sleep(SETTLE_MS);
      b = await snapshot(server);
      m = measure(a, b, result, expect);
      if (!m.problems.length) warnings.push(`the server's counters caught up with the client's result ${i * SETTLE_MS} ms after it (a loop thread was preempted between an I/O call and its count); the window's end is that later snapshot`);
    }
    out.latency_hdr = encodeBuckets(result.latency.buckets);
    out.metrics = m.metrics;
    out.consistency = m.consistency;
    out.client_bound = m.client_bound;
    out.client_errors = result.errors;
    if (typeof ready.connect_ns === 'number') out.connect_ns = ready.connect_ns;
    if (m.problems.length) throw new Error(m.problems.join('; '));
    out.status = 'ok';
  } catch (err) {
    out.status = 'failed';
    out.error = errorMessage(err);
  } finally {
    // Teardown is part of every outcome: exit commands first, then signals.
    // A server under a profiling tool gets the tool's time to write its
    // files, and the tool's own stop signal if it overstays.
    const [server, ...others] = procs;
    await Promise.all([server?.end(serverExit.graceMs, undefined, serverExit.signal), ...others.map((p) => p.end())]);
    if (ctx.profiler) await ctx.profiler.close(serverPid);
    for (const p of procs) {
      const problem = describeSignalled(p);
      if (problem) warnings.push(problem);
    }
    if (socketDir) fs.rmSync(socketDir, { recursive: true, force: true });
  }

  // A crash at teardown is a bug of the program even when the window was fine.
  const crashed = procs.filter((p) => p.crashed);
  if (out.status === 'ok' && crashed.length) {
    out.status = 'failed';
    out.error = crashed.map((p) => `${p.label} ${describeExit(p.exit!)} at teardown`).join('; ') + ' (see the logs)';
  }
  if (warnings.length) out.warnings = warnings;
  out.wall_s = Number(process.hrtime.bigint() - started) / 1e9;
  return out;
}
