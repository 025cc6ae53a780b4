/* Files written next to results: the summary exports of a run and the
 * comparison of two runs, plus the GitHub Actions job summary. Every file is
 * written atomically (temp file, then rename), so an interrupted write
 * never leaves half a report where a complete one was. */
import fs from 'node:fs';
import path from 'node:path';
import type { ResultsFile } from './results.js';
import { UsageError } from './errors.js';
import { summaryCsv, summaryMarkdown } from '../reports/exports.js';
import { compareMarkdown } from '../reports/markdown.js';
import { renderReport } from '../reports/html.js';
import { renderCompare } from '../reports/compare-html.js';
import type { ComparisonModel } from '../reports/compare.js';

/* An output folder the user named (--out), made and checked before any
 * work: a run must not measure for minutes and then fail to save. Node's
 * recursive mkdir never returns under /proc, so pseudo file systems are
 * refused first. Problems are usage errors (exit 2) that say what is wrong. */
export function prepareOutputFolder(dir: string, flag = '--out'): void {
  const abs = path.resolve(dir);
  if (/^\/(proc|sys|dev)(\/|$)/.test(abs)) throw new UsageError(`${flag} ${dir}: ${abs.split('/')[1]} is a kernel file system, not a place for results`);
  let existing = abs;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  if (!fs.statSync(existing).isDirectory()) throw new UsageError(`${flag} ${dir}: ${existing} is a file, not a folder`);
  try {
    fs.mkdirSync(abs, { recursive: true });
    const probe = path.join(abs, `.write-test.${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (err) {
    // mkdir on a read-only mount can say ENOENT: ask the folder that exists why.
    let why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    try {
      fs.accessSync(existing, fs.constants.W_OK);
    } catch (e) {
      why = (e as NodeJS.ErrnoException).code === 'EROFS' ? 'read-only file system' : ((e as NodeJS.ErrnoException).code ?? why);
    }
    throw new UsageError(`${flag} ${dir}: cannot write there (${why})`);
  }
}

export function writeTextAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    // A full disk leaves half a temp file: remove it; the old file stays whole.
    fs.rmSync(tmp, { force: true });
    throw err;
  }
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
