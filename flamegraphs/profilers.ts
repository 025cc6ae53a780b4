/* The profiled repetition of a cell: which profiler watches the server, how
 * the server is started for it, and what is left afterwards (flamegraph
 * files and a summary in results.json).
 *
 * The harness sees only WindowProfiler (four calls at fixed points of a
 * repetition) and ProfileRecord; what a profiler needs from a kind of
 * program (Node's perf map, 0x or clinic wrapping the node process) is
 * decided here from the strategy's declared runtime, never from its name. */
import fs from 'node:fs';
import path from 'node:path';
import { describePerf, perfScript, PerfRecording, PerfSettings } from './perf.js';
import { foldPerfScript, parseFolded, type Folded } from './fold.js';
import { summarizeProfile, type ProfileSummary } from './summary.js';
import { writeProfileFiles } from './outputs.js';
import { prepareNodeTool, NODE_TOOLS, type NodeTool, type NodeToolRun } from './node-tools.js';
import type { Runtime } from '../harness/catalog.js';

export const PROFILERS = ['perf', ...NODE_TOOLS] as const;
export type ProfilerName = (typeof PROFILERS)[number];

export interface ProfileRequest {
  perf: PerfSettings;
  /* perf can record here (else native servers go unprofiled). */
  perfUsable: boolean;
  /* The profiler of Node programs: perf (with V8's perf map) or a Node tool. */
  node: ProfilerName;
}

/* The profiler a cell gets, or null when none can watch it here. */
export function profilerFor(req: ProfileRequest, runtime: Runtime): ProfilerName | null {
  if (runtime === 'node' && req.node !== 'perf') return req.node;
  return req.perfUsable ? 'perf' : null;
}

/* Called by the harness at fixed points of the profiled repetition. */
export interface WindowProfiler {
  /* The server's argv and environment under this profiler; exitGraceMs:
   * how long the server may take to exit (a wrapping tool writes its files then). */
  launch(argv: string[]): { argv: string[]; env?: Record<string, string>; exitGraceMs?: number };
  /* Right before "go", with the pid the server reported; resolves when recording. */
  start(serverPid: number): Promise<void>;
  /* Right after the load generator's result. */
  stop(): Promise<void>;
  /* After teardown, whatever happened: nothing of the profiler keeps running. */
  close(): Promise<void>;
}

export interface ProfileRecord {
  profiler: ProfilerName;
  /* What was recorded, in one line. */
  settings: string;
  status: 'ok' | 'failed';
  error?: string;
  /* Output files, relative to the run folder: html, svg, folded, speedscope, perf_data, tool pages. */
  files: Record<string, string>;
  summary?: ProfileSummary;
  /* Operations of the profiled window, for per-operation costs and differential flamegraphs. */
  ops?: number;
  notes: string[];
}

export interface CellProfiling {
  profiler: WindowProfiler;
  /* After the repetition: turns what was recorded into files and a record. */
  finish(rep: { status: 'ok' | 'failed'; error?: string; ops?: number }): Promise<ProfileRecord>;
}

export interface ProfileTarget {
  runtime: Runtime;
  /* Title of the flamegraph: "epoll · peer-ping · tcp". */
  title: string;
  /* Files go to <runDir>/<stem>.* (stem like "flamegraphs/epoll-peer-ping-tcp"). */
  runDir: string;
  stem: string;
  root: string;
}

/* V8 writes /tmp/perf-<pid>.map (JIT code addresses to JS function names)
 * with this flag, and perf script reads it; interpreted frames get native
 * frames of their own so perf's frame-pointer walk sees them. */
const NODE_PERF_FLAGS = ['--perf-basic-prof', '--interpreted-frames-native-stack'];

export function profileCell(req: ProfileRequest, profiler: ProfilerName, target: ProfileTarget): CellProfiling {
  return profiler === 'perf' ? perfProfiling(req.perf, target) : nodeToolProfiling(profiler, req, target);
}

