/* Every connection costs a descriptor in the load generator and one in the
 * server. Both raise their soft limit to the hard limit they inherit from
 * muxbench, so a connection count above the hard limit can never run: say so
 * up front, with the fix, instead of failing every cell. */
import fs from 'node:fs';
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

export function checkConnections(connections: number, hard = hardFdLimit()): void {
  if (hard === null || connections + SPARE_FDS <= hard) return;
  throw new UsageError(
    `${connections} connections need about ${connections + SPARE_FDS} file descriptors per process, but the open-files hard limit is ${hard}; ` +
      `raise it (as root: ulimit -Hn ${connections + SPARE_FDS}, or LimitNOFILE / limits.conf) or use fewer --connections`,
  );
}
