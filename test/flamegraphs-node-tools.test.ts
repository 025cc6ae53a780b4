/* The Node profilers for real: the node strategy's server started under 0x,
 * clinic flame, clinic doctor (and 0x's kernel-tracing variant when perf can
 * record here), driven through the control channel with a little peer-ping
 * load, ended with {"cmd":"exit"}, and their outputs collected. */
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_TOOLS, NodeToolRun, prepareNodeTool, probeNodeTool } from '../flamegraphs/node-tools.js';
import { foldTicks } from '../flamegraphs/node-ticks.js';

/* dist/test/<this>.js -> repository root */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOADGEN = path.join(REPO, 'build', 'muxbench-loadgen');
const SERVER = ['node', 'dist/strategies/node/server.js', '--protocol', 'peer', '--listen', 'tcp:127.0.0.1:0'];
const CONNECTIONS = 10;

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'muxbench-node-tools-'));
/* Process groups (wrappers, spawned detached) and pids (load generators) still to end. */
const groups = new Set<number>();
const pids = new Set<number>();
after(() => {
  for (const g of groups) signal(-g, 'SIGKILL');
  for (const p of pids) signal(p, 'SIGKILL');
  fs.rmSync(temp, { recursive: true, force: true });
});

/* `p`, or `fallback` after `ms`; the timer is cleared so it keeps nothing waiting. */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/* A child's stdout as JSON events (other lines kept apart), and its exit. */
class Channel {
  readonly events: Record<string, unknown>[] = [];
  readonly otherLines: string[] = [];
  stderr = '';
  readonly closed: Promise<{ code: number | null; signal: string | null }>;
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((l) => l.trim())) {
        try {
          this.events.push(JSON.parse(line));
        } catch {
          this.otherLines.push(line);
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    child.stdin!.on('error', () => {});
    this.closed = new Promise((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));
  }

  async waitFor(event: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.event === event);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${event}" within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}; other stdout: ${this.otherLines.join(' | ')}`);
      const exited = await within(
        Promise.race([new Promise<boolean>((r) => this.waiters.push(() => r(false))), this.closed.then(() => true)]),
        left,
        false,
      );
      if (exited && !this.events.some((e) => e.event === event)) {
        throw new Error(`exited before "${event}"; stderr: ${this.stderr.slice(-2000)}`);
      }
    }
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }
}

