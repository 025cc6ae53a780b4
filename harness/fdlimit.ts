/* Every connection costs a descriptor in the load generator and one in the
 * server. Both raise their soft limit to the hard limit they inherit from
 * muxbench, so a connection count above the hard limit can never run: say so
 * up front, with the fix, instead of failing every cell. */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { UsageError } from './errors.js';

/* Descriptors a process needs beyond its connections (stdio, epoll, listener, logs). */
const SPARE_FDS = 64;

/* The hard RLIMIT_NOFILE from /proc/self/limits; null when unknown or unlimited. */
export function hardFdLimit(text = readLimits()): number | null {
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(text ?? '');
  if (!m || m[1] === 'unlimited') return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

function readLimits(): string | null {
  try {
    return fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
}

export function checkConnections(connections: number, hard = hardFdLimit(), nrOpen = kernelFdCeiling()): void {
  if (hard === null || connections + SPARE_FDS <= hard) return;
  const need = connections + SPARE_FDS;
  // No process may go above fs.nr_open, whatever its privileges.
  const ceiling = nrOpen !== null && need > nrOpen ? ` (above the kernel's ceiling fs.nr_open = ${nrOpen}: raise that first, e.g. sysctl -w fs.nr_open=${need})` : '';
  throw new UsageError(
    `${connections} connections need about ${need} file descriptors per process, but the open-files hard limit is ${hard}; ` +
      `raise it (as root: ulimit -Hn ${need}${ceiling}, or LimitNOFILE / limits.conf) or use fewer --connections`,
  );
}

function kernelFdCeiling(): number | null {
  try {
    const n = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/* The soft limit is the children's business (they raise it to the hard
 * limit). The hard limit is inherited from muxbench: when it is too low and
 * muxbench may raise it (root, or CAP_SYS_RESOURCE), raise it on muxbench
 * itself with prlimit(1) so every child inherits it; otherwise say what to do. */
export function ensureFdLimit(connections: number, raise: (need: number) => boolean = raiseOwnLimit): void {
  const hard = hardFdLimit();
  if (hard === null || connections + SPARE_FDS <= hard) return;
  if (raise(connections + SPARE_FDS)) {
    const now = hardFdLimit();
    if (now === null || connections + SPARE_FDS <= now) return;
  }
  checkConnections(connections);
}

function raiseOwnLimit(need: number): boolean {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${need}:${need}`], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0;
}
