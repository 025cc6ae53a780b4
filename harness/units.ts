/* Parsing and formatting of sizes, counts, rates and durations.
 *
 * Sizes use binary multiples only (1K = 1024, 1G = 1 GiB): the workloads are
 * defined in KiB/GiB (64 KiB chunks, 1 GiB transfers), and a silent
 * decimal/binary mix-up would change the work by 7%. "GB"-style suffixes are
 * refused with a hint rather than guessed.
 * Counts (requests, connections) use decimal multiples (20k = 20000). */
import { UsageError } from './errors.js';

const BINARY: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

export interface ParseLimits {
  /* Accept 0 (off by default: a zero-byte transfer or zero connections is no workload). */
  allowZero?: boolean;
}

function checkResult(value: number, text: string, what: string, limits: ParseLimits): number {
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`${what}: "${text}" is not a whole number of units or is too large`);
  }
  if (value === 0 && !limits.allowZero) throw new UsageError(`${what}: must be greater than 0, got "${text}"`);
  return value;
}

/* "1G", "1GiB", "64K", "512k", "8M", "1.5G", "1048576" -> bytes. */
export function parseSize(input: string | number, what = 'size', limits: ParseLimits = {}): number {
  const text = String(input).trim();
  if (/^\d+(?:\.\d+)?\s*[kmgt]b$/i.test(text)) {
    const stem = text.slice(0, -1);
    throw new UsageError(`${what}: "${text}" is ambiguous (decimal or binary?); write ${stem} or ${stem}iB (binary)`);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text);
  if (!m) {
    if (text.startsWith('-')) throw new UsageError(`${what}: must not be negative, got "${text}"`);
    throw new UsageError(`${what}: "${text}" is not a size (examples: 1048576, 512K, 64M, 1G, 1GiB)`);
  }
  const [, num, unitRaw, tail] = m;
  const unit = unitRaw.toLowerCase();
  // "iB" without a multiplier letter ("10iB") and a bare "B" after a letter ("1GB") are not sizes.
  if (tail !== undefined && (unit === '' ? tail.toLowerCase() !== 'b' : tail.toLowerCase() !== 'ib')) {
    throw new UsageError(`${what}: "${text}" is not a size (examples: 1048576, 512K, 64M, 1G, 1GiB)`);
  }
  return checkResult(Number(num) * BINARY[unit], text, what, limits);
}

/* "20000", "20k", "1M" -> count (decimal multiples). */
export function parseCount(input: string | number, what = 'count', limits: ParseLimits = {}): number {
  const text = String(input).trim();
  const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(text);
  if (!m) {
    if (text.startsWith('-')) throw new UsageError(`${what}: must not be negative, got "${text}"`);
    throw new UsageError(`${what}: "${text}" is not a count (examples: 100, 20000, 20k, 1M)`);
  }
  return checkResult(Number(m[1]) * DECIMAL[m[2].toLowerCase()], text, what, limits);
}

/* A positive number of seconds, fractions allowed ("0.5", "120"). */
export function parseSeconds(input: string | number, what = 'seconds'): number {
  const text = String(input).trim();
  if (!/^\d+(?:\.\d+)?$/.test(text) || Number(text) <= 0) {
    throw new UsageError(`${what}: expected a positive number of seconds, got "${text}"`);
  }
  return Number(text);
}

const MIB = 2 ** 20;

export function formatMiBps(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond == null || !Number.isFinite(bytesPerSecond)) return '-';
  return `${(bytesPerSecond / MIB).toFixed(1)} MiB/s`;
}

/* Microseconds with a precision that suits the magnitude. */
export function formatMicros(us: number | null | undefined): string {
  if (us == null || !Number.isFinite(us)) return '-';
  if (us >= 1e6) return `${(us / 1e6).toFixed(2)} s`;
  if (us >= 1e4) return `${(us / 1e3).toFixed(1)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  return `${us.toFixed(2)} µs`;
}

/* Byte counts as the scenarios define them: 1073741824 -> "1 GiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = Number.isInteger(v) ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${units[i]}`;
}

/* Large counts and rates compactly: 812345 -> "812.3k". */
export function formatCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(abs >= 100 ? 0 : 2);
}

export function formatSeconds(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(1)} ms`;
  return s >= 100 ? `${s.toFixed(0)} s` : `${s.toFixed(2)} s`;
}
