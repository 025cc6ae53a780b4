/* Native child processes: spawning (argv arrays, never a shell), the control
 * channel on their stdio, CPU pinning, and making sure every child the
 * harness started is ended by it — on normal exit, on errors, on Ctrl-C and
 * when a child hangs (DESIGN.md §9). */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { ChannelEvent, EventQueue, LineSplitter } from './jsonlines.js';
import { findExecutable } from './catalog.js';
import { UsageError } from './errors.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /* Used in messages: "epoll server", "load generator". */
  label: string;
  argv: string[];
  cwd: string;
  /* CPUs to pin to with taskset, or null for unpinned. */
  cpus?: number[] | null;
  /* stderr is for humans; it is appended here (the cell's log) and its tail quoted in errors. */
  stderrLog?: string;
  /* Pass stderr through to ours as well (the `serve` command). */
  echoStderr?: boolean;
  /* Added to the inherited environment (a profiler's settings). */
  env?: Record<string, string>;
}

const STDERR_TAIL_LINES = 15;
export const DEFAULT_GRACE_MS = 2000;

/* Every live child, by PID, so they can all be ended from anywhere. */
const live = new Set<NativeProcess>();

export class NativeProcess {
  readonly label: string;
  readonly argv: string[];
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  readonly events: EventQueue;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | null = null;
  private readonly stderrLines: string[] = [];
  private stderrPartial = '';
  private readonly logFd: number | null;
  private logWritable = true;
  private readonly echoesStderr: boolean;

