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
import { Readable, Writable } from 'node:stream';
import { findExecutable } from '../harness/catalog.js';
import { trackHelperProcess } from '../harness/process.js';

export const CALL_GRAPHS = ['fp', 'dwarf'] as const;
export type CallGraph = (typeof CALL_GRAPHS)[number];

export interface PerfSettings {
  callGraph: CallGraph;
  frequencyHz: number;
}

export const DEFAULT_PERF: PerfSettings = { callGraph: 'fp', frequencyHz: 999 };

export type PerfProbe = { usable: true; version: string; kernelFrames: boolean } | { usable: false; reason: string };

/* How long perf may take to attach and to write its file at the end. DWARF
 * call graphs copy 8 KiB of stack per sample, so writing takes longer. */
const ATTACH_TIMEOUT_MS = 15_000;
const CONTROL_TIMEOUT_MS = 5_000;
const FINISH_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 20_000;

export function perfRecordArgs(pid: number, file: string, s: PerfSettings): string[] {
  return [
    'record',
    '-e',
    'cpu-clock',
    '-F',
    String(s.frequencyHz),
    '--call-graph',
    s.callGraph === 'dwarf' ? 'dwarf,16384' : 'fp',
    '-p',
    String(pid),
    '-D',
    '-1',
    '--control',
    'fd:3,4',
    '-o',
    file,
  ];
}

/* One line for results and reports. */
export function describePerf(s: PerfSettings): string {
  return `perf record -e cpu-clock -F ${s.frequencyHz} --call-graph ${s.callGraph}, server process only, measured window only`;
}

function firstUsefulLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l && !l.startsWith('[ perf record')) ?? ''
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
  return { usable: true, version: (version.stdout ?? '').trim(), kernelFrames: kernelSymbolsReadable() };
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
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
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
    const child = spawn('perf', perfRecordArgs(pid, file, settings), {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      shell: false,
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

  private async control(cmd: 'enable' | 'disable'): Promise<void> {
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
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), FINISH_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    if (!fs.existsSync(this.file)) throw new Error(`perf wrote no ${path.basename(this.file)}${this.stderrTail.length ? `: ${this.stderrTail.join(' | ')}` : ''}`);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/* `perf script` of a recording: the text the folder reads. --no-inline keeps
 * it from running addr2line for every frame (minutes on -g binaries). */
export function perfScript(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('perf', ['script', '--no-inline', '-i', file], { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    trackHelperProcess(child);
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`perf script failed (status ${code}): ${firstUsefulLine(err)}`));
    });
  });
}
