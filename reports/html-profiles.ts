/* The report's "Profiles" section (runs with --profile): per profiled cell,
 * where the server's CPU went -- kernel or user code, the share inside the
 * multiplexing call (select/poll/epoll_wait/io_uring_enter), the frames that
 * burn the most -- next to links to its flamegraph files. */
import type { CellResult, ResultsFile } from '../harness/results.js';
import { med } from './html-cells.js';
import { isRelativePath } from './html-escape.js';
import type { Figure, Links, Section, Value } from './model.js';

const FILE_LINKS: [key: string, text: string][] = [
  ['html', 'flamegraph'],
  ['svg', 'SVG'],
  ['speedscope', 'speedscope'],
  ['folded', 'folded'],
  ['perf_data', 'perf.data'],
];

/* A profile's files live inside its run folder: a path that leaves it
 * (absolute, "..", a URL scheme) in a hand-edited file gets no link. */
const insideRun = (f: string) => isRelativePath(f) && !f.split('/').includes('..');

function links(c: CellResult, runDir: string): Links {
  const files = Object.fromEntries(Object.entries(c.profile?.files ?? {}).filter(([, f]) => insideRun(f)));
  const join = (f: string) => (runDir ? `${runDir}/${f}` : f);
  const known = FILE_LINKS.filter(([k]) => files[k]).map(([k, text]) => ({ text, href: join(files[k]) }));
  const others = Object.entries(files)
    .filter(([k]) => !FILE_LINKS.some(([known]) => known === k))
    // A tool's own page is keyed by the tool's name (0x, clinic-flame); other files go by their name.
    .map(([k, f]) => ({ text: k === c.profile?.profiler ? `${k} page` : (f.split('/').pop() ?? f), href: join(f) }));
  return { links: [...known, ...others] };
}

function profiledOpsRatio(c: CellResult): number | null {
  const profiled = c.profile?.repetition?.metrics?.throughput.ops_per_s;
  const measured = med(c, 'throughput.ops_per_s');
  return profiled && measured ? profiled / measured : null;
}

function row(c: CellResult, runDir: string): Value[] {
  const p = c.profile!;
  const s = p.summary;
  if (p.status !== 'ok') return [c.id, p.profiler, null, null, null, null, '', `failed: ${p.error ?? ''}`, links(c, runDir), null];
  if (!s) return [c.id, p.profiler, null, null, null, null, '', 'no stacks recorded (see the tool page and the notes)', links(c, runDir), null];
  const calls = s.mux_calls.map((m) => `${m.call} ${m.percent.toFixed(1)}%`).join(', ');
  const top = s.top_self
    .slice(0, 3)
    .map((f) => `${f.frame} ${f.percent.toFixed(1)}%`)
    .join('; ');
  const cpuPerOp = s.cpu_ms !== null && p.ops && p.window === 'measured' ? (s.cpu_ms * 1000) / p.ops : null;
  // Without kernel frames in the profile, its kernel share is unknown, not 0.
  const kernel = s.kernel_frames === false ? null : s.kernel_percent;
  return [c.id, p.profiler, s.samples, cpuPerOp, kernel, s.mux_percent, calls, top, links(c, runDir), profiledOpsRatio(c)];
}

export function profilesSection(results: ResultsFile, runDirFromReport: string): Section[] {
  const cells = results.cells.filter((c) => c.profile);
  const o = results.options.profile;
  if (!cells.length && !o) return [];
  const intro = [
    'One more repetition per cell ran with a profiler on the server; it is not part of any statistic above (a profiler costs CPU: the last column shows the profiled window’s throughput over the median of the measured ones).',
    'CPU µs/op counts the samples (each stands for the same CPU time) over the operations of the profiled window (perf only: 0x and clinic profile the whole server process, start-up and teardown included, so they have no per-operation figure). “Multiplexing call” is the share of samples inside select, poll, epoll_wait or io_uring_enter, counted from the kernel’s system-call entry (for io_uring this includes the sends and receives it submits). Top frames are self time: the function that was running.',
  ];
  if (o?.perf_problem) intro.push(`perf could not record here: ${o.perf_problem}. Native servers have no profiles in this run.`);
  const notes = cells.flatMap((c) => (c.profile?.notes ?? []).map((n) => `${c.id}: ${n}`));
  const figure: Figure = {
    title: `Profiled cells${o ? ` (perf: --call-graph ${o.call_graph}, ${o.frequency_hz} Hz${o.node !== 'perf' ? `; Node strategy: ${o.node}` : ''})` : ''}`,
    chart: null,
    table: {
      columns: [
        { header: 'cell', fmt: 'text' },
        { header: 'profiler', fmt: 'text' },
        { header: 'samples', fmt: 'int' },
        { header: 'CPU µs/op', fmt: 'num' },
        { header: 'kernel', fmt: 'pct' },
        { header: 'in multiplexing call', fmt: 'pct' },
        { header: 'by call', fmt: 'text' },
        { header: 'top frames (self)', fmt: 'text' },
        { header: 'files', fmt: 'text' },
        { header: 'profiled ops/s ÷ measured', fmt: 'num' },
      ],
      rows: cells.map((c) => row(c, runDirFromReport)),
    },
    note: notes.length ? notes.join(' · ') : undefined,
  };
  return [{ id: 'profiles', title: 'Profiles', intro, groups: [{ title: 'Where each server spends its CPU', notes: [], figures: [figure] }] }];
}
