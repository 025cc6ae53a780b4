/* Tooltip text for a frame, made once here and used by both the SVG (its
 * <title>) and the page (as text in the data), so the two say the same. */
import type { FlameNode } from './tree.js';

/* Few digits, but never rounded to nothing: 1234, 12.3, 1.23, 0.00123. */
export function formatNumber(n: number): string {
  const abs = Math.abs(n);
  if (abs === 0) return '0';
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

function formatSigned(n: number): string {
  return n > 0 ? `+${formatNumber(n)}` : formatNumber(n);
}

export interface ProfileContext {
  totalSamples: number;
  periodNs: number | null;
  ops?: number;
}

export function profileLines(node: FlameNode, ctx: ProfileContext): string[] {
  const samples = node.values[0];
  const share = ctx.totalSamples > 0 ? (100 * samples) / ctx.totalSamples : 0;
  const lines = [node.name, `${samples} samples (${share.toFixed(2)}%)`];
  if (ctx.periodNs !== null) {
    const ns = samples * ctx.periodNs;
    lines.push(`CPU ${formatNumber(ns / 1e6)} ms`);
    if (ctx.ops && ctx.ops > 0) lines.push(`${formatNumber(ns / 1e3 / ctx.ops)} µs/op`);
  }
  return lines;
}

export interface DiffContext {
  unit: string;
  baseLabel: string;
  headLabel: string;
}

/* values: [base, head] cost per operation, inclusive. */
export function diffLines(node: FlameNode, ctx: DiffContext): string[] {
  const [base, head] = node.values;
  const delta = head - base;
  let change: string;
  if (base === 0 && head === 0) change = 'no cost on either side';
  else if (base === 0) change = `only in ${ctx.headLabel}`;
  else if (head === 0) change = `only in ${ctx.baseLabel}`;
  else change = `${formatSigned((100 * delta) / base)}%`;
  return [
    node.name,
    `${ctx.baseLabel} (base): ${formatNumber(base)} ${ctx.unit}`,
    `${ctx.headLabel} (head): ${formatNumber(head)} ${ctx.unit}`,
    `delta: ${formatSigned(delta)} ${ctx.unit} (${change})`,
  ];
}
