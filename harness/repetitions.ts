/* The repetitions of one cell, run as a tinybench task: `warmup` repetitions
 * first (kept in the results, left out of the statistics), then `repeat`
 * measured ones. Each repetition reports the load generator's own window
 * as its duration (tinybench's overriddenDuration), so tinybench's
 * statistics describe the fixed work, not process start-up and teardown.
 * A failed repetition, or a stop request, ends the cell. */
import { Bench } from 'tinybench';
import type { Repetition } from './results.js';

/* tinybench's statistics of the measured windows, in milliseconds. */
export interface WindowStats {
  samples: number;
  mean_ms: number;
  sd_ms: number;
  /* Relative margin of error at 95% (Student's t), in percent of the mean. */
  rme_percent: number;
  min_ms: number;
  max_ms: number;
  p50_ms: number;
}

export interface CellRepetitions {
  warmup: number;
  repeat: number;
  /* Runs repetition `n` (1-based within its phase). */
  run: (n: number, warmup: boolean) => Promise<Repetition>;
  /* Called as soon as each repetition ends (to record it and save the results). */
  done: (r: Repetition, warmup: boolean) => void;
  stopped: () => boolean;
}

class CellEnded extends Error {}

export async function runRepetitions(c: CellRepetitions): Promise<WindowStats | null> {
  let calls = 0;
  const bench = new Bench({
    iterations: c.repeat,
    time: 0,
    warmup: c.warmup > 0,
    warmupIterations: c.warmup,
    warmupTime: 0,
    throws: true,
  });
  bench.add('cell', async () => {
    const warmup = calls < c.warmup;
    calls++;
    const r = await c.run(warmup ? calls : calls - c.warmup, warmup);
    c.done(r, warmup);
    // Later repetitions of a failing cell would fail the same way, or hang the same way.
    if (r.status !== 'ok' || c.stopped()) throw new CellEnded();
    return { overriddenDuration: r.metrics!.elapsed_ns / 1e6 };
  });
  try {
    await bench.run();
  } catch (err) {
    if (err instanceof CellEnded) return null;
    throw err;
  }
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') return null;
  const l = result.latency;
  return { samples: c.repeat, mean_ms: l.mean, sd_ms: l.sd, rme_percent: l.rme, min_ms: l.min, max_ms: l.max, p50_ms: l.p50 };
}
