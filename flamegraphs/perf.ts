/* perf, the profiler of the native servers (and of Node with its perf map).
 *
 * `perf record` attaches to the server's pid before the window opens, with
 * its events disabled (-D -1), and is switched on and off through its
 * control descriptors (--control fd:3,4): "enable" right before the load
 * generator's "go", "disable" right after its result. So the profile covers
 * the measured window only, not start-up, connection set-up or teardown, and
 * perf's own attach time (a few hundred ms) stays outside it too.
 *
 * The event is cpu-clock, a software event: it works in VMs and containers
 * where hardware counters are "not supported", and every sample stands for
 * the same CPU time (its period, in ns), so sample counts convert to CPU. */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { findExecutable } from '../harness/catalog.js';
import { trackHelperProcess } from '../harness/process.js';
import { PerfScriptFolder, type Folded } from './fold.js';

export const CALL_GRAPHS = ['fp', 'dwarf'] as const;
export type CallGraph = (typeof CALL_GRAPHS)[number];

export interface PerfSettings {
  callGraph: CallGraph;
  frequencyHz: number;
}

export const DEFAULT_PERF: PerfSettings = { callGraph: 'fp', frequencyHz: 999 };

export type PerfProbe =
  /* kernelSamples: perf records kernel code (else it quietly excludes it);
   * kernelFrames: kernel frames get names (else they are bare addresses). */
  | { usable: true; version: string; kernelSamples: boolean; kernelFrames: boolean }
  | { usable: false; reason: string };

/* How long perf may take to attach and to write its file at the end. DWARF
 * call graphs copy 8 KiB of stack per sample, so writing takes longer. */
const ATTACH_TIMEOUT_MS = 15_000;
const CONTROL_TIMEOUT_MS = 5_000;
const FINISH_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 20_000;

/* The kernel's ceiling on samples per second (perf lowers -F to it
 * silently), or null where it cannot be read. */
export function maxSampleRate(): number | null {
  try {
    const n = Number(fs.readFileSync('/proc/sys/kernel/perf_event_max_sample_rate', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/* The perf found on PATH (spawned by path, so the probe and the recording use one binary). */
export function perfBinary(): string {
  return findExecutable('perf', '/') ?? 'perf';
}

function samplingArgs(s: PerfSettings): string[] {
  return ['-e', 'cpu-clock', '-F', String(s.frequencyHz), '--call-graph', s.callGraph === 'dwarf' ? 'dwarf,16384' : 'fp'];
}

/* Attached to a running server, events off until enabled through fd 3 (acks on fd 4). */
export function perfRecordArgs(pid: number, file: string, s: PerfSettings): string[] {
  return ['record', ...samplingArgs(s), '-p', String(pid), '-D', '-1', '--control', 'fd:3,4', '-o', file];
}

/* Around a whole command (append the command after these). */
export function perfRecordCommandArgs(file: string, s: PerfSettings): string[] {
  return ['record', '-q', ...samplingArgs(s), '-o', file, '--'];
}

/* One line for results and reports. */
export function describePerf(s: PerfSettings): string {
  return `perf record -e cpu-clock -F ${s.frequencyHz} --call-graph ${s.callGraph}, server process only, measured window only`;
}

/* The first line of a tool's stderr that says something (perf's progress
 * lines and 0x's lone "Error:" and emoji do not). */
export function firstUsefulLine(text: string | null | undefined): string {
  return (
    (text ?? '')
      .split('\n')
      .map((l) => l.replace(/^\s*\u{1F6AB}/u, '').trim())
      .find((l) => l && l !== 'Error:' && !l.startsWith('[ perf record')) ?? ''
  );
}

/* Can perf record here? A short recording of `true` answers it: perf
 * missing, perf_event_paranoid, seccomp in a container -- each gives its own
 * message, and the run goes on without profiles. */
export function probePerf(): PerfProbe {
  const perf = findExecutable('perf', '/');
  if (!perf) return { usable: false, reason: 'perf is not installed (Debian: apt-get install linux-perf)' };
  const version = spawnSync(perf, ['--version'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  if (version.status !== 0) {
    // Debian's /usr/bin/perf is a wrapper that needs the perf of the running kernel.
    return { usable: false, reason: `perf does not run: ${firstUsefulLine(version.stderr ?? '') || `exit status ${version.status}`}` };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muxbench-perf-probe-'));
  try {
    const out = path.join(dir, 'probe.data');
    const r = spawnSync(perf, ['record', '-e', 'cpu-clock', '-F', '99', '-g', '-o', out, '--', 'true'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
    if (r.status !== 0) {
      const why = firstUsefulLine(r.stderr ?? '') || (r.error ? r.error.message : `exit status ${r.status}`);
      const hint = /paranoid|permission|EACCES|EPERM|not permitted/i.test(r.stderr ?? '')
        ? ' (profiling other processes needs root, CAP_PERFMON, or kernel.perf_event_paranoid <= 1)'
        : '';
      return { usable: false, reason: `perf record is not permitted here: ${why}${hint}` };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { usable: true, version: (version.stdout ?? '').trim(), kernelSamples: kernelSamplesAllowed(), kernelFrames: kernelSymbolsReadable() };
}

/* Without privileges, perf_event_paranoid >= 2 makes perf quietly leave the
 * kernel out ("exclude_kernel"): a profile would show 0% kernel as if measured. */
function kernelSamplesAllowed(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim()) < 2;
  } catch {
    return false;
  }
}

/* Kernel frames have names only when kallsyms shows addresses to us. */
function kernelSymbolsReadable(): boolean {
  try {
    const head = fs.readFileSync('/proc/kallsyms', 'utf8').slice(0, 4096);
    return /^[0-9a-f]*[1-9a-f][0-9a-f]* /m.test(head);
  } catch {
    return false;
  }
}

/* Lines read from a stream, handed to whoever waits for one. */
function lineWaiter(stream: Readable) {
  let buffered = '';
  const waiters: ((line: string) => boolean)[] = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      // perf writes its "ack\n" with the C string's NUL after it.
      const line = buffered.slice(0, nl).replace(/\0/g, '').trim();
      buffered = buffered.slice(nl + 1);
      const i = waiters.findIndex((w) => w(line));
      if (i >= 0) waiters.splice(i, 1);
    }
  });
  return (match: (line: string) => boolean, timeoutMs: number, what: string, exited: Promise<unknown>): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`perf: no ${what} after ${timeoutMs / 1000} s`)), timeoutMs);
      waiters.push((line) => {
        if (!match(line)) return false;
        clearTimeout(timer);
        resolve();
        return true;
      });
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`perf ended before ${what}`));
      });
    });
}

