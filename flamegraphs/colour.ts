/* Frame colours, computed once here and handed to both the SVG and the page,
 * so a frame has the same colour in both. Kernel frames take a cool family
 * and user frames flamegraph.pl's warm one: where a loop spends its time in
 * the kernel shows at a glance. Within a family the name picks the shade, so
 * neighbouring frames stay apart and a frame keeps its colour across
 * profiles. */
import { isKernelFrame } from './tree.js';

/* FNV-1a: a stable, well-spread 32-bit hash of the name. */
function hash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function rgb(r: number, g: number, b: number): string {
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

export function frameColour(name: string): string {
  const h = hash(name);
  const a = (h & 0xff) / 255;
  const b = ((h >>> 8) & 0xff) / 255;
  const c = ((h >>> 16) & 0xff) / 255;
  if (isKernelFrame(name)) return rgb(40 + 60 * a, 150 + 60 * b, 190 + 55 * c);
  return rgb(205 + 50 * a, 60 + 170 * b, 55 * c);
}

export const KERNEL_SWATCH = frameColour('kernel_[k]');
export const USER_SWATCH = frameColour('user');

const NEUTRAL = [232, 232, 232];
const MORE = [214, 39, 40];
const LESS = [31, 119, 180];

/* Change of a frame's cost per operation, from neutral grey (same) to red
 * (head costs more here) or blue (head costs less). The strength is the
 * change relative to the larger side, so a frame only one side has is full
 * red or full blue whatever its size. */
export function changeColour(base: number, head: number): string {
  const larger = Math.max(base, head);
  const change = larger > 0 ? (head - base) / larger : 0;
  const target = change >= 0 ? MORE : LESS;
  const t = Math.min(1, Math.abs(change));
  return rgb(...(NEUTRAL.map((n, i) => n + (target[i] - n) * t) as [number, number, number]));
}

export const MORE_SWATCH = changeColour(0, 1);
export const LESS_SWATCH = changeColour(1, 0);
export const SAME_SWATCH = changeColour(1, 1);