  constructor(opts: SpawnOptions) {
    this.label = opts.label;
    this.argv = opts.cpus?.length ? ['taskset', '-c', opts.cpus.join(','), ...opts.argv] : [...opts.argv];
    this.events = new EventQueue(opts.label, () => this.stderrContext());
    this.logFd = opts.stderrLog ? fs.openSync(opts.stderrLog, 'a') : null;
    this.echoesStderr = opts.echoStderr === true;
    // detached: the child gets its own process group, so a Ctrl-C in the
    // terminal reaches only muxbench, which then ends the children itself (in
    // order, recorded). If muxbench dies abruptly, the children see end of
    // stdin, which the control channel defines as "exit".
    this.child = spawn(this.argv[0], this.argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    if (this.child.pid === undefined) {
      // spawn failed synchronously (ENOENT is reported through 'error' but pid stays undefined)
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
    }
    live.add(this);

    const splitter = new LineSplitter();
    this.child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) this.events.pushLine(line);
    });
    this.child.stdout!.on('end', () => {
      for (const line of splitter.end()) this.events.pushLine(line);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      if (this.logFd !== null && this.logWritable) {
        // A full disk must not crash muxbench from inside a stream handler:
        // the log stops, and the stderr tail kept for messages says why.
        try {
          fs.writeSync(this.logFd, chunk);
        } catch (err) {
          this.logWritable = false;
          this.stderrLines.push(`[muxbench: stopped writing ${opts.stderrLog}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}]`);
        }
      }
      if (opts.echoStderr) process.stderr.write(chunk);
      this.noteStderr(chunk.toString('utf8'));
    });
    // A child that dies makes writes to its stdin fail with EPIPE; that is
    // reported through the exit, not as an unhandled error.
    this.child.stdin!.on('error', () => {});

    this.exited = new Promise<ExitInfo>((resolve) => {
      let spawnError: Error | null = null;
      this.child.on('error', (err) => {
        spawnError = err;
        // 'close' does not follow a failed spawn on every Node version.
        if (this.child.pid === undefined) finish({ code: null, signal: null });
      });
      const finish = (info: ExitInfo) => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        live.delete(this);
        if (this.logFd !== null) fs.closeSync(this.logFd);
        const how = spawnError
          ? `could not be started (${spawnError.message})`
          : info.signal
            ? `was ended by ${info.signal}`
            : `exited with status ${info.code}`;
        this.events.close(how);
        resolve(info);
      };
      // 'close' comes after stdout/stderr are drained, so every event is seen first.
      this.child.on('close', (code, signal) => finish({ code, signal }));
    });
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  get exit(): ExitInfo | null {
    return this.exitInfo;
  }

  private noteStderr(text: string): void {
    const lines = (this.stderrPartial + text).split('\n');
    this.stderrPartial = lines.pop() ?? '';
    this.stderrLines.push(...lines);
    if (this.stderrLines.length > STDERR_TAIL_LINES) this.stderrLines.splice(0, this.stderrLines.length - STDERR_TAIL_LINES);
  }

  lastStderr(): string[] {
    const all = this.stderrPartial ? [...this.stderrLines, this.stderrPartial] : [...this.stderrLines];
    return all.slice(-STDERR_TAIL_LINES);
  }

  private stderrContext(): string {
    // When stderr goes straight to the terminal (serve), the user has just seen it.
    if (this.echoesStderr) return '';
    const lines = this.lastStderr();
    return lines.length ? `\nlast stderr lines of ${this.label} (pid ${this.pid}):\n  ${lines.join('\n  ')}` : `\n(${this.label} wrote nothing to stderr)`;
  }

  send(cmd: Record<string, unknown>): void {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return;
    stdin.write(JSON.stringify(cmd) + '\n');
  }

  waitFor(event: string, timeoutMs: number): Promise<ChannelEvent> {
    return this.events.waitFor(event, timeoutMs);
  }

  /* Sends a command and awaits its answer. */
  request(cmd: Record<string, unknown>, event: string, timeoutMs: number): Promise<ChannelEvent> {
    const answer = this.waitFor(event, timeoutMs);
    this.send(cmd);
    return answer;
  }

  /* End of stdin means "exit" on the control channel. */
  closeStdin(): void {
    this.child.stdin?.end();
  }

  /* Signals the harness sent, to tell "we ended it" from "it crashed". */
  readonly signalsSent = new Set<NodeJS.Signals>();

  /* True when the process ended badly on its own: a non-zero status, or a
   * signal the harness did not send (SIGSEGV, SIGABRT, ...). */
  get crashed(): boolean {
    const e = this.exitInfo;
    if (!e) return false;
    return e.signal ? !this.signalsSent.has(e.signal) : e.code !== 0;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running || this.pid <= 0) return;
    this.signalsSent.add(sig);
    // The child leads its own process group (detached): signal the group, so
    // a program started under a wrapper (a profiler around the server) goes
    // with it instead of being orphaned.
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        // already gone
      }
    }
  }

  /* Polite first: {"cmd":"exit"} and end of stdin; then `stopSignal`
   * (SIGTERM; a profiling tool around a server finishes on SIGINT); then
   * SIGKILL. `politeMs` is how long a well-behaved child gets to leave on its own. */
  async end(politeMs = DEFAULT_GRACE_MS, graceMs = DEFAULT_GRACE_MS, stopSignal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.send({ cmd: 'exit' });
    this.closeStdin();
    if (await exitsWithin(this, politeMs)) return this.exitInfo!;
    this.signal(stopSignal);
    if (await exitsWithin(this, graceMs)) return this.exitInfo!;
    this.signal('SIGKILL');
    return this.exited;
  }
}

