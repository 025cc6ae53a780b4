/* The machine a run happened on, recorded with its results (DESIGN.md §7):
 * numbers from different kernels, CPUs or library versions are not
 * comparable, and a reader must be able to tell. Every probe is optional —
 * a missing tool is recorded as null, never fails the run. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface Environment {
  kernel: string;
  arch: string;
  cpu_model: string | null;
  cpu_count: number;
  cpu_governor: string | null;
  node: string;
  compiler: string | null;
  libraries: Record<string, string>;
  git: { commit: string; dirty: boolean } | null;
  /* 1-minute load average when the run started. */
  load_at_start: number;
}

/* Libraries the native strategies may link; pkg-config names. */
const LIBRARIES = ['liburing', 'libuv', 'libevent', 'libssl', 'libxxhash'];
/* Those Debian ships without a pkg-config file: name -> package. */
const PACKAGED_LIBRARIES: Record<string, string> = { libev: 'libev-dev', asio: 'libasio-dev' };

function run(cmd: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

function cpuModel(): string | null {
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const m = /^model name\s*:\s*(.+)$/m.exec(info);
    if (m) return m[1].trim();
  } catch {
    // fall through to os.cpus()
  }
  return os.cpus()[0]?.model ?? null;
}

function cpuCount(): number {
  try {
    const n = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm) ?? []).length;
    if (n > 0) return n;
  } catch {
    // fall through
  }
  return os.cpus().length;
}

function governor(): string | null {
  try {
    return fs.readFileSync('/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor', 'utf8').trim();
  } catch {
    return null; // common in VMs: no cpufreq
  }
}

function libraries(): Record<string, string> {
  const out: Record<string, string> = {};
  // One call per library: pkg-config fails as a whole when any one is missing.
  for (const lib of LIBRARIES) {
    const v = run('pkg-config', ['--modversion', lib]);
    if (v) out[lib] = v;
  }
  for (const [lib, pkg] of Object.entries(PACKAGED_LIBRARIES)) {
    const v = run('dpkg-query', ['-W', '-f=${Version}', pkg]);
    if (v) out[lib] = v;
  }
  return out;
}

function git(root: string): Environment['git'] {
  const commit = run('git', ['rev-parse', 'HEAD'], root);
  if (!commit || !/^[0-9a-f]{40}$/.test(commit)) return null;
  const status = run('git', ['status', '--porcelain', '--untracked-files=no'], root);
  return { commit, dirty: status !== null && status !== '' };
}

export function probeEnvironment(root: string): Environment {
  return {
    kernel: os.release(),
    arch: os.arch(),
    cpu_model: cpuModel(),
    cpu_count: cpuCount(),
    cpu_governor: governor(),
    node: process.version,
    compiler: run('cc', ['--version'])?.split('\n')[0] ?? null,
    libraries: libraries(),
    git: git(root),
    load_at_start: os.loadavg()[0],
  };
}

/* What makes numbers from this machine less trustworthy, said up front and
 * kept with the results. */
export function environmentWarnings(env: Environment): string[] {
  const out: string[] = [];
  if (env.cpu_count < 2) out.push(`only ${env.cpu_count} CPU: the server and the load generator compete for it, so the numbers describe the pair`);
  if (env.cpu_governor !== null && env.cpu_governor !== 'performance') {
    out.push(`CPU frequency governor is "${env.cpu_governor}", not "performance": clock changes add noise (e.g. cpupower frequency-set -g performance)`);
  }
  // Load average counts runnable tasks (and decays over a minute, so a run
  // just finished still shows); above half the CPUs, something else is busy.
  if (env.load_at_start > env.cpu_count * 0.5) {
    out.push(`the machine was busy at the start (load average ${env.load_at_start.toFixed(2)} on ${env.cpu_count} CPUs): other work competes with the measurement`);
  }
  return out;
}
