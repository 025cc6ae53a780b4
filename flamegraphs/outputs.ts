/* Writing a profile's files next to a run's results: folded stacks (for
 * flamegraph.pl and other tools), the interactive page, the static SVG and
 * a speedscope file; and the three files of a differential profile. Each is
 * written atomically, so an interrupted run never leaves half a page where
 * a complete one was. Returned paths are relative to the folder given, as
 * report links want them. */
import fs from 'node:fs';
import path from 'node:path';
import { writeTextAtomic } from '../harness/outputs.js';
import { formatDiffFolded, renderDiffHtml, renderDiffSvg, type DiffResult } from './diff.js';
import { formatFolded, type Folded } from './fold.js';
import { renderFlameHtml, type FlameMeta } from './page.js';
import { toSpeedscope } from './speedscope.js';
import { renderFlameSvg } from './svg.js';

export interface ProfileFiles {
  folded: string;
  html: string;
  svg: string;
  speedscope: string;
}

export interface DiffFiles {
  html: string;
  svg: string;
  folded: string;
}

function writeUnder(dir: string, relative: string, text: string): string {
  const file = path.join(dir, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeTextAtomic(file, text);
  return relative;
}

/* base: e.g. "flamegraphs/epoll-peer-ping-tcp", relative to runDir. */
export function writeProfileFiles(runDir: string, base: string, f: Folded, meta: FlameMeta): ProfileFiles {
  return {
    folded: writeUnder(runDir, `${base}.folded`, formatFolded(f)),
    html: writeUnder(runDir, `${base}.html`, renderFlameHtml(f, meta)),
    svg: writeUnder(runDir, `${base}.svg`, renderFlameSvg(f, meta)),
    speedscope: writeUnder(runDir, `${base}.speedscope.json`, JSON.stringify(toSpeedscope(f, meta.title))),
  };
}

export function writeDiffFiles(dir: string, base: string, d: DiffResult, meta: { title: string; subtitle?: string }): DiffFiles {
  return {
    html: writeUnder(dir, `${base}.diff.html`, renderDiffHtml(d, meta)),
    svg: writeUnder(dir, `${base}.diff.svg`, renderDiffSvg(d, meta)),
    folded: writeUnder(dir, `${base}.diff.folded`, formatDiffFolded(d)),
  };
}
