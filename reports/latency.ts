/* Latency percentile curves for the report: the per-repetition HDR
 * histograms (results.json `latency_hdr`) merged as harness/stats.ts
 * mergeEncoded does, but read at any percentiles, so a chart can show the
 * tail beyond the p99.9 that latency_merged_us keeps. */
import { withMergedHistogram } from '../harness/stats.js';

/* The points of the curve; 99.99 needs ≥ 10,000 samples to mean more than "max". */
export const CURVE_PERCENTILES: readonly number[] = [50, 90, 99, 99.9, 99.99];

export interface LatencyCurve {
  /* Samples in the merged histogram. */
  count: number;
  /* percentile -> µs, in the order asked. */
  points: { percentile: number; us: number }[];
  max_us: number;
}

/* Merges the encoded histograms (ns) and reads the percentiles in µs; null
 * when none recorded anything (bulk cells may have no latency). */
export function latencyCurve(
  encoded: ReadonlyArray<string | null | undefined>,
  percentiles: readonly number[] = CURVE_PERCENTILES,
): LatencyCurve | null {
  // Merged exactly as the results' latency_merged_us, so the shared percentiles agree.
  return withMergedHistogram(encoded, (total) =>
    total.totalCount === 0
      ? null
      : {
          count: total.totalCount,
          points: percentiles.map((p) => ({ percentile: p, us: total.getValueAtPercentile(p) / 1000 })),
          max_us: total.maxValue / 1000,
        },
  );
}
