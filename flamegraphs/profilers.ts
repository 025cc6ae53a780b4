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
import readline from 'node:readline';
import { describePerf, foldPerfData, PerfRecording, PerfSettings } from './perf.js';
import { parseFolded, PerfScriptFolder, type Folded } from './fold.js';
import { summarizeProfile, type ProfileSummary } from './summary.js';
import { writeProfileFiles } from './outputs.js';
import { prepareNodeTool, NODE_TOOLS, TOOL_CWD, type NodeTool, type NodeToolRun } from './node-tools.js';
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
  launch(argv: string[]): ServerLaunch;
  /* Right before "go", with the pid the server reported; resolves when recording. */
  start(serverPid: number): Promise<void>;
  /* Right after the load generator's result. */
  stop(): Promise<void>;
  /* After teardown, whatever happened (serverPid: as the server reported
   * it, null when it never did): nothing of the profiler keeps running. */
  close(serverPid: number | null): Promise<void>;
}

export interface ServerLaunch {
  argv: string[];
  env?: Record<string, string>;
  /* How long the server may take to exit: a tool around it writes its files then. */
  exitGraceMs?: number;
  /* What ends it when it overstays that (a tool finishes cleanly on SIGINT). */
  stopSignal?: NodeJS.Signals;
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
  /* measured: the repetition's window only (perf); process: the server's
   * whole life, start-up and teardown included (0x, clinic). */
  window?: 'measured' | 'process';
  /* Operations of the profiled window (window "measured" only): per-operation costs, differential flamegraphs. */
  ops?: number;
  notes: string[];
}

export interface CellProfiling {
  profiler: WindowProfiler;
  /* After the repetition: turns what was recorded into files and a record. */
  finish(rep: { status: 'ok' | 'failed'; error?: string; ops?: number; interrupted: boolean }): Promise<ProfileRecord>;
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
  // --perf-basic-prof turns V8's logger on, which otherwise drops an
  // isolate-*.log into the server's working folder (the repository).
  const v8LogRel = `${t.stem}.v8.log`;
  let recording: PerfRecording | null = null;
  let closeError: string | null = null;
  let serverPid: number | null = null;
  const profiler: WindowProfiler = {
    launch: (argv) => (t.runtime === 'node' ? { argv: [argv[0], ...NODE_PERF_FLAGS, `--logfile=${path.join(t.runDir, v8LogRel)}`, '--no-logfile-per-isolate', ...argv.slice(1)] } : { argv }),
    async start(pid) {
      recording = await PerfRecording.attach(pid, path.join(t.runDir, dataRel), settings);
      await recording.enable();
    },
    async stop() {
      await recording?.disable();
    },
    async close(pid) {
      serverPid = pid;
      try {
        await recording?.finish();
      } catch (err) {
        closeError = (err as Error).message;
        await recording?.kill();
      }
    },
  };
  return {
    profiler,
    async finish(rep) {
      const record: ProfileRecord = { profiler: 'perf', settings: describePerf(settings), status: 'failed', window: 'measured', files: {}, notes: [] };
      try {
        if (rep.status !== 'ok') throw new Error(`the profiled repetition failed: ${rep.error ?? 'unknown error'}`);
        if (!recording) throw new Error('perf was not started');
        if (closeError) throw new Error(closeError);
        record.files.perf_data = dataRel;
        const folded = await foldPerfData(path.join(t.runDir, dataRel));
        if (folded.samples === 0) throw new Error('perf recorded no samples in the window (was the server idle, or the window very short?)');
        const made = outputs(folded, t, rep.ops);
        Object.assign(record.files, made.files);
        record.summary = made.summary;
        record.ops = rep.ops;
        if (t.runtime === 'node') record.notes.push("JavaScript frames are named from V8's perf map, which is removed after folding: perf report on perf.data shows their addresses only");
      } catch (err) {
        record.error = (err as Error).message;
        return record;
      } finally {
        // V8's perf map and log are ours (we started that node); perf script has read the map.
        if (t.runtime === 'node') {
          if (serverPid !== null) fs.rmSync(`/tmp/perf-${serverPid}.map`, { force: true });
          fs.rmSync(path.join(t.runDir, v8LogRel), { force: true });
        }
      }
      record.status = 'ok';
      return record;
    },
  };
}

function outputs(folded: Folded, t: ProfileTarget, ops: number | undefined): { files: Record<string, string>; summary: ProfileSummary } {
  return { files: { ...writeProfileFiles(t.runDir, t.stem, folded, { title: t.title, ops }) }, summary: summarizeProfile(folded) };
}

/* A tool's stacks (0x's ticks folded, or perf script text), as our own
 * files and summary, so the cell reads like a perf profile. */
async function toolStacks(dir: string, files: string[]): Promise<Folded | null> {
  const stacks = files.find((f) => /(^|\/)stacks\.(folded|\d+\.out)$/.test(f));
  if (!stacks) return null;
  const file = path.join(dir, stacks);
  if (stacks.endsWith('.folded')) return parseFolded(fs.readFileSync(file, 'utf8'));
  const folder = new PerfScriptFolder();
  for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) folder.line(line);
  return folder.result();
}

function nodeToolProfiling(tool: NodeTool, req: ProfileRequest, t: ProfileTarget): CellProfiling {
  const outDir = path.join(t.runDir, `${t.stem}.${tool}`);
  let run: NodeToolRun | null = null;
  let serverPid: number | null = null;
  const profiler: WindowProfiler = {
    launch(argv) {
      // 0x adds kernel frames through perf, when perf works here.
      run = prepareNodeTool(tool, argv, outDir, t.root, { kernelTracing: tool === '0x' && req.perfUsable, perf: req.perf });
      return { argv: run.argv, env: run.env, exitGraceMs: run.finishTimeoutMs, stopSignal: run.stopSignal };
    },
    async start() {},
    async stop() {},
    async close(pid) {
      serverPid = pid;
    },
  };
  return {
    profiler,
    async finish(rep) {
      const record: ProfileRecord = { profiler: tool, settings: '', status: 'failed', window: 'process', files: {}, notes: [] };
      try {
        if (!run) throw new Error(`${tool} was not started: ${rep.error ?? 'unknown error'}`);
        record.settings = run.settings;
        if (rep.interrupted) {
          // What collect() would have tidied: the tool's working folder and, under perf, V8's map.
          fs.rmSync(path.join(outDir, TOOL_CWD), { recursive: true, force: true });
          if (serverPid !== null) fs.rmSync(`/tmp/perf-${serverPid}.map`, { force: true });
          throw new Error(`interrupted: ${tool} was stopped before it could write its report`);
        }
        const got = await run.collect();
        const rel = (f: string) => path.relative(t.runDir, path.join(outDir, f));
        // Keyed by file name: stable across runs (0x's and clinic's names carry the pid, which is not).
        for (const f of got.files) record.files[f === got.mainHtml ? tool : f.replace(/\d{3,}/g, 'PID')] = rel(f);
        record.notes.push(...got.notes);
        const folded = await toolStacks(outDir, got.files);
        if (folded && folded.samples > 0) {
          const made = outputs(folded, t, undefined);
          Object.assign(record.files, made.files);
          record.summary = made.summary;
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
