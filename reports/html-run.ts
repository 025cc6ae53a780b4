/* Sections 6 and 7 of the report: what did not go to plan (strategies not
 * run, failed and client-bound cells, warnings), and where and how the run
 * happened, with the command line to run it again. */
import type { ResultsFile } from '../harness/results.js';
import { med } from './html-cells.js';
import type { Figure, Section, Value } from './model.js';

const textTable = (title: string, headers: string[], rows: Value[][], note?: string): Figure => ({
  title,
  chart: null,
  table: { columns: headers.map((header) => ({ header, fmt: 'text' as const })), rows },
  note,
});

export function problemsSection(results: ResultsFile): Section {
  const { cells } = results;
  const failed = cells
    .filter((c) => c.status !== 'ok')
    .map((c) => {
      // A cell's error, else the first failed repetition's (the run stops a cell at its first failure).
      const error = c.error ?? c.repetitions.find((r) => r.status === 'failed')?.error ?? '';
      return [c.id, c.status, error];
    });
  const clientBound = cells.filter((c) => c.client_bound).map((c) => [c.id, med(c, 'client.busy_percent'), med(c, 'server.cpu_percent')]);
  const warnings: Value[][] = results.warnings.map((w) => ['run', w]);
  for (const c of cells) {
    for (const r of [...c.warmup_repetitions, ...c.repetitions]) {
      const where = `${c.id} rep ${r.rep}`;
      for (const w of r.warnings ?? []) warnings.push([where, w]);
      for (const e of r.client_errors ?? []) warnings.push([where, `load generator: ${e}`]);
      if (r.consistency?.ok === false) warnings.push([where, 'server and load generator byte counts disagree']);
    }
  }
  return {
    id: 'problems',
    title: 'Problems',
    intro: [],
    groups: [
      {
        title: 'What to keep in mind',
        notes: [],
        figures: [
          textTable('Strategies not run', ['strategy', 'reason'], results.unavailable.map((u) => [u.strategy, u.reason])),
          textTable('Combinations not run', ['why'], (results.skipped ?? []).map((s) => [s])),
          textTable('Failed or unfinished cells', ['cell', 'status', 'error'], failed),
          {
            title: 'Client-bound cells',
            chart: null,
            note: 'The load generator was ≥ 90% busy (median): the server may be faster than measured.',
            table: {
              columns: [
                { header: 'cell', fmt: 'text' },
                { header: 'client busy', fmt: 'pct' },
                { header: 'server CPU', fmt: 'pct' },
              ],
              rows: clientBound,
            },
          },
          textTable('Warnings', ['where', 'warning'], warnings),
        ],
      },
    ],
  };
}

/* POSIX shell quoting, so the line can be pasted as is. */
export function shellQuote(args: string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function environmentSection(results: ResultsFile): Section {
  const e = results.environment;
  const rows: Value[][] = [
    ['run id', results.run_id],
    ['status', results.status],
    ['started', results.started],
    ['finished', results.finished ?? '–'],
    ['kernel', `${e.kernel} (${e.arch})`],
    ['CPU', `${e.cpu_model ?? 'unknown'} × ${e.cpu_count}`],
    ['CPU governor', e.cpu_governor ?? 'not readable'],
    ['Node.js', e.node],
    ['compiler', e.compiler ?? 'not found'],
    ...Object.entries(e.libraries).map(([k, v]): Value[] => [k, v]),
    ['git commit', e.git ? `${e.git.commit}${e.git.dirty ? ' (uncommitted changes)' : ''}` : 'not a git tree'],
    ['load at start', String(e.load_at_start)],
    ...Object.entries(results.options).map(([k, v]): Value[] => [`option ${k}`, JSON.stringify(v)]),
  ];
  return {
    id: 'environment',
    title: 'Environment and reproduction',
    intro: [],
    groups: [
      {
        title: 'Command line',
        notes: [
          'To reproduce, run this from the same commit (the git commit is in the table below); the second line is the exact argv, with the paths of that machine.',
        ],
        code: `muxbench ${shellQuote(results.command_line.slice(2))}\n${shellQuote(results.command_line)}`,
        figures: [textTable('Machine and options', ['what', 'value'], rows)],
      },
    ],
  };
}
