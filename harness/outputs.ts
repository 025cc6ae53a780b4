/* Files written next to results: the summary exports of a run and the
 * comparison of two runs, plus the GitHub Actions job summary. Every file is
 * written atomically (temp file, then rename), so an interrupted write
 * never leaves half a report where a complete one was. */
import fs from 'node:fs';
import path from 'node:path';
import type { ResultsFile } from './results.js';
import { summaryCsv, summaryMarkdown } from '../reports/exports.js';
import { compareMarkdown } from '../reports/markdown.js';
import type { ComparisonModel } from '../reports/compare.js';

export function writeTextAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/* GitHub Actions shows what a step appends to $GITHUB_STEP_SUMMARY on the
 * run's page; elsewhere this does nothing. A failure to append is a note,
 * not a failed run. */
export function appendStepSummary(markdown: string, note: (line: string) => void): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  try {
    fs.appendFileSync(file, markdown.endsWith('\n') ? markdown : markdown + '\n');
  } catch (err) {
    note(`note: could not append to GITHUB_STEP_SUMMARY (${(err as Error).message})`);
  }
}

/* summary.csv and summary.md in the run folder; returns their paths. */
export function writeRunExports(results: ResultsFile, dir: string): string[] {
  const csv = path.join(dir, 'summary.csv');
  const md = path.join(dir, 'summary.md');
  writeTextAtomic(csv, summaryCsv(results));
  writeTextAtomic(md, summaryMarkdown(results));
  return [csv, md];
}

/* compare.md in `dir` (created); returns its path. */
export function writeCompareOutputs(model: ComparisonModel, dir: string): { markdown: string; files: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const markdown = compareMarkdown(model);
  const md = path.join(dir, 'compare.md');
  writeTextAtomic(md, markdown);
  return { markdown, files: [md] };
}
