/* Files written next to results: the summary exports of a run and the
 * comparison of two runs, plus the GitHub Actions job summary. Every file is
 * written atomically (temp file, then rename), so an interrupted write
 * never leaves half a report where a complete one was. */
import fs from 'node:fs';
import path from 'node:path';
import type { ResultsFile } from './results.js';
import { summaryCsv, summaryMarkdown } from '../reports/exports.js';
import { compareMarkdown } from '../reports/markdown.js';
import { renderReport } from '../reports/html.js';
import { renderCompare } from '../reports/compare-html.js';
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

/* report.html, summary.csv and summary.md in `dir`; returns their paths.
 * runDir: the run's folder, whose files (flamegraphs) the report links. */
export function writeRunReports(results: ResultsFile, dir: string, runDir = dir): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const runDirFromReport = path.relative(dir, runDir).split(path.sep).join('/');
  const files: [string, () => string][] = [
    ['report.html', () => renderReport(results, { runDirFromReport })],
    ['summary.csv', () => summaryCsv(results)],
    ['summary.md', () => summaryMarkdown(results)],
  ];
  return files.map(([name, render]) => {
    const file = path.join(dir, name);
    writeTextAtomic(file, render());
    return file;
  });
}

/* compare.md and compare.html in `dir` (created); returns their paths. */
export function writeCompareOutputs(model: ComparisonModel, dir: string): { markdown: string; files: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const markdown = compareMarkdown(model);
  const md = path.join(dir, 'compare.md');
  const page = path.join(dir, 'compare.html');
  writeTextAtomic(md, markdown);
  writeTextAtomic(page, renderCompare(model));
  return { markdown, files: [md, page] };
}
