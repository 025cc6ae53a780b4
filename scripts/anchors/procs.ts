/* Processes for the anchors benchmark: spawning (argv arrays; the only shell
 * is a one-line wrapper that reports its child's CPU time), CPU time from
 * /proc, and ending every process this command started, by PID, on normal
 * exit, on errors and on Ctrl-C. */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/* Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
export const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

export interface Started {
  label: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: string[]; // complete lines seen so far
  stderr: string; // tail (last 4 KiB)
  onLine?: (line: string) => void;
}

/* Every process this command started that may still run. */
const live = new Set<Started>();

/* After Ctrl-C nothing new is started while the started ones are ended. */
let closed = false;
export function refuseNewProcesses(): void {
  closed = true;
}

export function liveCount(): number {
  return live.size;
}

/* Spawns argv (argv[0] looked up in PATH) in its own process group, so a
 * Ctrl-C in the terminal reaches only this command, which then ends its
 * children itself. */
export function start(label: string, argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Started {
  if (closed) throw new Error(`interrupted: not starting ${label}`);
  const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const s: Started = {
    label,
    child,
    pid: child.pid ?? -1,
    stdout: [],
    stderr: '',
    exited: new Promise((resolve) => {
      child.on('error', () => resolve({ code: 127, signal: null }));
      child.on('close', (code, signal) => resolve({ code, signal }));
    }),
  };
  live.add(s);
  void s.exited.then(() => live.delete(s));
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      s.stdout.push(line);
      s.onLine?.(line);
    }
  });
  child.stdout!.on('end', () => {
    if (partial) {
      s.stdout.push(partial);
      s.onLine?.(partial);
      partial = '';
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    s.stderr = (s.stderr + chunk.toString('utf8')).slice(-4096);
  });
  child.stdin!.on('error', () => {}); // a child that exits early closes its end
  return s;
}

/* The wrapper that runs `argv` as a child of a shell and then prints the
 * shell's /proc stat line, whose cutime/cstime are exactly the CPU time of
 * the finished child (wait4 accounting): the client's CPU over its whole
 * life, read after it has exited. The open-files soft limit is raised to the
 * hard limit first (wrk needs one descriptor per connection). */
export function withChildCpu(argv: string[]): string[] {
  return ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; "$@"; s=$?; cat /proc/$$/stat; exit $s', 'sh', ...argv];
}

/* cutime + cstime (seconds) from the wrapper's last stdout line. */
export function childCpuFromStat(line: string | undefined): number {
  const f = statFields(line ?? '');
  if (!f) throw new Error(`no /proc stat line from the CPU-time wrapper (got ${JSON.stringify(line)})`);
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/* The fields after the command name: index 0 is field 3 (state) of proc(5). */
function statFields(text: string): string[] | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).trim().split(/\s+/);
  return f.length > 20 ? f : null;
}

/* CPU time of a live process (all its threads), in seconds: the sum of its
 * threads' run time in ns from /proc/<pid>/task/<tid>/schedstat where the
 * kernel has it (exact; utime + stime in /proc/<pid>/stat is the same total
 * rounded to clock ticks, 10 ms, too coarse for a 0.3 s bulk run), else
 * utime + stime. Threads that ended are not counted: the servers measured
 * here keep theirs. */
export function cpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns) && ns > 0) return ns / 1e9;
  } catch {
    /* no schedstat: fall back to the tick counts */
  }
  const f = statFields(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  if (!f) throw new Error(`cannot parse /proc/${pid}/stat`);
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/* Start time (ticks since boot): with the PID, a process's identity. */
function startTime(pid: number): string | null {
  try {
    const f = statFields(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return f ? f[19] : null;
  } catch {
    return null;
  }
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      /* the task ended */
    }
  }
  return out;
}

function descendants(pid: number, depth = 0): number[] {
  if (depth > 8) return [];
  const out: number[] = [];
  for (const c of childrenOf(pid)) out.push(...descendants(c, depth + 1), c);
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/* The promise's value, or null after ms (the timer is cleared either way, so
 * it never keeps the process alive). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/* Busy CPU seconds of the whole machine so far (all CPUs: user, nice,
 * system, irq, softirq, steal from /proc/stat). */
export function machineBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / CLK_TCK;
}

/* Benchmark programs running on this machine that this command did not
 * start (another muxbench run, wrk, iperf3, nginx): they compete for the
 * two CPUs. */
export function foreignBenchPrograms(): string[] {
  const ours = new Set<number>([process.pid, ...descendants(process.pid)]);
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || ours.has(Number(d))) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    const prog = path.basename(cmd.split(' ')[0] ?? '');
    if (/^muxbench-/.test(prog) || ['wrk', 'iperf3', 'nginx:', 'nginx'].includes(prog)) out.push(`${d} ${cmd.slice(0, 100)}`);
  }
  return out;
}

/* Ends a started process and everything below it (nginx's worker, the child
 * of a wrapper shell): each by PID, the same process (PID + start time) being
 * killed with SIGKILL if SIGTERM (or `first`) has not ended it in graceMs. */
export async function stop(s: Started, first: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (s.pid <= 0) return;
  const tree = [...descendants(s.pid), s.pid].map((pid) => ({ pid, start: startTime(pid) })).filter((p) => p.start !== null);
  for (const p of tree) {
    try {
      process.kill(p.pid, p.pid === s.pid ? first : 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const alive = () => tree.filter((p) => startTime(p.pid) === p.start && !isZombie(p.pid));
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await sleep(20);
  for (const p of alive()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await within(s.exited, 2000);
}

function isZombie(pid: number): boolean {
  try {
    const f = statFields(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return f?.[0] === 'Z';
  } catch {
    return true;
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => stop(s)));
}

/* Waits for a started process to exit, at most ms; ends it after that. */
export async function waitExit(s: Started, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const r = await within(s.exited, ms);
  if (r === null) {
    await stop(s);
    throw new Error(`${s.label} did not finish within ${Math.round(ms / 1000)} s; ended it`);
  }
  return r;
}

/* Resolves with the first stdout line matching `test`, or rejects when the
 * process exits or ms pass. */
export function waitLine(s: Started, test: (line: string) => boolean, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const found = s.stdout.find(test);
    if (found !== undefined) return resolve(found);
    const timer = setTimeout(() => reject(new Error(`${s.label}: no expected output within ${ms / 1000} s; stderr: ${s.stderr.trim().slice(-500)}`)), ms);
    const prev = s.onLine;
    s.onLine = (line) => {
      prev?.(line);
      if (test(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    void s.exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`${s.label} exited (${e.code ?? e.signal}) before the expected output; stderr: ${s.stderr.trim().slice(-500)}`));
    });
  });
}

/* A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/* Resolves when 127.0.0.1:port accepts a connection; bounded by ms. */
export async function waitForPort(port: number, ms: number, s?: Started): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (s && s.child.exitCode !== null) throw new Error(`${s.label} exited (status ${s.child.exitCode}); stderr: ${s.stderr.trim().slice(-500)}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms / 1000} s${s ? ` (${s.label}; stderr: ${s.stderr.trim().slice(-500)})` : ''}`);
    await sleep(50);
  }
}
