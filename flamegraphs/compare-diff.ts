/* `muxbench compare --flamegraphs`: a differential flamegraph for every
 * compared pair of cells that both have a profile -- the same cell in two
 * runs, or two strategies on one scenario -- normalised by the operations of
 * each profiled window, so the picture shows CPU per operation. */
import fs from 'node:fs';
import path from 'node:path';
import type { CellResult, ResultsFile } from '../harness/results.js';
import type { ComparisonModel, FlamegraphDiff } from '../reports/compare.js';
import { parseFolded, renameThreads, type Folded } from './fold.js';
import { diffProfiles, selfChanges } from './diff.js';
import { writeDiffFiles } from './outputs.js';

export interface ComparedRun {
  results: ResultsFile;
  /* The folder holding its results.json: profile files are relative to it. */
  dir: string;
}

function why(c: CellResult, side: string): string | null {
  if (!c.profile) return `${side} cell has no profile (run it with --profile)`;
  if (c.profile.status !== 'ok') return `${side} profile failed: ${c.profile.error ?? 'unknown error'}`;
  if (!c.profile.files.folded) return `${side} profile has no folded stacks (${c.profile.profiler} profiles are pages only)`;
  if (!c.profile.ops) return `${side} profile has no operation count`;
  return null;
}

/* The server's main thread carries its program's name (the kernel keeps 15
 * characters): muxbench-poll vs muxbench-io_uri. Two strategies line up
 * only when that root has one name on both sides; other threads keep theirs. */
export function mainThreadAsServer(f: Folded, serverArgv: string[]): Folded {
  const comm = path.basename(serverArgv[0] ?? '').slice(0, 15);
  return renameThreads(f, (t) => (t === comm ? 'server' : t));
}

function side(run: ComparedRun, c: CellResult, label: string, lineUp: boolean) {
  const file = path.join(run.dir, c.profile!.files.folded);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${label}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const folded = parseFolded(text);
  return { folded: lineUp ? mainThreadAsServer(folded, c.server_argv) : folded, ops: c.profile!.ops!, label };
}

const fileStem = (key: string) => key.replace(/[^A-Za-z0-9._-]+/g, '-');

export function diffComparedCells(model: ComparisonModel, base: ComparedRun, head: ComparedRun, outDir: string): FlamegraphDiff[] {
  const baseCells = new Map(base.results.cells.map((c) => [c.id, c]));
  const headCells = new Map(head.results.cells.map((c) => [c.id, c]));
  return model.cells.map((cmp): FlamegraphDiff => {
    const b = baseCells.get(cmp.base_id)!;
    const h = headCells.get(cmp.head_id)!;
    const problem = why(b, 'base') ?? why(h, 'head');
    if (problem) return { key: cmp.key, problem };
    const baseLabel = model.mode === 'strategies' ? model.base_name : `base (${model.base_run})`;
    const headLabel = model.mode === 'strategies' ? model.head_name : `head (${model.head_run})`;
    try {
      const lineUp = model.mode === 'strategies';
      const d = diffProfiles(side(base, b, baseLabel, lineUp), side(head, h, headLabel, lineUp));
      const files = writeDiffFiles(outDir, path.join('flamegraphs', fileStem(cmp.key)), d, {
        title: `${headLabel} vs ${baseLabel}: ${cmp.key}`,
        subtitle: `CPU per operation; red: ${headLabel} spends more there, blue: less`,
      });
      return {
        key: cmp.key,
        unit: d.unit,
        base_per_op: d.totalBase,
        head_per_op: d.totalHead,
        files: { html: files.html, svg: files.svg, folded: files.folded },
        largest: selfChanges(d, 3),
      };
    } catch (err) {
      return { key: cmp.key, problem: (err as Error).message };
    }
  });
}
