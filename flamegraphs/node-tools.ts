/* Profiling the Node strategy's server with 0x, clinic flame and clinic
 * doctor: turning the server's argv into one that runs under the tool, and
 * collecting what the tool wrote once the server has exited.
 * docs/profiling-node.md has what was measured; the choices below follow it.
 *
 * - Each tool runs in a private working directory (`env -C`), because each
 *   drops files into its working directory: V8 --prof's isolate logs (which
 *   0x deletes afterwards with a pattern, other runs' included), clinic
 *   doctor's node_trace.*.log (and it refuses to start where one is left).
 *   The server's script path is therefore made absolute.
 * - The control channel passes through: all three give the server the
 *   tool's stdin, and its JSON lines reach the tool's stdout unchanged. clinic
 *   adds a few plain-text lines there, which the harness skips as non-JSON.
 * - Output is written when the server exits ({"cmd":"exit"}, end of stdin,
 *   or SIGINT), then the tool renders its HTML and exits: seconds, see
 *   finishTimeoutMs.
 * - 0x's own --kernel-tracing cannot be used: it runs perf through sudo
 *   (absent here: "spawn sudo ENOENT") and starts it with stdin ignored, so
 *   the server would read end of stdin and exit at once. With kernelTracing
 *   the server runs under `perf record` directly (stdin passed through) with
 *   Node's perf map, and collect() renders perf's stacks with 0x. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trackHelperProcess } from '../harness/process.js';
import { foldTicksFile } from './node-ticks.js';
import { DEFAULT_PERF, describePerf, firstUsefulLine, perfBinary, perfRecordCommandArgs, perfScriptToFile, probePerf, type PerfSettings } from './perf.js';

export const NODE_TOOLS = ['0x', 'clinic-flame', 'clinic-doctor'] as const;
export type NodeTool = (typeof NODE_TOOLS)[number];

export interface NodeToolRun {
  tool: NodeTool;
  /* argv that starts the server under the tool (argv[0] resolvable from the repository root or PATH) */
  argv: string[];
  /* What is recorded, in one line (for results.json). */
  settings: string;
  /* extra environment for it (e.g. NO_INSIGHT=1) */
  env: Record<string, string>;
  /* how long to wait, after {"cmd":"exit"}, for the tool to write its output and exit */
  finishTimeoutMs: number;
  /* When the server does not leave on {"cmd":"exit"}: send this to the
   * wrapper's whole process group (kill(-pid)). Every tool then finishes
   * normally. SIGTERM to the wrapper alone does not: 0x and clinic flame wait
   * for a server that was not told; clinic doctor dies without a report and
   * leaves the server running. */
  stopSignal: NodeJS.Signals;
  /* after the wrapped process exited: move/collect outputs into outDir, return the files made (relative to outDir) and notes for the user; throw an Error with a clear, specific reason when the tool produced nothing */
  collect(): Promise<{ files: string[]; mainHtml: string | null; notes: string[] }>;
}

export interface NodeToolProbe {
  usable: boolean;
  reason?: string;
  /* what `--version` said, when usable */
  version?: string;
}

/* Name of the tools' private working directory inside outDir; removed by collect(). */
export const TOOL_CWD = '.tool-cwd';

/* Measured on a busy 2-CPU machine for a 4-8 s profile: 0x 2.5-2.9 s, clinic
 * flame 3.1-5.9 s, clinic doctor 2.7-5.7 s, perf under 1 s (its rendering
 * happens in collect()); for a 20-25 s profile 0x took 5.6 s. Post-processing
 * grows with the length of the profile (0x runs `node --prof-process` over the
 * whole V8 log), hence the margin. */
const FINISH_TIMEOUT_MS: Record<NodeTool, number> = { '0x': 120_000, 'clinic-flame': 120_000, 'clinic-doctor': 60_000 };
const PERF_FINISH_TIMEOUT_MS = 30_000;
const RENDER_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 20_000;

/* clinic 13 without NO_INSIGHT waits on an analytics question that, without
 * a terminal, never resolves: it exits at once with status 0, having started
 * nothing. NO_UPDATE_NOTIFIER keeps it from checking the npm registry. */
