/* Differential profiles: where does head spend more (or less) than base per
 * operation? Two runs rarely do the same number of operations in their
 * profiled window, so raw sample counts are not comparable; each stack's
 * cost is divided by its own side's operations first. */
import type { Folded } from './fold.js';
import { changeColour, LESS_SWATCH, MORE_SWATCH, SAME_SWATCH } from './colour.js';
import { diffLines, formatNumber, type DiffContext } from './labels.js';
import { pageTree, renderFlamePage } from './page-shell.js';
import { drawFlameSvg } from './svg-draw.js';
import { buildTree, type FlameNode } from './tree.js';

export interface DiffSide {
  folded: Folded;
  ops: number;
  label: string;
}

export interface DiffResult {
  base: DiffSide;
  head: DiffSide;
  unit: 'ns/op' | 'samples/op';
  /* Per stack: base and head cost per operation. */
  stacks: Map<string, { base: number; head: number }>;
  totalBase: number;
  totalHead: number;
}

/* Cost per operation: CPU nanoseconds when both sides know what a sample is
 * worth (they may differ: each side uses its own period), else samples. */
export function diffProfiles(base: DiffSide, head: DiffSide): DiffResult {
  for (const side of [base, head]) {
    if (!(side.ops > 0) || !Number.isFinite(side.ops)) throw new Error(`diffProfiles: ${side.label} has ${side.ops} operations; a cost per operation needs a positive count`);
  }
  const nanoseconds = base.folded.periodNs !== null && head.folded.periodNs !== null;
  const perOp = (side: DiffSide) => {
    const worth = nanoseconds ? side.folded.periodNs! : 1;
    return (count: number) => (count * worth) / side.ops;
  };
  const baseCost = perOp(base);
  const headCost = perOp(head);
  const stacks = new Map<string, { base: number; head: number }>();
  for (const [stack, count] of base.folded.stacks) stacks.set(stack, { base: baseCost(count), head: 0 });
  for (const [stack, count] of head.folded.stacks) {
    const entry = stacks.get(stack) ?? { base: 0, head: 0 };
    entry.head = headCost(count);
    stacks.set(stack, entry);
  }
  return {
    base,
    head,
    unit: nanoseconds ? 'ns/op' : 'samples/op',
    stacks,
    totalBase: baseCost(base.folded.samples),
    totalHead: headCost(head.folded.samples),
  };
}

/* Labels end up on one comment line. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/* Enough decimals that the smallest non-zero cost keeps three significant
 * digits (samples/op are often tiny fractions), at least three. */
function decimalsFor(values: number[]): number {
  // A loop, not Math.min(...values): DWARF profiles have more stacks than a call takes arguments.
  let smallest = Infinity;
  for (const v of values) if (v > 0 && v < smallest) smallest = v;
  if (!Number.isFinite(smallest)) return 3;
  return Math.min(12, Math.max(3, Math.ceil(-Math.log10(smallest)) + 2));
}

/* flamegraph.pl's difffolded format ("stack base head", as difffolded.pl
 * writes it), values per operation; `flamegraph.pl` reads it directly. */
