/* The one self-contained HTML page both the profile and the differential
 * flamegraphs use: header, search, zoom reset, one or more views (tabs),
 * a legend; the trees travel as JSON in a <script type="application/json">
 * block (jsonForScript: nothing inside can close it) and every text from the
 * profile is escaped. */
import { escapeHtml, jsonForScript } from '../reports/html-escape.js';
import { d3Source, flameGraphCss, flameGraphSource } from './page-assets.js';
import { CLIENT_SCRIPT } from './page-client.js';
import { sortedChildren, type FlameNode } from './tree.js';

/* What the page script draws: d3-flame-graph reads name, value and
 * children; color and tip are ours (read by the colour mapper and the
 * tooltip). Keys like "c", "v", "d" are avoided: d3-flame-graph gives them
 * meanings of its own. */
export interface PageNode {
  name: string;
  value: number;
  color: string;
  tip: string;
  children?: PageNode[];
}

export interface PageView {
  /* Our own identifier (letters only): becomes an element id. */
  id: string;
  label: string;
  tree: PageNode;
}

export interface PageSpec {
  title: string;
  subtitle?: string;
  headline?: string;
  legend: { colour: string; label: string }[];
  views: PageView[];
  notes: string[];
  /* A plain table under the views (the differential page's largest changes). */
  table?: { caption: string; headers: string[]; rows: string[][] };
}

/* Frames with no cost on the drawn side are left out: they would be zero
 * wide anyway. */
export function pageTree(node: FlameNode, side: number, colour: (n: FlameNode) => string, tip: (n: FlameNode) => string[]): PageNode {
  const out: PageNode = { name: node.name, value: node.values[side], color: colour(node), tip: tip(node).join('\n') };
  const children = sortedChildren(node).filter((c) => c.values[side] > 0);
  if (children.length) out.children = children.map((c) => pageTree(c, side, colour, tip));
  return out;
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto; padding: 0 1.5rem 2rem; max-width: 1800px; }
header { border-bottom: 1px solid #ccc; margin-bottom: .8rem; }
h1 { font-size: 1.35rem; margin: .8rem 0 .2rem; }
.subtitle { color: #555; margin: 0 0 .6rem; }
.headline { font-size: 1.1rem; font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .5rem 0; }
.controls input { min-width: 18rem; padding: 2px 6px; }
button[aria-pressed="true"] { font-weight: 700; background: #dde6f3; }
.legend { display: flex; flex-wrap: wrap; gap: 1rem; margin: .4rem 0; font-size: 13px; }
.swatch { display: inline-block; width: .9rem; height: .9rem; vertical-align: -2px; margin-right: .3rem; border: 1px solid #999; }
#details { min-height: 1.4em; font-size: 13px; color: #333; white-space: pre-wrap; word-break: break-all; }
.note { color: #555; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 1rem 0; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #ddd; padding: 2px 8px; }
th { background: #f3f5f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.d3-flame-graph-tip { white-space: pre-line; word-break: break-all; max-width: 40rem; }
`;

function renderTable(t: NonNullable<PageSpec['table']>): string {
  const e = escapeHtml;
  const head = t.headers.map((h) => `<th>${e(h)}</th>`).join('');
  const rows = t.rows.map((r) => `<tr>${r.map((c, i) => `<td${i ? ' class="num"' : ''}>${e(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table id="changes"><caption>${e(t.caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

export function renderFlamePage(spec: PageSpec): string {
  const e = escapeHtml;
  const tabs =
    spec.views.length > 1
      ? spec.views.map((v, i) => `<button type="button" data-view="${e(v.id)}" aria-pressed="${i === 0}">${e(v.label)}</button>`).join('')
      : '';
  const legend = spec.legend.map((l) => `<span><span class="swatch" style="background:${e(l.colour)}"></span>${e(l.label)}</span>`).join('');
  const views = spec.views.map((v, i) => `<div class="view" id="view-${e(v.id)}"${i === 0 ? '' : ' hidden'}></div>`).join('');
  const data = { views: spec.views.map((v) => ({ id: v.id, label: v.label, tree: v.tree })) };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(spec.title)}</title>
<style>${flameGraphCss()}</style>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${e(spec.title)}</h1>
${spec.subtitle ? `<p class="subtitle">${e(spec.subtitle)}</p>` : ''}
</header>
${spec.headline ? `<p class="headline">${e(spec.headline)}</p>` : ''}
<div class="controls">${tabs}<input type="search" id="search" placeholder="Search frames (substring)" aria-label="Search frames"><button type="button" id="reset">Reset zoom</button></div>
<div class="legend">${legend}</div>
<p id="details" aria-live="polite"></p>
<div id="views">${views}</div>
${spec.notes.map((n) => `<p class="note">${e(n)}</p>`).join('\n')}
${spec.table ? renderTable(spec.table) : ''}
<script type="application/json" id="flame-data">${jsonForScript(data)}</script>
<script>${d3Source()}</script>
<script>${flameGraphSource()}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
