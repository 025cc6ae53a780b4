/* The CLI end to end, on a fixture tree whose "native" programs are the node
 * stand-ins of test/fixtures/ (MUXBENCH_ROOT points the CLI at it). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { CLI, fakeRepo, writeJson } from './harness-fixture.js';
import { readResults } from '../harness/results.js';
import { decidePinning } from '../harness/process.js';

function cli(root: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, MUXBENCH_ROOT: root }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function latestResults(root: string) {
  const dir = fs.realpathSync(path.join(root, 'results', 'latest'));
  return { dir, results: readResults(path.join(dir, 'results.json')) };
}

test('run --quick: every cell runs, results.json records the measured window', () => {
  const root = fakeRepo();
  const r = cli(root, 'run', '--quick', '--strategies', 'fake');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /\[1\/2\] fake echo tcp rep 1\/1 … /);
  assert.match(r.out, /\[2\/2\] fake echo unix rep 1\/1 … /);
  assert.match(r.out, /scenario\s+transport\s+strategy\s+ops\/s\s+payload MiB\/s\s+p99 µs\s+server CPU µs\/op\s+server syscalls\/op\s+server CPU%\s+client busy%\s+notes/);

  const { dir, results } = latestResults(root);
  assert.equal(results.schema, 'muxbench-results');
  assert.equal(results.version, 2);
  assert.equal(results.status, 'finished');
  assert.ok(results.finished);
  assert.deepEqual(results.command_line.slice(-4), ['run', '--quick', '--strategies', 'fake']);
  assert.equal(results.options.repeat, 1, '--quick means one repetition');
  assert.ok(results.environment.kernel && results.environment.node === process.version);
  assert.equal(results.cells.length, 2);
  for (const cell of results.cells) {
    assert.equal(cell.status, 'ok', cell.error);
    assert.deepEqual(cell.params, { connections: 5, requests: 300, depth: 1, active: 5 });
    assert.equal(cell.repetitions.length, 1);
    const rep = cell.repetitions[0];
    const m = rep.metrics!;
    assert.equal(m.ops, 300);
    assert.equal(m.bytes.sent, 2400);
    assert.equal(rep.consistency?.ok, true);
    assert.equal(m.server.syscalls.read.bytes, 2400, 'server counters diffed over the window only');
    assert.equal(m.server.messages_in > 0, true);
    assert.equal(m.latency_us!.count, 300);
    assert.ok(m.throughput.ops_per_s > 0);
    assert.equal(cell.summary['throughput.ops_per_s'].median, m.throughput.ops_per_s);
    assert.match(fs.readFileSync(path.join(dir, rep.logs.server), 'utf8'), /fake-server argv: --protocol peer --listen (tcp:127\.0\.0\.1:0|unix:\/.*\/s\.sock)/);
    assert.match(fs.readFileSync(path.join(dir, rep.logs.loadgen), 'utf8'), /--driver echo --connections 5 --requests 300 --depth 1 --active 5 --timeout-ms 120000/);
  }
  assert.equal(results.cells[1].transport, 'unix');
});

test('repetitions run as a tinybench task: warm-ups first and apart, then the measured ones with their statistics', () => {
  const root = fakeRepo();
  const r = cli(root, 'run', '--strategies', 'fake', '--transports', 'tcp', '--connections', '5', '--requests', '300', '--repeat', '3', '--warmup', '1');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /fake echo tcp warm-up 1\/1 … [\s\S]*fake echo tcp rep 1\/3 … [\s\S]*rep 3\/3 … /);
  const { dir, results } = latestResults(root);
  assert.equal(results.options.warmup, 1);
  const cell = results.cells[0];
  assert.deepEqual(cell.warmup_repetitions.map((x) => x.rep), [-1]);
  assert.deepEqual(cell.repetitions.map((x) => x.rep), [1, 2, 3]);
  assert.ok(fs.existsSync(path.join(dir, cell.warmup_repetitions[0].logs.server)));
  // tinybench's statistics describe exactly the three measured windows.
  const windows = cell.repetitions.map((x) => x.metrics!.elapsed_ns / 1e6);
  const mean = windows.reduce((a, b) => a + b, 0) / 3;
  const w = cell.window_stats!;
  assert.equal(w.samples, 3);
  assert.ok(Math.abs(w.mean_ms - mean) < 1e-9 * mean, `${w.mean_ms} vs ${mean}`);
  assert.equal(w.min_ms, Math.min(...windows));
  assert.equal(w.max_ms, Math.max(...windows));
  const sd = Math.sqrt(windows.reduce((a, x) => a + (x - mean) ** 2, 0) / 2);
  assert.ok(Math.abs(w.sd_ms - sd) <= 1e-9 * Math.max(sd, 1e-12) + 1e-12);
  // Student's t for 2 degrees of freedom: 4.303.
  assert.ok(Math.abs(w.rme_percent - (4.302652729911275 * sd) / Math.sqrt(3) / mean * 100) < 1e-6);
  assert.equal(cell.summary['throughput.ops_per_s'].min <= cell.summary['throughput.ops_per_s'].max, true);
});

test('a failing cell is recorded with its reason, the run goes on, exit status 1', () => {
  const root = fakeRepo();
  writeJson(root, 'strategies/zbroken/strategy.json', {
    variants: [
      { name: 'z-nolisten', mechanism: 'fails', command: ['build/fake-server'], args: ['--fail-listen'], protocols: ['peer'], transports: ['tcp'] },
      { name: 'z-crash', mechanism: 'crashes at exit', command: ['build/fake-server'], args: ['--crash-at-exit'], protocols: ['peer'], transports: ['tcp'] },
      { name: 'z-abort', mechanism: 'crashes mid-window', command: ['build/fake-server'], args: ['--abort-after', '50'], protocols: ['peer'], transports: ['tcp'] },
    ],
  });
  const r = cli(root, 'run', '--quick', '--transports', 'tcp', '--repeat', '2', '--cpus', 'none');
  assert.equal(r.code, 1, r.out + r.err);
  const { results } = latestResults(root);
  const byName = Object.fromEntries(results.cells.map((c) => [c.strategy, c]));
  assert.deepEqual(Object.keys(byName).sort(), ['fake', 'fake-liar', 'z-abort', 'z-crash', 'z-nolisten']);
  assert.equal(byName.fake.status, 'ok');
  assert.equal(byName.fake.repetitions.length, 2);
  assert.equal(byName.fake.cpus, null);
  assert.match(byName.fake.pinning, /unpinned: pinning disabled/);
  const liar = byName['fake-liar'];
  assert.equal(liar.status, 'failed');
  assert.match(liar.error!, /server read \d+ bytes in the window but the client sent \d+/);
  assert.equal(liar.repetitions.length, 1, 'a failing cell stops repeating');
  assert.match(byName['z-nolisten'].error!, /z-nolisten server reported an error: cannot listen \(on purpose\)[\s\S]*about to fail on purpose/);
  assert.match(byName['z-crash'].error!, /z-crash server exited with status 3 at teardown/);
  // Reported when it happens, not after the load generator's timeout (120 s).
  assert.match(byName['z-abort'].error!, /z-abort server was killed by SIGABRT during the measured window[\s\S]*aborting on purpose/);
  assert.ok(byName['z-abort'].repetitions[0].wall_s < 20);
  assert.match(r.out, /FAILED fake-liar\/echo\/tcp/);
});

test('programs not built: run says how to build them and exits 2', () => {
  const root = fakeRepo({ loadgen: false });
  const r = cli(root, 'run', '--quick');
  assert.equal(r.code, 2);
  assert.match(r.err, /native programs not built: run npm run build/);
  assert.equal(fs.existsSync(path.join(root, 'results')), false, 'nothing written');
});

test('usage errors exit 2 with a clear message', () => {
  const root = fakeRepo();
  const bytes = cli(root, 'run', '--bytes', '1Gx');
  assert.equal(bytes.code, 2);
  assert.match(bytes.err, /--bytes: "1Gx" is not a size/);
  const scen = cli(root, 'run', '--scenarios', 'nope');
  assert.equal(scen.code, 2);
  assert.match(scen.err, /unknown scenario: nope; valid scenarios: echo/);
  const strat = cli(root, 'run', '--strategies', 'fake,epoll');
  assert.equal(strat.code, 2);
  assert.match(strat.err, /unknown strategy: epoll; valid strategies: fake, fake-liar/);
  assert.equal(cli(root, 'run', '--repeat', '0').code, 2);
  // Lists: every item is checked; hand-off is bounded like the servers bound it.
  assert.match(cli(root, 'run', '--connections', '10,x').err, /--connections: "x" is not a count/);
  assert.match(cli(root, 'run', '--rate', '0').err, /--rate: must be greater than 0/);
  const handoff = cli(root, 'run', '--handoff', '0,65');
  assert.equal(handoff.code, 2);
  assert.match(handoff.err, /--handoff 65: at most 64 worker threads/);
  assert.equal(cli(root, 'run', '--cpus', 'zero').code, 2);
  assert.match(cli(root, 'run', '--cpus', '0/1/2').err, /--cpus: "0\/1\/2" must be SERVER_CPU,LOADGEN_CPU/);
  assert.match(cli(root, 'run', '--loadgen-threads', '0').err, /--loadgen-threads: must be greater than 0/);
  assert.equal(cli(root, 'run', '--no-such-flag').code, 2);
  // Contradictory flags: more working connections than open ones.
  const active = cli(root, 'run', '--connections', '10', '--active', '20');
  assert.equal(active.code, 2);
  assert.match(active.err, /--active 20 is more than the 10 connections of /);
  assert.equal(cli(root).code, 2, 'a command is required');
  writeJson(root, 'scenarios/bad.json', { name: 'bad', protocol: 'peer', defaults: { connections: 1 } });
  const bad = cli(root, 'list');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /scenarios\/bad\.json: driver must be a non-empty string/);
});

test('--loadgen-threads reaches the load generator and the results; --cpus takes lists', () => {
  const root = fakeRepo();
  const pinned = decidePinning({ server: [0], loadgen: [1] }).pinned;
  const r = cli(root, 'run', '--quick', '--strategies', 'fake', '--transports', 'unix', '--loadgen-threads', '2', ...(pinned ? ['--cpus', '0/1'] : ['--cpus', 'none']));
  assert.equal(r.code, 0, r.out + r.err);
  const { results } = latestResults(root);
  assert.equal(results.options.loadgen_threads, 2);
  const cell = results.cells[0];
  assert.deepEqual(cell.client_params, { threads: 2, wait: 'adaptive' });
  const at = cell.loadgen_argv.indexOf('--threads');
  assert.ok(at > 0 && cell.loadgen_argv[at + 1] === '2', cell.loadgen_argv.join(' '));
  if (pinned) {
    assert.deepEqual(cell.cpus, { server: [0], loadgen: [1] });
    assert.match(r.err, /note: 2 load generator threads share one CPU \(1\)/);
  }
});

test('list shows strategies with availability and scenarios; --help teaches with examples', () => {
  const root = fakeRepo();
  writeJson(root, 'strategies/zz/strategy.json', { variants: [{ name: 'unbuilt', mechanism: 'm', command: ['build/nothing'], protocols: ['peer'], transports: ['tcp'] }] });
  const r = cli(root, 'list');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /fake\s+peer\s+tcp,unix\s+1\s+yes/);
  assert.match(r.out, /unbuilt\s+peer\s+tcp\s+1\s+no: build\/nothing missing or not executable \(native programs not built: run npm run build\)/);
  // Mechanisms are sentences below the table, one line each.
  assert.match(r.out, /^fake: node net echo$/m);
  assert.match(r.out, /^unbuilt: m$/m);
  assert.match(r.out, /echo\s+peer\s+round trip\s+connections=20 requests=2000 depth=1/);
  const json = JSON.parse(cli(root, 'list', '--json').out);
  assert.deepEqual(json.strategies.map((v: { name: string }) => v.name), ['fake', 'fake-liar', 'unbuilt']);
  const help = cli(root, 'run', '--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /muxbench run --quick/);
  assert.match(help.out, /muxbench run --strategies epoll --scenarios peer-ping --transports unix\n/);
});

test('serve: prints the address, answers, and stops its server on SIGINT', async () => {
  const root = fakeRepo();
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [CLI, 'serve', 'fake', '--protocol', 'peer'], { env: { ...process.env, MUXBENCH_ROOT: root } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no banner: ${out}`)), 10_000);
    child.stdout.on('data', () => {
      if (/Press Ctrl-C/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  assert.match(out, /fake \(node net echo\) is serving peer on tcp:127\.0\.0\.1:\d+, pid (\d+)\./);
  const pid = Number(/pid (\d+)\./.exec(out)![1]);
  assert.match(out, /muxbench-loadgen --connect tcp:127\.0\.0\.1:\d+ --driver echo/);
  const code = await new Promise<number | null>((resolve) => {
    child.on('close', resolve);
    child.kill('SIGINT');
  });
  assert.equal(code, 0);
  assert.match(out, /server stopped/);
  assert.throws(() => process.kill(pid, 0), 'the server is gone');
});

test('SIGINT during a run: exit 130, finished repetitions kept, the cell marked interrupted', async () => {
  const root = fakeRepo();
  const child = spawn(process.execPath, [CLI, 'run', '--quick', '--strategies', 'fake', '--repeat', '50'], { env: { ...process.env, MUXBENCH_ROOT: root } });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no third repetition in 30 s:\n${out}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/rep 3\/50/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  assert.equal(await exited, 130, out);
  const { results } = latestResults(root);
  assert.equal(results.status, 'interrupted');
  const [first, second] = results.cells;
  assert.equal(first.status, 'interrupted');
  const done = first.repetitions.filter((r) => r.status === 'ok').length;
  assert.ok(done >= 3, `at least the 3 finished repetitions are kept (got ${done})`);
  assert.equal(first.summary['ops'].median, 300, 'the summary covers the finished repetitions');
  assert.equal(second.status, 'pending');
  assert.match(out, /interrupted \(\d+ reps\)/);
  assert.match(out, /not run \(interrupted\): 1 cell/);
});

test('a closed output pipe (muxbench run | head) interrupts the run like Ctrl-C: exit 130, results kept', async () => {
  const root = fakeRepo();
  const child = spawn(process.execPath, [CLI, 'run', '--strategies', 'fake', '--repeat', '20', '--warmup', '0', '--cpus', 'none'], {
    env: { ...process.env, MUXBENCH_ROOT: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  // Read up to the first repetition's progress line (printed once it has
  // finished), then go away as `head` would. Earlier lines (the header, a
  // busy-machine warning) come before any repetition has finished.
  await new Promise<void>((resolve) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString('utf8');
      if (/rep 1\/20 …[^\n]*\n/.test(seen)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
  });
  child.stdout!.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /the output pipe was closed/);
  const { dir, results } = latestResults(root);
  assert.equal(results.status, 'interrupted');
  const reps = results.cells[0].repetitions;
  assert.ok(reps.length >= 1 && reps.length < 20, `stopped early, after ${reps.length} repetitions`);
  assert.equal(reps[0].status, 'ok', 'the repetition finished before the pipe closed is kept');
  assert.ok(fs.existsSync(path.join(dir, 'report.html')), 'the report is written for what was measured');
});

test('the same when stderr goes down the closed pipe too (muxbench run 2>&1 | head -2)', () => {
  const root = fakeRepo();
  const r = spawnSync('bash', ['-c', `"$0" "$1" run --strategies fake --repeat 20 --warmup 0 --cpus none 2>&1 | head -2; echo "exit=\${PIPESTATUS[0]}"`, process.execPath, CLI], {
    env: { ...process.env, MUXBENCH_ROOT: root },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.match(r.stdout, /exit=130\n$/, r.stdout + r.stderr);
  const { dir, results } = latestResults(root);
  assert.equal(results.status, 'interrupted');
  assert.ok(fs.existsSync(path.join(dir, 'report.html')), 'the report is written for what was measured');
});