/* A perf record attached to one process, events off until enable(). */
export class PerfRecording {
  private readonly stderrTail: string[] = [];
  private readonly exited: Promise<number | null>;
  private readonly waitLine: ReturnType<typeof lineWaiter>;
  private readonly stderrWait: ReturnType<typeof lineWaiter>;

  private constructor(
    private readonly child: ChildProcess,
    readonly file: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => resolve(code));
      // A failed spawn: 'close' may not follow on every Node version.
      child.on('error', (err) => {
        this.stderrTail.push(err.message);
        resolve(null);
      });
    });
    // Writes to a perf that has gone fail with EPIPE: reported through exited, not thrown.
    for (const fd of [3, 4]) (child.stdio[fd] as Readable | Writable).on('error', () => {});
    this.waitLine = lineWaiter(child.stdio[4] as Readable);
    this.stderrWait = lineWaiter(child.stderr!);
    child.stderr!.on('data', (t: string) => {
      this.stderrTail.push(...t.split('\n').filter(Boolean));
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - 10));
    });
  }

  /* Attaches to `pid`; resolves once perf is attached with events disabled. */
  static async attach(pid: number, file: string, settings: PerfSettings): Promise<PerfRecording> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // detached: a Ctrl-C in the terminal reaches muxbench only, which then
    // ends perf itself, in order (as with every other child).
    const child = spawn(perfBinary(), perfRecordArgs(pid, file, settings), {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      shell: false,
      detached: true,
    });
    trackHelperProcess(child);
    const rec = new PerfRecording(child, file);
    // perf says "Events disabled" on stderr once it has attached with -D -1.
    try {
      await rec.stderrWait((l) => /events disabled/i.test(l), ATTACH_TIMEOUT_MS, 'attach', rec.exited);
    } catch (err) {
      await rec.kill();
      throw new Error(`${(err as Error).message}${rec.stderrTail.length ? `: ${rec.stderrTail.join(' | ')}` : ''}`);
    }
    return rec;
  }

  private get gone(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined;
  }

  private async control(cmd: 'enable' | 'disable'): Promise<void> {
    if (this.gone) throw new Error(`perf ended before ${cmd}${this.stderrTail.length ? `: ${this.stderrTail.join(' | ')}` : ''}`);
    const ack = this.waitLine((l) => l === 'ack', CONTROL_TIMEOUT_MS, `ack for ${cmd}`, this.exited);
    (this.child.stdio[3] as Writable).write(`${cmd}\n`);
    await ack;
  }

  enable(): Promise<void> {
    return this.control('enable');
  }

  disable(): Promise<void> {
    return this.control('disable');
  }

  /* SIGINT makes perf write its file and exit (status 130 when attached with -p). */
  async finish(): Promise<void> {
    if (this.gone) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), FINISH_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    if (!fs.existsSync(this.file)) throw new Error(`perf wrote no ${path.basename(this.file)}${this.stderrTail.length ? `: ${this.stderrTail.join(' | ')}` : ''}`);
  }

  async kill(): Promise<void> {
    if (!this.gone) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/* `perf script` of a recording. --no-inline keeps it from running addr2line
 * for every frame (minutes on -g binaries). */
function perfScriptChild(file: string, stdout: 'pipe' | number): ChildProcess {
  const child = spawn(perfBinary(), ['script', '--no-inline', '-i', file], { stdio: ['ignore', stdout, 'pipe'], shell: false, detached: true });
  trackHelperProcess(child);
  return child;
}

function scriptDone(child: ChildProcess): Promise<void> {
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 16384) err += b.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`perf script failed (${signal ? `ended by ${signal}` : `status ${code}`}): ${firstUsefulLine(err)}`));
    });
  });
}

/* A recording folded as perf script streams it (never the whole text in memory). */
export async function foldPerfData(file: string): Promise<Folded> {
  const child = perfScriptChild(file, 'pipe');
  const done = scriptDone(child);
  const folder = new PerfScriptFolder();
  for await (const line of readline.createInterface({ input: child.stdout!, crlfDelay: Infinity })) folder.line(line);
  await done;
  return folder.result();
}

/* perf script's text into a file (0x reads it as stacks.<pid>.out). */
export async function perfScriptToFile(file: string, out: string): Promise<void> {
  const fd = fs.openSync(out, 'w');
  try {
    await scriptDone(perfScriptChild(file, fd));
  } finally {
    fs.closeSync(fd);
  }
}
