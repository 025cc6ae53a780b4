/* Small helpers over results.json cells shared by the report's model
 * builders: per-repetition values, medians, names, sweep labels, colours and
 * number formatting. */
import type { CellResult } from '../harness/results.js';
import { formatCount, formatMicros } from '../harness/units.js';

/* Repetitions that count: the ones summary[] was computed over. */
export function okReps(c: CellResult) {
  return c.repetitions.filter((r) => r.status === 'ok' && r.metrics);
}

/* Cells with at least one measured repetition; the others appear only under "Problems". */
export const measured = (cells: CellResult[]) => cells.filter((c) => okReps(c).length > 0);

/* A metric by its dotted summary path ("server.syscalls.read.calls_per_op"). */
function at(obj: unknown, key: string): number | undefined {
  let v: unknown = obj;
  for (const part of key.split('.')) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/* One value per ok repetition that has the metric: what compare() tests. */
export function repValues(c: CellResult, key: string): number[] {
  return okReps(c)
    .map((r) => at(r.metrics, key))
    .filter((v): v is number => v !== undefined);
}

/* The tables show summary medians as stored, never recomputed. */
export const med = (c: CellResult, key: string): number | null => c.summary[key]?.median ?? null;

/* Unique within a scenario/transport group: the label tells sweep points apart. */
export const cellName = (c: CellResult) => (c.label ? `${c.strategy} ${c.label}` : c.strategy);

/* "connections=100 handoff=2" -> [["connections","100"],["handoff","2"]]. */
export function parseLabel(label: string): [string, string][] {
  return label
    .split(' ')
    .filter(Boolean)
    .map((part) => {
      const i = part.indexOf('=');
      return i < 0 ? [part, ''] : [part.slice(0, i), part.slice(i + 1)];
    });
}

/* The label without one parameter (what stays fixed along a scaling line). */
export const labelWithout = (label: string, key: string) =>
  parseLabel(label)
    .filter(([k]) => k !== key)
    .map(([k, v]) => (v ? `${k}=${v}` : k))
    .join(' ');

/* Parameters swept among these cells: numeric label values taking at least two values. */
export function sweptParams(cells: CellResult[]): string[] {
  const values = new Map<string, Set<number>>();
  for (const c of cells) {
    for (const [k, v] of parseLabel(c.label)) {
      if (v === '' || !Number.isFinite(Number(v))) continue;
      const set = values.get(k) ?? new Set<number>();
      set.add(Number(v));
      values.set(k, set);
    }
  }
  return [...values].filter(([, set]) => set.size > 1).map(([k]) => k);
}

/* Insertion-ordered grouping: results.json is already scenario-major. */
export function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

/* Tableau-like palette: distinguishable, and readable on white. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#8c564b'];

/* A colour per name, stable across every chart of the report. */
export function colourMap(names: string[]): (name: string) => string {
  const index = new Map<string, number>();
  for (const n of names) if (!index.has(n)) index.set(n, index.size);
  return (name) => {
    const i = index.get(name) ?? 0;
    return i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137) % 360}, 55%, 45%)`;
  };
}

export type Fmt = 'text' | 'count' | 'us' | 'num' | 'int' | 'pct';

/* Table text for a number; the exact value goes alongside (data-v). */
export function formatValue(fmt: Fmt, v: number | string | null): string {
  if (v === null) return '–';
  if (typeof v === 'string') return v;
  switch (fmt) {
    case 'count':
      return formatCount(v);
    case 'us':
      return formatMicros(v);
    case 'int':
      return String(Math.round(v));
    case 'pct':
      return `${v.toFixed(0)}%`;
    default: {
      const a = Math.abs(v);
      if (a >= 1e4) return formatCount(v);
      if (a >= 100) return v.toFixed(0);
      if (a >= 1 || a === 0) return v.toFixed(2);
      return v.toPrecision(3);
    }
  }
}
