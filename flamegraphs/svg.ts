/* A profile as a static SVG flamegraph (root at the bottom, as
 * flamegraph.pl draws it): for a README, a PR comment or a viewer without
 * JavaScript. Kernel frames in the cool family, user frames in the warm one;
 * every frame's <title> gives samples, share, CPU and µs/op. */
import type { Folded } from './fold.js';
import type { FlameMeta } from './page.js';
import { frameColour, KERNEL_SWATCH, USER_SWATCH } from './colour.js';
import { profileLines } from './labels.js';
import { drawFlameSvg } from './svg-draw.js';
import { singleSideTree } from './tree.js';

export function renderFlameSvg(f: Folded, meta: FlameMeta): string {
  const ctx = { totalSamples: f.samples, periodNs: f.periodNs, ops: meta.ops };
  return drawFlameSvg({
    root: singleSideTree(f.stacks),
    side: 0,
    title: meta.title,
    subtitle: meta.subtitle,
    colour: (node) => frameColour(node.name),
    tooltip: (node) => profileLines(node, ctx),
    legend: [
      { colour: USER_SWATCH, label: 'user' },
      { colour: KERNEL_SWATCH, label: 'kernel' },
    ],
  });
}
