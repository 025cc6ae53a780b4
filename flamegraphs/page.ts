/* A profile as one interactive, self-contained HTML flamegraph
 * (d3-flame-graph): click a frame to zoom, search frames, reset; tooltips
 * give samples, share, CPU and µs/op. Kernel frames in the cool family,
 * user frames in the warm one. */
import type { Folded } from './fold.js';
import { frameColour, KERNEL_SWATCH, USER_SWATCH } from './colour.js';
import { profileLines } from './labels.js';
import { pageTree, renderFlamePage } from './page-shell.js';
import { singleSideTree } from './tree.js';

export interface FlameMeta {
  title: string;
  subtitle?: string;
  /* Operations done while the profile was recorded: adds µs/op to tooltips (with a known sample period). */
  ops?: number;
}

export function renderFlameHtml(f: Folded, meta: FlameMeta): string {
  const ctx = { totalSamples: f.samples, periodNs: f.periodNs, ops: meta.ops };
  const tree = pageTree(singleSideTree(f.stacks), 0, (n) => frameColour(n.name), (n) => profileLines(n, ctx));
  const period = f.periodNs === null ? 'sample period unknown' : `one sample = ${f.periodNs} ns of CPU`;
  return renderFlamePage({
    title: meta.title,
    subtitle: meta.subtitle,
    legend: [
      { colour: USER_SWATCH, label: 'user frames' },
      { colour: KERNEL_SWATCH, label: 'kernel frames (_[k])' },
      { colour: '#e600e6', label: 'search match' },
    ],
    views: [{ id: 'profile', label: 'the profile', tree }],
    notes: [
      `${f.samples} samples, ${period}. Width: share of samples; root (all) at the bottom, one tower per thread, callees above. Click a frame to zoom in, "Reset zoom" to go back.`,
    ],
  });
}
