/* `muxbench compare --flamegraphs`: a differential flamegraph for every
 * compared pair of cells that both have a profile -- the same cell in two
 * runs, or two strategies on one scenario -- normalised by the operations of
 * each profiled window, so the picture shows CPU per operation. */
import fs from 'node:fs';
import path from 'node:path';
import type { CellResult, ResultsFile } from '../harness/results.js';
import type { ComparisonModel, FlamegraphDiff } from '../reports/compare.js';
import { parseFolded, renameThreads, type Folded } from './fold.js';
import { diffProfiles, selfChanges, type DiffSide } from './diff.js';
import { writeDiffFiles } from './outputs.js';

export interface ComparedRun {
  results: ResultsFile;
  /* The folder holding its results.json: profile files are relative to it. */
  dir: string;
}

/* Only profiles of the measured window have a cost per operation: a tool's
 * whole-process profile (0x, clinic) has start-up and teardown in it. */
function why(c: CellResult, side: string): string | null {
  const p = c.profile;
  if (!p) return `${side} cell has no profile (runs made with --profile have them)`;
  if (p.status !== 'ok') return `${side} profile failed: ${p.error ?? 'unknown error'}`;
  if (p.window !== 'measured' || !p.ops) return `${side} profile (${p.profiler}) covers the whole server process, not the measured window: no cost per operation to compare`;
  if (!p.files.folded) return `${side} profile has no folded stacks`;
  return null;
}

/* fp and dwarf walk stacks differently (dwarf adds _start and the frames fp
 * skips): two such profiles share no stack, and a diff would be all change. */
function sameSettings(b: CellResult, h: CellResult): string | null {
  const [x, y] = [b.profile!.settings, h.profile!.settings];
  return x === y ? null : `the two profiles were recorded differently (base: ${x}; head: ${y}); profile both sides with the same --call-graph and --profile-frequency`;
}

/* The server's main thread carries its program's name (the kernel keeps 15
 * characters): muxbench-poll vs muxbench-io_uri. Two strategies line up
 * only when that root has one name on both sides; other threads keep theirs. */
export function mainThreadAsServer(f: Folded, serverArgv: string[]): Folded {
  const comm = path.basename(serverArgv[0] ?? '').slice(0, 15);
  return renameThreads(f, (t) => (t === comm ? 'server' : t));
}

/* The folded file a results.json names, only if it lies inside that run's
 * folder: a hand-edited or hostile file could name any file on the machine,
 * and what compare writes is posted where others read it. */
export function foldedFileInside(runDir: string, rel: string): string | null {
  try {
    const dir = fs.realpathSync(runDir);
    const file = fs.realpathSync(path.resolve(dir, rel));
    const inside = path.relative(dir, file);
    return inside && !inside.startsWith('..') && !path.isAbsolute(inside) ? file : null;
  } catch {
    return null;
  }
}

function side(run: ComparedRun, c: CellResult, label: string, lineUp: boolean): DiffSide {
  const rel = c.profile!.files.folded;
  const file = foldedFileInside(run.dir, rel);
  if (!file) throw new Error(`${label}: its folded stacks (${rel}) are missing or outside its run folder`);
  let folded: Folded;
  try {
    folded = parseFolded(fs.readFileSync(file, 'utf8'));
  } catch {
    // The file's content stays out of the message: it ends up in compare.md.
    throw new Error(`${label}: ${rel} is not a folded-stacks file`);
  }
  return { folded: lineUp ? mainThreadAsServer(folded, c.server_argv) : folded, ops: c.profile!.ops!, label };
}

/* File names from cell keys; two keys that map to one name (a b, a-b) get a number. */
function fileStems(keys: string[]): Map<string, string> {
  const used = new Set<string>();
  const out = new Map<string, string>();
  for (const key of keys) {
    const base = key.replace(/[^A-Za-z0-9._-]+/g, '-');
    let stem = base;
    for (let n = 2; used.has(stem); n++) stem = `${base}-${n}`;
    used.add(stem);
    out.set(key, stem);
  }
  return out;
}

export function diffComparedCells(model: ComparisonModel, base: ComparedRun, head: ComparedRun, outDir: string): FlamegraphDiff[] {
  const baseCells = new Map(base.results.cells.map((c) => [c.id, c]));
  const headCells = new Map(head.results.cells.map((c) => [c.id, c]));
  const stems = fileStems(model.cells.map((c) => c.key));
  const lineUp = model.mode === 'strategies';
  const baseLabel = lineUp ? model.base_name : `base (${model.base_run})`;
  const headLabel = lineUp ? model.head_name : `head (${model.head_run})`;
  return model.cells.map((cmp): FlamegraphDiff => {
    const b = baseCells.get(cmp.base_id)!;
    const h = headCells.get(cmp.head_id)!;
    const problem = why(b, 'base') ?? why(h, 'head') ?? sameSettings(b, h);
    if (problem) return { key: cmp.key, problem };
    try {
      const d = diffProfiles(side(base, b, baseLabel, lineUp), side(head, h, headLabel, lineUp));
      const files = writeDiffFiles(outDir, path.join('flamegraphs', stems.get(cmp.key)!), d, {
        title: `${headLabel} vs ${baseLabel}: ${cmp.key}`,
        subtitle: `CPU per operation; red: ${headLabel} spends more there, blue: less`,
      });
      return {
        key: cmp.key,
        unit: d.unit,
        base_per_op: d.totalBase,
        head_per_op: d.totalHead,
        files: { html: files.html, svg: files.svg, folded: files.folded },
        largest: selfChanges(d, 50)
          .filter((c) => Math.abs(c.head - c.base) > c.noise)
          .slice(0, 3),
      };
    } catch (err) {
      return { key: cmp.key, problem: (err as Error).message };
    }
  });
}
