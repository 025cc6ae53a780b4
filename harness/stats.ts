/* Statistics: latency percentiles from the load generator's histogram
 * buckets, and median/min/max of every metric over a cell's repetitions. */
import { mean, median, relativeMarginOfError, sd } from './comparison.js';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, Histogram } from 'hdr-histogram-js';

export interface LatencyUs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
}

/* Merges [value_ns, count] buckets into an HDR histogram (3 significant
 * digits, the resolution the buckets are reported at) and reads the
 * percentiles in microseconds. Returns null when nothing was recorded (a
 * bulk transfer may report no per-operation latency). */
function histogramOf(buckets: ReadonlyArray<readonly [number, number]>): Histogram {
  const h = build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3, autoResize: true });
  for (const [value, count] of buckets) {
    if (count > 0) h.recordValueWithCount(Math.max(0, Math.round(value)), count);
  }
  return h;
}

export function latencyFromBuckets(buckets: ReadonlyArray<readonly [number, number]>): LatencyUs | null {
  const h = histogramOf(buckets);
  try {
    return percentiles(h);
  } finally {
    h.destroy();
  }
}

/* The histogram in HDR's compressed base64 form; null when empty. */
export function encodeBuckets(buckets: ReadonlyArray<readonly [number, number]>): string | null {
  const h = histogramOf(buckets);
  try {
    return h.totalCount ? encodeIntoCompressedBase64(h) : null;
  } finally {
    h.destroy();
  }
}

/* Merges encoded histograms (repetitions of a cell, or the same cell of two
 * runs) into one and lets `read` look at it before it is freed. */
export function withMergedHistogram<T>(encoded: ReadonlyArray<string | null | undefined>, read: (h: Histogram) => T): T {
  const total = build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3, autoResize: true });
  try {
    for (const e of encoded) {
      if (!e) continue;
      const h = decodeFromCompressedBase64(e, 64, false);
      total.add(h);
      h.destroy();
    }
    return read(total);
  } finally {
    total.destroy();
  }
}

/* The percentiles of the merged histograms. */
export function mergeEncoded(encoded: ReadonlyArray<string | null | undefined>): LatencyUs | null {
  return withMergedHistogram(encoded, percentiles);
}

function percentiles(h: Histogram): LatencyUs | null {
  if (h.totalCount === 0) return null;
  const us = (ns: number) => ns / 1000;
  return {
    count: h.totalCount,
    p50: us(h.getValueAtPercentile(50)),
    p90: us(h.getValueAtPercentile(90)),
    p99: us(h.getValueAtPercentile(99)),
    p99_9: us(h.getValueAtPercentile(99.9)),
    max: us(h.maxValue),
  };
}

/* One definition of the median for the whole harness (comparison.ts). */
export { median };

export interface Spread {
  median: number;
  min: number;
  max: number;
  mean: number;
  /* Sample standard deviation and relative margin of error at 95% (percent
   * of the mean, Student's t, as tinybench computes it); null below 2 values
   * or for a zero mean. */
  sd: number | null;
  rme_percent: number | null;
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

export function spread(values: number[]): Spread {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    mean: mean(values),
    sd: values.length > 1 ? finiteOrNull(sd(values)) : null,
    rme_percent: values.length > 1 ? finiteOrNull(relativeMarginOfError(values)) : null,
  };
}

/* Numeric leaves of a nested object as dotted paths:
 * {throughput:{ops_per_s:5}} -> {"throughput.ops_per_s": 5}. Non-numbers
 * (flags, strings, nulls) are not statistics and are skipped. */
export function numericLeaves(obj: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof obj === 'number') {
    if (Number.isFinite(obj) && prefix) out[prefix] = obj;
  } else if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) numericLeaves(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/* median/min/max/mean/sd/rme per metric over the repetitions. A metric missing from some
 * repetitions (e.g. a syscall kind seen only once) is summarised over those
 * that have it. */
export function summarize(reps: object[]): Record<string, Spread> {
  const columns = new Map<string, number[]>();
  for (const r of reps) {
    for (const [k, v] of Object.entries(numericLeaves(r))) {
      const col = columns.get(k) ?? [];
      col.push(v);
      columns.set(k, col);
    }
  }
  const out: Record<string, Spread> = {};
  for (const k of [...columns.keys()].sort()) out[k] = spread(columns.get(k)!);
  return out;
}