export function formatDiffFolded(d: DiffResult): string {
  const entries = [...d.stacks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const decimals = decimalsFor(entries.flatMap(([, v]) => [v.base, v.head]));
  const header =
    `# muxbench diff folded: unit=${d.unit} base=${oneLine(d.base.label)} (${d.base.ops} ops) head=${oneLine(d.head.label)} (${d.head.ops} ops)\n` +
    `# columns: stack, base cost per op, head cost per op\n`;
  return header + entries.map(([stack, v]) => `${stack} ${v.base.toFixed(decimals)} ${v.head.toFixed(decimals)}\n`).join('');
}

export interface SelfChange {
  frame: string;
  base: number;
  head: number;
  /* Two standard deviations of the difference from sampling alone (a
   * count of n samples varies by about √n): smaller changes are noise. */
  noise: number;
}

/* What one sample is worth per operation on a side. */
function sampleWorth(d: DiffResult, side: DiffSide): number {
  return (d.unit === 'ns/op' ? side.folded.periodNs! : 1) / side.ops;
}

/* Where the difference is, by function: each frame's self cost (samples
 * where it was the running function) per operation on both sides, the
 * largest changes first. Across strategies the call paths differ (io_uring
 * sends from inside io_uring_enter, poll from write), so the same kernel
 * function sits in different towers; by function, they line up. */
export function selfChanges(d: DiffResult, limit = 15): SelfChange[] {
  const byFrame = new Map<string, SelfChange>();
  for (const [stack, v] of d.stacks) {
    const frame = stack.slice(stack.lastIndexOf(';') + 1);
    const entry = byFrame.get(frame) ?? { frame, base: 0, head: 0, noise: 0 };
    entry.base += v.base;
    entry.head += v.head;
    byFrame.set(frame, entry);
  }
  const wb = sampleWorth(d, d.base);
  const wh = sampleWorth(d, d.head);
  // variance of a count c is c; in cost per op, c·w²; so var = value·w.
  for (const c of byFrame.values()) c.noise = 2 * Math.sqrt(c.base * wb + c.head * wh);
  return [...byFrame.values()]
    .filter((c) => c.base !== c.head)
    .sort((a, b) => Math.abs(b.head - b.base) - Math.abs(a.head - a.base) || (a.frame < b.frame ? -1 : 1))
    .slice(0, limit);
}

function changesTable(d: DiffResult) {
  const ctx = context(d);
  const signed = (v: number) => `${v > 0 ? '+' : v < 0 ? '−' : ''}${formatNumber(Math.abs(v))}`;
  return {
    caption: `Largest changes in self time per operation (${d.unit}): the functions that were running`,
    headers: ['function', ctx.baseLabel, ctx.headLabel, 'change', 'sampling noise (2σ)'],
    rows: selfChanges(d).map((c) => [c.frame, formatNumber(c.base), formatNumber(c.head), signed(c.head - c.base), `±${formatNumber(c.noise)}${Math.abs(c.head - c.base) > c.noise ? '' : ' (within noise)'}`]),
  };
}

function diffTree(d: DiffResult): FlameNode {
  return buildTree([...d.stacks].map(([stack, v]): [string, number[]] => [stack, [v.base, v.head]]), 2);
}

/* Leaf-rooted ("by function"): the running function at the bottom, its
 * callers above. Two strategies reach the same kernel code along different
 * paths (poll: write -> sock_write_iter -> tcp_sendmsg; io_uring:
 * io_uring_enter -> io_send -> tcp_sendmsg), so their call trees share
 * little; by function they line up. */
function byFunctionTree(d: DiffResult): FlameNode {
  return buildTree([...d.stacks].map(([stack, v]): [string, number[]] => [stack.split(';').reverse().join(';'), [v.base, v.head]]), 2);
}

export function diffHeadline(d: DiffResult): string {
  const ratio = d.totalBase > 0 ? ` (${(d.totalHead / d.totalBase).toFixed(2)}× base)` : '';
  return `${oneLine(d.head.label)} costs ${formatNumber(d.totalHead)} ${d.unit} vs ${oneLine(d.base.label)} ${formatNumber(d.totalBase)} ${d.unit}${ratio}`;
}

function context(d: DiffResult): DiffContext {
  return { unit: d.unit, baseLabel: oneLine(d.base.label), headLabel: oneLine(d.head.label) };
}

const colourOf = (n: FlameNode) => changeColour(n.values[0], n.values[1]);

function legend(d: DiffResult) {
  const ctx = context(d);
  return [
    { colour: MORE_SWATCH, label: `${ctx.headLabel} costs more per op here` },
    { colour: LESS_SWATCH, label: `${ctx.headLabel} costs less per op here` },
    { colour: SAME_SWATCH, label: 'same cost' },
  ];
}

function notes(d: DiffResult): string[] {
  const worth = d.unit === 'ns/op' ? 'samples × sample period (ns)' : 'samples (a sample period is unknown on a side)';
  return [
    `Cost per operation = ${worth} ÷ operations: ${oneLine(d.base.label)} ${d.base.ops} ops, ${d.base.folded.samples} samples; ${oneLine(d.head.label)} ${d.head.ops} ops, ${d.head.folded.samples} samples.`,
    'Colour: the change of a frame’s inclusive cost per operation relative to the larger side (a frame only one side has is full red or full blue). Width: that view’s side. Click to zoom, "Reset zoom" to go back.',
    'Two strategies reach the same kernel code along different call paths, so their call trees (the first two views) share little and show mostly red or blue; the "by function" views put the running function at the bottom and its callers above, where the same functions line up.',
  ];
}

export function renderDiffHtml(d: DiffResult, meta: { title: string; subtitle?: string }): string {
  const ctx = context(d);
  const tree = diffTree(d);
  const byFunction = byFunctionTree(d);
  const tip = (n: FlameNode) => diffLines(n, ctx);
  return renderFlamePage({
    title: meta.title,
    subtitle: meta.subtitle,
    headline: diffHeadline(d),
    legend: [...legend(d), { colour: '#e600e6', label: 'search match' }],
    views: [
      { id: 'head', label: `${ctx.headLabel}’s profile, coloured by change vs ${ctx.baseLabel}`, tree: pageTree(tree, 1, colourOf, tip) },
      { id: 'base', label: `${ctx.baseLabel}’s profile, coloured by change (what ${ctx.headLabel} removed is blue)`, tree: pageTree(tree, 0, colourOf, tip) },
      { id: 'headfn', label: `${ctx.headLabel} by function (callers above)`, tree: pageTree(byFunction, 1, colourOf, tip) },
      { id: 'basefn', label: `${ctx.baseLabel} by function (callers above)`, tree: pageTree(byFunction, 0, colourOf, tip) },
    ],
    notes: notes(d),
    table: changesTable(d),
  });
}

/* The head view: head's shape, coloured by change vs base. */
export function renderDiffSvg(d: DiffResult, meta: { title: string; subtitle?: string }): string {
  const ctx = context(d);
  return drawFlameSvg({
    root: diffTree(d),
    side: 1,
    title: meta.title,
    subtitle: [meta.subtitle, diffHeadline(d)].filter(Boolean).join(' — '),
    colour: colourOf,
    tooltip: (n) => diffLines(n, ctx),
    legend: legend(d),
  });
}