function exitsWithin(p: NativeProcess, ms: number): Promise<boolean> {
  if (!p.running) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export function startProcess(opts: SpawnOptions): NativeProcess {
  return new NativeProcess(opts);
}

export function liveProcesses(): NativeProcess[] {
  return [...live];
}

/* Children without a control channel (a profiler recording a server): ended
 * with the others on Ctrl-C and when muxbench exits. */
const helpers = new Set<ChildProcess>();

export function trackHelperProcess(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  helpers.add(child);
  child.once('exit', () => helpers.delete(child));
}

function signalHelpers(sig: NodeJS.Signals): void {
  for (const c of helpers) {
    // Helpers are spawned detached (their own group) where they may start children.
    for (const target of [-c.pid!, c.pid!]) {
      try {
        process.kill(target, sig);
        break;
      } catch {
        // not a group leader, or already gone
      }
    }
  }
}

/* SIGTERM every live child, then SIGKILL those still there after the grace period. */
export async function endAllProcesses(graceMs = DEFAULT_GRACE_MS): Promise<void> {
  signalHelpers('SIGTERM');
  const procs = [...live];
  for (const p of procs) p.signal('SIGTERM');
  // Helpers (perf) get the same time to finish cleanly: perf removes its
  // temporary files on SIGTERM, not on SIGKILL.
  await Promise.all([...procs.map((p) => exitsWithin(p, graceMs)), helpersGone(graceMs)]);
  for (const p of procs) if (p.running) p.signal('SIGKILL');
  signalHelpers('SIGKILL');
  await Promise.all(procs.map((p) => exitsWithin(p, graceMs)));
}

function helpersGone(ms: number): Promise<void> {
  const waits = [...helpers].map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  return Promise.race([Promise.all(waits).then(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
}

/* Last resort when muxbench itself exits: 'exit' handlers cannot wait, so
 * whatever is still alive gets SIGKILL synchronously. */
function killRemainingSync(): void {
  for (const p of live) p.signal('SIGKILL');
  signalHelpers('SIGKILL');
}

let handlersInstalled = false;

/* On SIGINT/SIGTERM: call `onSignal` once (it should end the children and
 * finish up); a second signal ends everything at once. */
export function installCleanupHandlers(onSignal: (sig: NodeJS.Signals) => void): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let signalled = false;
  const handler = (sig: NodeJS.Signals) => {
    if (signalled) {
      killRemainingSync();
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    }
    signalled = true;
    onSignal(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', killRemainingSync);
}

/* CPU pinning of the server and the load generator. */
export type Pinning =
  | { pinned: true; server: number[]; loadgen: number[]; via: 'taskset' }
  | { pinned: false; reason: string };

/* CPUs this process may run on (cgroups/cpusets can hide some). */
export function allowedCpus(): number[] {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (m) return parseCpuList(m[1]);
  } catch {
    // not Linux, or /proc not mounted
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

/* "0-2,5" -> [0,1,2,5] */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/* Decides how to pin: `requested` is the server's and the load generator's
 * CPUs from --cpus, or null for "not pinned on purpose". Pinning needs two
 * CPUs (client and server on one CPU would measure their competition) and
 * taskset, which execs the program so the PID the harness holds is the
 * program's own. Returns a reason when it cannot pin; the caller decides
 * whether that is an error. */
export function decidePinning(requested: CpuRequest | null, cpus = allowedCpus(), taskset = findExecutable('taskset', '/')): Pinning {
  if (requested === null) return { pinned: false, reason: 'pinning disabled (--cpus none)' };
  if (cpus.length < 2) return { pinned: false, reason: `only ${cpus.length} CPU available` };
  if (!taskset) return { pinned: false, reason: 'taskset not found (install util-linux)' };
  for (const c of [...requested.server, ...requested.loadgen]) {
    if (!cpus.includes(c)) return { pinned: false, reason: `CPU ${c} is not available (allowed: ${cpus.join(',')})` };
  }
  return { pinned: true, server: [...requested.server], loadgen: [...requested.loadgen], via: 'taskset' };
}

export interface CpuRequest {
  server: number[];
  loadgen: number[];
}

/* --cpus: "0,1" (one CPU each: server, load generator), "0/1-3" or
 * "0-1/2,3" (taskset lists: server/load generator), or "none". */
export function parseCpus(text: string): CpuRequest | null {
  const t = text.trim();
  if (t === 'none') return null;
  const pair = /^(\d+)\s*,\s*(\d+)$/.exec(t);
  if (pair) return { server: [Number(pair[1])], loadgen: [Number(pair[2])] };
  const sides = t.split('/');
  const list = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
  if (sides.length !== 2 || !sides.every((x) => list.test(x.replace(/\s/g, '')))) {
    throw new UsageError(`--cpus: "${text}" must be SERVER_CPU,LOADGEN_CPU (e.g. 0,1), SERVER_CPUS/LOADGEN_CPUS as taskset lists (e.g. 0/1-3), or none`);
  }
  const [server, loadgen] = sides.map((x) => [...new Set(parseCpuList(x.replace(/\s/g, '')))]);
  if (!server.length || !loadgen.length) throw new UsageError(`--cpus: "${text}": a CPU range is empty`);
  return { server, loadgen };
}

/* "0-2,5" for taskset and messages. */
export function formatCpus(cpus: number[]): string {
  return cpus.join(',');
}