const CLINIC_ENV = { NO_INSIGHT: '1', NO_UPDATE_NOTIFIER: '1' };

/* Node flags whose value is a file to load before the script. */
const NODE_FLAGS_WITH_FILE = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader']);

interface Context {
  tool: NodeTool;
  root: string;
  outDir: string;
  cwd: string;
  node: string;
  kernelTracing: boolean;
  perf: PerfSettings;
}

function isNodeBinary(argv0: string | undefined): boolean {
  // clinic insists on a binary named node (`clinic doctor -- node app.js`).
  return argv0 !== undefined && /^node(\.exe)?$/.test(path.basename(argv0));
}

/* The server's argv with its script (and preloaded files) made absolute,
 * because the tool, and so the server, runs in another directory. Node's
 * own options come first; the first argument that is not one is the script. */
function rebaseServerArgv(serverArgv: string[], root: string): string[] {
  const out = [serverArgv[0].includes('/') ? path.resolve(root, serverArgv[0]) : serverArgv[0]];
  let i = 1;
  for (; i < serverArgv.length && serverArgv[i].startsWith('-'); i++) {
    const arg = serverArgv[i];
    out.push(arg);
    if (arg === '--') {
      i++;
      break;
    }
    if (NODE_FLAGS_WITH_FILE.has(arg) && i + 1 < serverArgv.length) {
      const value = serverArgv[++i];
      // A package name stays as it is; a file relative to the root is rebased.
      out.push(!path.isAbsolute(value) && fs.existsSync(path.resolve(root, value)) ? path.resolve(root, value) : value);
    }
  }
  if (i >= serverArgv.length) throw new Error(`no script in the server's command line: ${serverArgv.join(' ')}`);
  out.push(path.resolve(root, serverArgv[i]), ...serverArgv.slice(i + 1));
  return out;
}

function toolBin(root: string, tool: NodeTool): string {
  return path.join(root, 'node_modules', '.bin', tool === '0x' ? '0x' : 'clinic');
}

/* serverArgv[0] must be "node" (or a path to node): throws an Error saying the tools profile Node programs only otherwise */
export function prepareNodeTool(tool: NodeTool, serverArgv: string[], outDir: string, root: string, opts: { kernelTracing: boolean; perf?: PerfSettings }): NodeToolRun {
  if (!NODE_TOOLS.includes(tool)) throw new Error(`unknown Node profiler '${tool}' (known: ${NODE_TOOLS.join(', ')})`);
  if (!isNodeBinary(serverArgv[0])) {
    throw new Error(`${tool} profiles Node programs only: the server's command must start with node (or a path to it), not '${serverArgv[0] ?? ''}'`);
  }
  const server = rebaseServerArgv(serverArgv, root);
  const out = path.resolve(root, outDir);
  const cwd = path.join(out, TOOL_CWD);
  // collect() finds outputs by name (clinic puts the pid in them): files of
  // an earlier run would pass for this one's.
  const earlier = fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f !== TOOL_CWD) : [];
  if (earlier.length) throw new Error(`${out} must be new or empty for ${tool}, but holds ${earlier.slice(0, 5).join(', ')}`);
  fs.mkdirSync(out, { recursive: true });
  fs.rmSync(cwd, { recursive: true, force: true });
  fs.mkdirSync(cwd);
  const ctx: Context = { tool, root, outDir: out, cwd, node: server[0], kernelTracing: tool === '0x' && opts.kernelTracing, perf: opts.perf ?? DEFAULT_PERF };
  // env -C: the tool starts in its private directory, and env execs it, so the
  // pid the harness holds is the tool's.
  const inCwd = ['env', '-C', cwd];
  const collect = () => collectOutputs(ctx, opts.kernelTracing);

  const whole = 'the whole server process (start-up, connection set-up, the window, teardown)';
  if (ctx.kernelTracing) {
    const argv = [...inCwd, perfBinary(), ...perfRecordCommandArgs(path.join(out, 'perf.data'), ctx.perf)];
    // --perf-basic-prof: the JIT's symbols in /tmp/perf-<pid>.map; interpreted
    // functions get their own frames instead of one "InterpreterEntryTrampoline".
    argv.push(server[0], '--perf-basic-prof', '--interpreted-frames-native-stack', ...server.slice(1));
    const settings = `0x rendering ${describePerf(ctx.perf).replace(/, server process only, measured window only$/, '')} of ${whole}, every thread, kernel frames included`;
    return { tool, argv, settings, env: {}, finishTimeoutMs: PERF_FINISH_TIMEOUT_MS, stopSignal: 'SIGINT', collect };
  }
  if (tool === '0x') {
    // -q: no progress lines (they rewrite the terminal line with escapes) on stderr.
    // --write-ticks: the sample list, folded by collect().
    const argv = [...inCwd, toolBin(root, tool), '-q', '--write-ticks', '--output-dir', out, '--', ...server];
    const settings = `0x (V8 --prof, a sample per ms of the main JavaScript thread) of ${whole}`;
    return { tool, argv, settings, env: {}, finishTimeoutMs: FINISH_TIMEOUT_MS[tool], stopSignal: 'SIGINT', collect };
  }
  const sub = tool === 'clinic-flame' ? 'flame' : 'doctor';
  const argv = [...inCwd, toolBin(root, tool), sub, '--open=false', '--dest', out, '--', ...server];
  const settings =
    tool === 'clinic-flame'
      ? `clinic flame (0x's V8 --prof, main JavaScript thread) of ${whole}`
      : `clinic doctor (CPU, memory, event-loop delay, handles every 10 ms; no stacks) of ${whole}`;
  return { tool, argv, settings, env: { ...CLINIC_ENV }, finishTimeoutMs: FINISH_TIMEOUT_MS[tool], stopSignal: 'SIGINT', collect };
}

