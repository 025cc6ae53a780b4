/* Drawing a call tree as a static SVG flamegraph, shared by the profile and
 * the differential SVGs. Root at the bottom, callees above, as flamegraph.pl
 * draws it; widths from one side of the tree's values. No script: the file
 * is safe to open anywhere, and each frame's <title> is its tooltip. */
import { escapeHtml } from '../reports/html-escape.js';
import { sortedChildren, type FlameNode } from './tree.js';

export interface SvgDrawing {
  root: FlameNode;
  /* Which of the nodes' values sets the widths. */
  side: number;
  title: string;
  subtitle?: string;
  colour(node: FlameNode): string;
  /* Lines of a frame's tooltip; the first is usually the name. */
  tooltip(node: FlameNode): string[];
  legend: { colour: string; label: string }[];
}

export const SVG_WIDTH = 1200;
const PAD = 10;
const FRAME_HEIGHT = 16;
const FONT_SIZE = 12;
/* Average Verdana glyph width per font pixel (flamegraph.pl's figure). */
const CHAR_WIDTH = 0.59;
/* Narrower frames are not drawn: unreadable, and a deep profile would
 * otherwise make a file of thousands of invisible rectangles. */
export const MIN_FRACTION = 0.001;

/* XML 1.0 forbids most control characters even escaped; a frame name could
 * hold one (names come from the profiled program), and one would make the
 * whole file unreadable. */
function xmlText(s: string): string {
  return escapeHtml(s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

function fitLabel(name: string, width: number): string {
  const fits = Math.floor(width / (FONT_SIZE * CHAR_WIDTH));
  if (fits < 3) return '';
  const chars = Array.from(name);
  return chars.length <= fits ? name : `${chars.slice(0, fits - 2).join('')}..`;
}

interface Placed {
  node: FlameNode;
  depth: number;
  x: number;
  width: number;
}

function place(d: SvgDrawing, plotWidth: number): Placed[] {
  const total = d.root.values[d.side];
  const placed: Placed[] = [];
  if (!(total > 0)) return placed;
  const scale = plotWidth / total;
  const visit = (node: FlameNode, depth: number, x: number) => {
    const width = node.values[d.side] * scale;
    if (width < plotWidth * MIN_FRACTION) return;
    placed.push({ node, depth, x, width });
    let childX = x;
    for (const child of sortedChildren(node)) {
      visit(child, depth + 1, childX);
      childX += child.values[d.side] * scale;
    }
  };
  visit(d.root, 0, PAD);
  return placed;
}

export function drawFlameSvg(d: SvgDrawing): string {
  const plotWidth = SVG_WIDTH - 2 * PAD;
  const placed = place(d, plotWidth);
  const depth = placed.reduce((m, p) => Math.max(m, p.depth), 0);
  const top = d.subtitle ? 68 : 50;
  const height = top + (depth + 1) * FRAME_HEIGHT + 2 * PAD;
  const bottom = height - PAD;
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8" standalone="no"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${SVG_WIDTH}" height="${height}" viewBox="0 0 ${SVG_WIDTH} ${height}" font-family="Verdana, sans-serif" font-size="${FONT_SIZE}">`);
  out.push(`<title>${xmlText(d.title)}</title>`);
  out.push(`<desc>Flamegraph: root at the bottom, callees above, width proportional to cost; frames under ${MIN_FRACTION * 100}% of the total are not drawn. Hover a frame for its numbers.</desc>`);
  out.push(`<rect x="0" y="0" width="${SVG_WIDTH}" height="${height}" fill="#f8f8f8"/>`);
  out.push(`<text x="${SVG_WIDTH / 2}" y="24" text-anchor="middle" font-size="17">${xmlText(d.title)}</text>`);
  if (d.subtitle) out.push(`<text x="${SVG_WIDTH / 2}" y="44" text-anchor="middle" fill="#555">${xmlText(d.subtitle)}</text>`);
  let legendX = PAD;
  const legendY = top - 12;
  for (const item of d.legend) {
    out.push(`<rect x="${legendX}" y="${legendY - 10}" width="12" height="12" fill="${xmlText(item.colour)}"/>`);
    out.push(`<text x="${legendX + 16}" y="${legendY}">${xmlText(item.label)}</text>`);
    legendX += 28 + item.label.length * FONT_SIZE * CHAR_WIDTH;
  }
  if (!placed.length) out.push(`<text x="${PAD}" y="${bottom - 4}">No samples.</text>`);
  for (const p of placed) {
    const y = bottom - (p.depth + 1) * FRAME_HEIGHT;
    const label = fitLabel(p.node.name, p.width - 6);
    out.push(
      `<g><title>${xmlText(d.tooltip(p.node).join('\n'))}</title>` +
        `<rect x="${p.x.toFixed(2)}" y="${y}" width="${p.width.toFixed(2)}" height="${FRAME_HEIGHT - 1}" rx="2" fill="${xmlText(d.colour(p.node))}"/>` +
        (label ? `<text x="${(p.x + 3).toFixed(2)}" y="${y + FRAME_HEIGHT - 4}">${xmlText(label)}</text>` : '') +
        '</g>',
    );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