async function runLoad(address: string): Promise<Record<string, unknown>> {
  const lg = spawn(LOADGEN, ['--connect', address, '--driver', 'peer-ping', '--connections', String(CONNECTIONS), '--requests', '5000'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  pids.add(lg.pid!);
  const ch = new Channel(lg);
  try {
    await ch.waitFor('ready', 15_000);
    ch.send({ cmd: 'go' });
    return await ch.waitFor('result', 30_000);
  } finally {
    lg.stdin!.end();
    await within(ch.closed, 5000, null);
    signal(lg.pid!, 'SIGKILL');
    pids.delete(lg.pid!);
  }
}

interface Session {
  listening: Record<string, unknown>;
  wrapperPid: number;
  finishMs: number;
  exit: { code: number | null; signal: string | null };
  otherLines: string[];
}

/* The server under the tool, as the harness will run it. */
async function profileServer(run: NodeToolRun): Promise<Session> {
  const child = spawn(run.argv[0], run.argv.slice(1), { cwd: REPO, env: { ...process.env, ...run.env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  groups.add(child.pid!);
  const ch = new Channel(child);
  try {
    const listening = await ch.waitFor('listening', 30_000);
    const snapshot = await (async () => {
      ch.send({ cmd: 'snapshot' });
      return ch.waitFor('snapshot', 10_000);
    })();
    assert.equal((snapshot.connections as { accepted: number }).accepted, 0);
    const result = await runLoad(String(listening.address));
    assert.equal(result.ok, true, `load generator: ${JSON.stringify(result.errors)}`);
    const started = Date.now();
    ch.send({ cmd: 'exit' });
    child.stdin!.end();
    const exit = await within(ch.closed, run.finishTimeoutMs, null);
    assert.ok(exit, `${run.tool} did not finish within ${run.finishTimeoutMs} ms; stderr: ${ch.stderr.slice(-2000)}`);
    return { listening, wrapperPid: child.pid!, finishMs: Date.now() - started, exit, otherLines: ch.otherLines };
  } finally {
    signal(-child.pid!, 'SIGKILL');
    groups.delete(child.pid!);
  }
}

function assertFilesNonEmpty(outDir: string, files: string[]): void {
  assert.ok(files.length > 0, 'no files collected');
  for (const f of files) assert.ok(fs.statSync(path.join(outDir, f)).size > 0, `${f} is empty`);
}

/* The server's own code, by file and by a function of strategies/node/peer.ts. */
function assertShowsServerCode(text: string, what: string): void {
  assert.match(text, /strategies\/node\/peer\.js/, `${what} does not mention the server's peer.js`);
  assert.match(text, /\b(onData|dispatch|parse)\b/, `${what} names none of peer.ts's functions`);
}

test('folding 0x samples: outermost frame first, anonymous functions named, empty samples left out', () => {
  const f = (name: string) => ({ name, type: 'JS' });
  const r = foldTicks([[f('main'), f('a;b')], [f('main'), f('a;b')], [], [f('main'), f(' file:///x.js:3:9')]]);
  assert.equal(r.text, 'main;(anonymous) file:///x.js:3:9 1\nmain;a:b 2\n');
  assert.deepEqual([r.samples, r.empty], [3, 1]);
  assert.throws(() => foldTicks({}), /not a list of samples/);
});

test('the tools profile Node programs only', () => {
  for (const tool of NODE_TOOLS) {
    assert.throws(
      () => prepareNodeTool(tool, ['build/muxbench-epoll', '--protocol', 'peer'], path.join(temp, 'refused'), REPO, { kernelTracing: false }),
      /profiles Node programs only.*build\/muxbench-epoll/,
    );
  }
});

test('an output folder holding an earlier run is refused', () => {
  const dir = path.join(temp, 'used');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, '123.clinic-flame.html'), 'old');
  assert.throws(() => prepareNodeTool('clinic-flame', SERVER, dir, REPO, { kernelTracing: false }), /must be new or empty.*123\.clinic-flame\.html/);
});

test('probe: each tool runs here, and a missing install is named', () => {
  for (const tool of NODE_TOOLS) {
    const p = probeNodeTool(tool, REPO);
    assert.equal(p.usable, true, `${tool}: ${p.reason}`);
    assert.match(p.version ?? '', /\d+\.\d+\.\d+/);
    const missing = probeNodeTool(tool, temp);
    assert.equal(missing.usable, false);
    assert.match(missing.reason ?? '', /not installed/);
  }
});

test('collect says clearly when the tool produced nothing', async () => {
  for (const tool of NODE_TOOLS) {
    const run = prepareNodeTool(tool, SERVER, path.join(temp, `never-${tool}`), REPO, { kernelTracing: false });
    await assert.rejects(run.collect(), /wrote nothing in .*the server did not run under it/);
  }
});

const finishTimes: string[] = [];
after(() => {
  if (finishTimes.length) process.stdout.write(`finish after {"cmd":"exit"}: ${finishTimes.join(', ')}\n`);
});

for (const tool of NODE_TOOLS) {
  test(`${tool}: control channel through the wrapper, outputs collected`, async () => {
    const outDir = path.join(temp, tool);
    const run = prepareNodeTool(tool, SERVER, outDir, REPO, { kernelTracing: false });
    const s = await profileServer(run);
    finishTimes.push(`${tool} ${(s.finishMs / 1000).toFixed(1)} s`);
    assert.notEqual(s.listening.pid, s.wrapperPid, 'the listening pid is the server, not the wrapper');
    assert.equal(s.exit.code, 0);

    const { files, mainHtml, notes } = await run.collect();
    assertFilesNonEmpty(outDir, files);
    assert.ok(mainHtml && files.includes(mainHtml), `main HTML ${mainHtml} not among ${files.join(', ')}`);
    assert.ok(!fs.existsSync(path.join(outDir, '.tool-cwd')), 'the working directory is removed');
    assert.ok(notes.some((n) => /whole life of the server/.test(n)));
    const html = fs.readFileSync(path.join(outDir, mainHtml), 'utf8');
    if (tool === 'clinic-doctor') {
      // Doctor records no stacks: its samples show the server's connections as handles.
      assert.match(html, /Clinic Doctor/);
      const handles = [...html.matchAll(/"handles":(\d+)/g)].map((m) => Number(m[1]));
      assert.ok(Math.max(0, ...handles) >= CONNECTIONS, `doctor saw at most ${Math.max(0, ...handles)} handles`);
      assert.ok(notes.some((n) => /diagnosis/.test(n)), notes.join('\n'));
    } else {
      assertShowsServerCode(html, mainHtml);
      assert.ok(files.includes('stacks.folded'), notes.join('\n'));
      assertShowsServerCode(fs.readFileSync(path.join(outDir, 'stacks.folded'), 'utf8'), 'stacks.folded');
    }
    if (tool.startsWith('clinic')) {
      // clinic's own lines reach stdout; none may look like an event.
      assert.ok(s.otherLines.some((l) => /Generated HTML file/.test(l)));
    } else {
      assert.deepEqual(s.otherLines, [], '0x -q prints nothing of its own on stdout');
    }
  });
}

test('0x with kernel tracing: perf record around the server, rendered by 0x', async (t) => {
  const probe = probeNodeTool('0x', REPO, { kernelTracing: true });
  if (!probe.usable) {
    assert.match(probe.reason ?? '', /^kernel tracing: perf/);
    t.skip(probe.reason);
    return;
  }
  const outDir = path.join(temp, '0x-kernel');
  const run = prepareNodeTool('0x', SERVER, outDir, REPO, { kernelTracing: true });
  assert.equal(path.basename(run.argv[3]), 'perf');
  const s = await profileServer(run);
  finishTimes.push(`0x kernel tracing ${(s.finishMs / 1000).toFixed(1)} s (then rendering in collect)`);
  assert.notEqual(s.listening.pid, s.wrapperPid);
  const { files, mainHtml } = await run.collect();
  assertFilesNonEmpty(outDir, files);
  assert.equal(mainHtml, 'flamegraph.html');
  const pid = String(s.listening.pid);
  assert.ok(files.includes(`stacks.${pid}.out`) && files.includes(`perf-${pid}.map`), files.join(', '));
  assert.ok(!fs.existsSync(path.join(os.tmpdir(), `perf-${pid}.map`)), 'the perf map is moved out of /tmp');
  const stacks = fs.readFileSync(path.join(outDir, `stacks.${pid}.out`), 'utf8');
  assertShowsServerCode(stacks, 'perf stacks');
  assert.match(stacks, /\[kernel\.kallsyms\]/, 'kernel frames');
  assertShowsServerCode(fs.readFileSync(path.join(outDir, mainHtml!), 'utf8'), mainHtml!);
});
