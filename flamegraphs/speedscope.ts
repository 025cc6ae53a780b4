/* Folded stacks as a speedscope file (https://www.speedscope.app, format:
 * https://www.speedscope.app/file-format-schema.json), for its left-heavy and
 * sandwich views. Folding lost the time order, so each distinct stack is one
 * weighted sample: the time-order view shows stacks sorted, not a timeline. */
import type { Folded } from './fold.js';

export interface SpeedscopeFile {
  $schema: 'https://www.speedscope.app/file-format-schema.json';
  shared: { frames: { name: string }[] };
  profiles: {
    type: 'sampled';
    name: string;
    unit: 'nanoseconds' | 'none';
    startValue: number;
    endValue: number;
    /* Frame indices, root first. */
    samples: number[][];
    weights: number[];
  }[];
  name: string;
  activeProfileIndex: number;
  exporter: string;
}

export function toSpeedscope(f: Folded, name: string): SpeedscopeFile {
  const frames: { name: string }[] = [];
  const index = new Map<string, number>();
  const frameIndex = (frame: string): number => {
    let i = index.get(frame);
    if (i === undefined) {
      i = frames.length;
      frames.push({ name: frame });
      index.set(frame, i);
    }
    return i;
  };
  // Weights in nanoseconds when a sample's worth is known: speedscope then shows CPU time.
  const weightOf = (count: number) => (f.periodNs === null ? count : count * f.periodNs);
  const samples: number[][] = [];
  const weights: number[] = [];
  for (const [stack, count] of [...f.stacks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    samples.push(stack.split(';').map(frameIndex));
    weights.push(weightOf(count));
  }
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames },
    profiles: [
      {
        type: 'sampled',
        name,
        unit: f.periodNs === null ? 'none' : 'nanoseconds',
        startValue: 0,
        endValue: weights.reduce((a, b) => a + b, 0),
        samples,
        weights,
      },
    ],
    name,
    activeProfileIndex: 0,
    exporter: 'muxbench',
  };
}