function perfProfiling(settings: PerfSettings, t: ProfileTarget): CellProfiling {
  const dataRel = `${t.stem}.perf.data`;
  let recording: PerfRecording | null = null;
  let serverPid = -1;
  const profiler: WindowProfiler = {
    launch: (argv) => (t.runtime === 'node' ? { argv: [argv[0], ...NODE_PERF_FLAGS, ...argv.slice(1)] } : { argv }),
    async start(pid) {
      serverPid = pid;
      recording = await PerfRecording.attach(pid, path.join(t.runDir, dataRel), settings);
      await recording.enable();
    },
    async stop() {
      await recording?.disable();
    },
    async close() {
      await recording?.finish().catch(() => recording?.kill());
    },
  };
  return {
    profiler,
    async finish(rep) {
      const record: ProfileRecord = { profiler: 'perf', settings: describePerf(settings), status: 'failed', files: {}, notes: [] };
      try {
        if (rep.status !== 'ok') throw new Error(`the profiled repetition failed: ${rep.error ?? 'unknown error'}`);
        if (!recording) throw new Error('perf was not started');
        await recording.finish();
        record.files.perf_data = dataRel;
        const folded = foldPerfScript(await perfScript(path.join(t.runDir, dataRel)));
        if (folded.samples === 0) throw new Error('perf recorded no samples in the window (was the server idle, or the window very short?)');
        const made = outputs(folded, t, rep.ops);
        Object.assign(record.files, made.files);
        record.summary = made.summary;
        record.ops = made.ops;
        record.status = 'ok';
      } catch (err) {
        record.error = (err as Error).message;
      } finally {
        // V8's perf map is ours (we started that node); perf script has read it.
        if (t.runtime === 'node' && serverPid > 0) fs.rmSync(`/tmp/perf-${serverPid}.map`, { force: true });
      }
      return record;
    },
  };
}

function outputs(folded: Folded, t: ProfileTarget, ops: number | undefined): Pick<ProfileRecord, 'files' | 'summary' | 'ops'> & { files: Record<string, string> } {
  const files = writeProfileFiles(t.runDir, t.stem, folded, { title: t.title, ops });
  return { files: { ...files }, summary: summarizeProfile(folded), ops };
}

function nodeToolProfiling(tool: NodeTool, req: ProfileRequest, t: ProfileTarget): CellProfiling {
  const outDir = path.join(t.runDir, `${t.stem}.${tool}`);
  let run: NodeToolRun | null = null;
  const profiler: WindowProfiler = {
    launch(argv) {
      // 0x adds kernel frames through perf, when perf works here.
      run = prepareNodeTool(tool, argv, outDir, t.root, { kernelTracing: req.perfUsable });
      return { argv: run.argv, env: run.env, exitGraceMs: run.finishTimeoutMs };
    },
    async start() {},
    async stop() {},
    async close() {},
  };
  return {
    profiler,
    async finish(rep) {
      const record: ProfileRecord = {
        profiler: tool,
        settings: `${tool} around the whole server process (start-up, connection set-up and teardown included)`,
        status: 'failed',
        files: {},
        notes: [],
        ops: rep.ops,
      };
      try {
        if (!run) throw new Error(`${tool} was not started`);
        const got = await run.collect();
        const rel = (f: string) => path.relative(t.runDir, path.join(outDir, f));
        got.files.filter((f) => f !== got.mainHtml).forEach((f, i) => (record.files[`file${i + 1}`] = rel(f)));
        if (got.mainHtml) record.files[tool] = rel(got.mainHtml);
        record.notes.push(...got.notes);
        // The tool's stacks, where it left some, also become our own files
        // and summary, so the cell reads and compares like a perf profile.
        const stacks = got.files.find((f) => /(^|\/)stacks\.(folded|\d+\.out)$/.test(f));
        if (stacks) {
          const text = fs.readFileSync(path.join(outDir, stacks), 'utf8');
          const folded = stacks.endsWith('.folded') ? parseFolded(text) : foldPerfScript(text);
          if (folded.samples > 0) {
            const made = outputs(folded, t, rep.ops);
            Object.assign(record.files, made.files);
            record.summary = made.summary;
          }
        }
        if (rep.status !== 'ok') record.notes.push(`the repetition itself failed: ${rep.error ?? 'unknown error'}`);
        record.status = 'ok';
      } catch (err) {
        record.error = (err as Error).message;
      }
      return record;
    },
  };
}