/* quick check that the tool can run here (binary present, runs `--version`); reason when not.
 * With kernelTracing (0x only), also that perf can record. */
export function probeNodeTool(tool: NodeTool, root: string, opts: { kernelTracing?: boolean } = {}): NodeToolProbe {
  const bin = toolBin(root, tool);
  if (!fs.existsSync(bin)) return { usable: false, reason: `${path.basename(bin)} is not installed (${path.relative(root, bin)} is missing; run npm install)` };
  const args = tool === '0x' ? ['--version'] : [tool === 'clinic-flame' ? 'flame' : 'doctor', '--version'];
  const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, env: { ...process.env, ...CLINIC_ENV } });
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? (firstUsefulLine(r.stderr) || `exit status ${r.status}`);
    return { usable: false, reason: `${path.basename(bin)} ${args.join(' ')} failed: ${why}` };
  }
  // The wrappers are started through `env -C DIR` (GNU coreutils 8.28+).
  const env = spawnSync('env', ['-C', root, 'true'], { timeout: PROBE_TIMEOUT_MS });
  if (env.error || env.status !== 0) return { usable: false, reason: "this system's env does not support -C DIR (GNU coreutils 8.28 or later is needed)" };
  if (tool === '0x' && opts.kernelTracing) {
    const perf = probePerf();
    if (!perf.usable) return { usable: false, reason: `kernel tracing: ${perf.reason}` };
  }
  return { usable: true, version: (r.stdout ?? '').trim() };
}

async function collectOutputs(ctx: Context, kernelTracingAsked: boolean): Promise<{ files: string[]; mainHtml: string | null; notes: string[] }> {
  const notes: string[] = [];
  let mainHtml: string;
  try {
    if (ctx.kernelTracing) mainHtml = await collectPerf(ctx, notes);
    else if (ctx.tool === '0x') mainHtml = collect0x(ctx, notes);
    else if (ctx.tool === 'clinic-flame') mainHtml = collectClinicFlame(ctx, notes);
    else mainHtml = collectClinicDoctor(ctx, notes);
  } finally {
    fs.rmSync(ctx.cwd, { recursive: true, force: true });
  }
  if (kernelTracingAsked && !ctx.kernelTracing) {
    notes.push(
      ctx.tool === 'clinic-flame'
        ? "kernel tracing is not available with clinic flame (it uses 0x's perf mode, which needs sudo and gives the server no stdin); use 0x for kernel frames"
        : 'kernel tracing does not apply to clinic doctor',
    );
  }
  notes.push(
    'the profile covers the whole life of the server process (start-up, connection set-up, the measured window, shutdown), not only the measured window',
  );
  return { files: listFiles(ctx.outDir), mainHtml, notes };
}

function nonEmptyFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile() && fs.statSync(file).size > 0;
  } catch {
    return false;
  }
}

/* Files under dir, relative to it, sorted. */
function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath ?? d.path, d.name)))
    .sort();
}

function foldInto(samplesFile: string, folded: string, notes: string[]): void {
  try {
    const r = foldTicksFile(samplesFile, folded);
    notes.push(`${path.basename(folded)}: ${r.samples} samples as folded stacks${r.empty ? ` (${r.empty} samples without a stack left out)` : ''}`);
  } catch (err) {
    notes.push(`no folded stacks: ${(err as Error).message}`);
  }
}

function collect0x(ctx: Context, notes: string[]): string {
  const html = path.join(ctx.outDir, 'flamegraph.html');
  const logs = fs.readdirSync(ctx.outDir).filter((f) => /^isolate-.*-v8\.log$/.test(f));
  if (!nonEmptyFile(html)) {
    throw new Error(
      logs.length
        ? `0x wrote no flamegraph.html in ${ctx.outDir}: it recorded the V8 log (${logs.join(', ')}) but failed while processing it (its stderr is in the server's log)`
        : `0x wrote nothing in ${ctx.outDir}: no V8 log either, so the server did not run under it (its stderr, in the server's log, says why)`,
    );
  }
  // Intermediate forms of the V8 log (10 MB for a few seconds); 0x
  // --visualize-only rebuilds them from the log.
  for (const log of logs) {
    fs.rmSync(path.join(ctx.outDir, `${log}.preprocess-ready`), { force: true });
    fs.rmSync(path.join(ctx.outDir, `${log}.json`), { force: true });
  }
  const ticks = path.join(ctx.outDir, 'ticks.json');
  if (fs.existsSync(ticks)) foldInto(ticks, path.join(ctx.outDir, 'stacks.folded'), notes);
  notes.push(
    'V8 --prof (one sample per ms) of the main JavaScript thread: worker threads (--handoff) are not in it',
    `to render again: npx 0x --visualize-only ${ctx.outDir}`,
  );
  return 'flamegraph.html';
}

function collectClinicFlame(ctx: Context, notes: string[]): string {
  const html = findOne(ctx.outDir, /\.clinic-flame\.html$/);
  if (!html) {
    const leftovers = listFiles(ctx.outDir);
    throw new Error(
      leftovers.length
        ? `clinic flame wrote no HTML in ${ctx.outDir}, only ${leftovers.join(', ')}: it failed while analysing (its messages are in the server's log)`
        : `clinic flame wrote nothing in ${ctx.outDir}: the server did not run under it (its messages are in the server's log)`,
    );
  }
  const id = html.slice(0, -'.clinic-flame.html'.length);
  const samples = path.join(ctx.outDir, `${id}.clinic-flame`, `${id}.clinic-flame-samples`);
  if (fs.existsSync(samples)) foldInto(samples, path.join(ctx.outDir, 'stacks.folded'), notes);
  notes.push('clinic flame samples with 0x (V8 --prof, one sample per ms) the main JavaScript thread: worker threads (--handoff) are not in it');
  return html;
}

function collectClinicDoctor(ctx: Context, notes: string[]): string {
  const html = findOne(ctx.outDir, /\.clinic-doctor\.html$/);
  if (!html) {
    const leftovers = listFiles(ctx.outDir);
    const version = nodeVersion(ctx.node);
    const known = version && versionAtLeast(version, 21, 7) ? ` clinic doctor is known not to produce its report on Node >= 21.7 (clinicjs/node-clinic#480), and this is Node ${version}.` : '';
    throw new Error(
      (leftovers.length
        ? `clinic doctor wrote no HTML in ${ctx.outDir}, only ${leftovers.join(', ')}: it failed while analysing (its messages are in the server's log).`
        : `clinic doctor wrote nothing in ${ctx.outDir}: the server did not run under it (its messages are in the server's log).`) + known,
    );
  }
  const id = html.slice(0, -'.clinic-doctor.html'.length);
  const stat = path.join(ctx.outDir, `${id}.clinic-doctor`, `${id}.clinic-doctor-processstat`);
  if (!nonEmptyFile(stat)) notes.push('clinic doctor recorded no process samples (the server lived less than a sample interval?): its report is empty');
  const category = /"issueCategory":"([\w-]+)"/.exec(fs.readFileSync(path.join(ctx.outDir, html), 'utf8'));
  if (category) notes.push(`clinic doctor's diagnosis: ${category[1] === 'none' ? 'no issue detected' : `${category[1]} issue`}`);
  notes.push('clinic doctor samples CPU, memory, event-loop delay and active handles every 10 ms, and V8 GC trace events; it records no stacks');
  return html;
}

function findOne(dir: string, pattern: RegExp): string | null {
  return fs.readdirSync(dir).find((f) => pattern.test(f) && nonEmptyFile(path.join(dir, f))) ?? null;
}

function nodeVersion(node: string): string | null {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  return r.status === 0 ? r.stdout.trim() : null;
}

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m !== null && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
}

/* perf.data → perf script's stacks (stacks.<pid>.out, the format 0x reads
 * in its own kernel-tracing mode) → 0x's flamegraph of them. */
async function collectPerf(ctx: Context, notes: string[]): Promise<string> {
  const data = path.join(ctx.outDir, 'perf.data');
  if (!nonEmptyFile(data)) throw new Error(`perf wrote no perf.data in ${ctx.outDir}: the server did not run under it (perf's messages are in the server's log)`);
  const raw = path.join(ctx.outDir, 'stacks.out.tmp');
  try {
    await perfScriptToFile(data, raw);
    if (!nonEmptyFile(raw)) throw new Error('no output');
  } catch (err) {
    fs.rmSync(raw, { force: true });
    throw new Error(`perf script could not read ${data}: ${(err as Error).message}`);
  }
  // Its first sample line names the process: "node  2206 28699.78: ...".
  const head = readHead(raw, 4096);
  const pid = /^\S+\s+(\d+)/m.exec(head)?.[1] ?? 'server';
  const stacks = path.join(ctx.outDir, `stacks.${pid}.out`);
  fs.renameSync(raw, stacks);
  // perf script needed the JIT map; kept with the data rather than left in /tmp.
  const map = path.join(os.tmpdir(), `perf-${pid}.map`);
  if (fs.existsSync(map)) {
    fs.copyFileSync(map, path.join(ctx.outDir, `perf-${pid}.map`));
    fs.rmSync(map, { force: true });
  }
  // Not from outDir itself: 0x then takes the folder as '' and fails to read it.
  const render = await run(toolBin(ctx.root, '0x'), ['-q', '--visualize-only', ctx.outDir], { cwd: ctx.cwd, timeoutMs: RENDER_TIMEOUT_MS });
  const html = path.join(ctx.outDir, 'flamegraph.html');
  if (render.code !== 0 || !nonEmptyFile(html)) {
    throw new Error(`0x could not render perf's stacks (${path.basename(stacks)}): ${firstUsefulLine(render.stderr) || `exit status ${render.code}`}`);
  }
  notes.push(
    `perf record -e cpu-clock -F ${ctx.perf.frequencyHz} --call-graph ${ctx.perf.callGraph} of the whole server process, kernel and native frames included; JavaScript names from Node's --perf-basic-prof map`,
    `${path.basename(stacks)}: perf script output (the stacks behind the flamegraph)`,
  );
  return 'flamegraph.html';
}

function readHead(file: string, bytes: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.toString('utf8', 0, fs.readSync(fd, buf, 0, bytes, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/* Runs a helper to completion (never through a shell); stdout to a file when asked. */
function run(cmd: string, args: string[], opts: { cwd?: string; stdoutFile?: string; timeoutMs: number }): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const outFd = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w') : null;
    // detached and tracked: ended with the other children on Ctrl-C.
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', outFd ?? 'ignore', 'pipe'], detached: true });
    trackHelperProcess(child);
    if (outFd !== null) fs.closeSync(outFd);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 16384) stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, stderr: signal ? `ended by ${signal} (time limit ${opts.timeoutMs} ms)\n${stderr}` : stderr });
    });
  });
}
