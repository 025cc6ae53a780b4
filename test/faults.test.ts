/* One test per fault: a server killed mid-cell, a server that hangs, a
 * server that fails at start, a load generator that crashes, SIGINT and
 * SIGTERM to muxbench. Each runs the CLI on a throw-away tree (stand-ins
 * from test/fixtures/, or the real load generator and epoll server) and
 * asserts the outcome: the message, the exit status, the cells kept in
 * results.json, report.html, and that no process the run started is left
 * (every descendant seen in /proc while it ran, and every stand-in by the
 * pid file it leaves, must be gone when muxbench has exited).
 * The environment faults (open-files limit, io_uring unavailable, a full
 * disk) are in faults-env.test.ts. docs/faults.md describes the outcomes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { echoScenario } from './harness-fixture.js';
import { readResults } from '../harness/results.js';
import { faultRepo, listFaultPids, muxbench, assertNothingLeft, waitForFile } from './fixtures/faults-run.js';

const okCell = (results: ReturnType<typeof readResults>, strategy: string) => results.cells.find((c) => c.strategy === strategy)!;

test('a server killed mid-cell (SIGKILL by its pid): that cell fails with the reason, the next runs, exit 1', async () => {
  const root = faultRepo({ a: ['--hang-on-data'], b: 'ok' });
  const out = path.join(root, 'out');
  let killed = 0;
  const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--out', out], {
    during: async (dir) => {
      // The server has its clients' first bytes: the window is open and the load generator runs.
      const marker = await waitForFile(dir, /^window\.\d+$/);
      killed = Number(marker.split('.')[1]);
      process.kill(killed, 'SIGKILL');
    },
  });
  assert.equal(run.code, 1, run.out + run.err);
  const results = readResults(out);
  assert.equal(results.status, 'finished');
  const a = okCell(results, 'a');
  assert.equal(a.status, 'failed');
  assert.match(a.error!, /^rep 1: a server was killed by SIGKILL during the measured window/);
  assert.match(a.error!, /no longer answering clients/, 'the server\'s last stderr lines are quoted');
  assert.equal(okCell(results, 'b').status, 'ok', 'the next cell ran');
  assert.equal(okCell(results, 'b').repetitions[0].metrics!.ops, echoScenario.quick.requests);
  assert.match(run.out, /FAILED a\/echo\/tcp: rep 1: a server was killed by SIGKILL/);
  assert.ok(fs.existsSync(path.join(out, 'report.html')), 'report.html written');
  assert.ok(listFaultPids(run.faultDir).includes(killed));
  await assertNothingLeft(run);
});

test('a server that hangs (accepts, then never answers): the cell fails after --timeout, the run goes on', async () => {
  // The real load generator enforces --timeout itself; the next cell is the real epoll server.
  const root = faultRepo({ a: ['--hang-on-data'] }, { real: true });
  const out = path.join(root, 'out');
  const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--timeout', '2', '--cpus', 'none', '--out', out]);
  assert.equal(run.code, 1, run.out + run.err);
  const results = readResults(out);
  const a = okCell(results, 'a');
  assert.equal(a.status, 'failed');
  // The load generator's own report: the limit, and how much work was left.
  assert.match(a.error!, /^rep 1: load generator reported failure: timeout: 2000 ms passed with 200 of 200 round trips left/);
  assert.ok(a.repetitions[0].wall_s >= 2, 'failed after the timeout, not before');
  const epoll = okCell(results, 'epoll');
  assert.equal(epoll.status, 'ok', epoll.error);
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  await assertNothingLeft(run);
});

test('a server stuck for good (ignores exit and SIGTERM) with a load generator that never gives up: the harness times out, SIGKILLs it, goes on', async () => {
  // The stand-in load generator has no timeout of its own: the harness's wait is the only bound.
  const root = faultRepo({ a: ['--hang-on-data', '--stubborn'], b: 'ok' });
  const out = path.join(root, 'out');
  const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--timeout', '1', '--cpus', 'none', '--out', out]);
  assert.equal(run.code, 1, run.out + run.err);
  const results = readResults(out);
  const a = okCell(results, 'a');
  assert.equal(a.status, 'failed');
  assert.match(a.error!, /no result from the load generator within --timeout 1 s \(\+5 s grace\)/);
  assert.deepEqual(a.repetitions[0].warnings, ['a server did not exit on the exit command and was ended with SIGKILL']);
  assert.equal(okCell(results, 'b').status, 'ok');
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  await assertNothingLeft(run);
});

test('a server that exits with status 3 at start: the cell fails quoting its stderr line', async () => {
  const root = faultRepo({ a: ['--exit-at-start', '3'], b: 'ok' });
  const out = path.join(root, 'out');
  const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--out', out]);
  assert.equal(run.code, 1, run.out + run.err);
  const a = okCell(readResults(out), 'a');
  assert.equal(a.status, 'failed');
  assert.match(a.error!, /^rep 1: a server exited with status 3\n/);
  assert.match(a.error!, /cannot create the listening socket: Address family not supported by protocol \(on purpose\)/);
  assert.match(fs.readFileSync(path.join(out, a.repetitions[0].logs.server), 'utf8'), /Address family not supported/, 'and keeps it in the log');
  assert.equal(okCell(readResults(out), 'b').status, 'ok');
  assert.match(run.out, /FAILED a\/echo\/tcp: rep 1: a server exited with status 3/);
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  await assertNothingLeft(run);
});

test('a load generator that crashes (SIGABRT) mid-cell: the cell fails with the reason, the next runs', async () => {
  const root = faultRepo({ b: 'ok' });
  const out = path.join(root, 'out');
  const run = await muxbench(root, ['run', '--quick', '--out', out], { env: { FAULT_LOADGEN_ABORT: '1' } });
  assert.equal(run.code, 1, run.out + run.err);
  const results = readResults(out);
  const [tcp, unix] = results.cells;
  assert.equal(tcp.status, 'failed');
  assert.match(tcp.error!, /^rep 1: load generator was ended by SIGABRT/);
  assert.match(tcp.error!, /aborting on purpose/);
  assert.equal(unix.status, 'ok', 'the next cell gets a working load generator');
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  await assertNothingLeft(run);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  // SIGTERM meets a server that ignores SIGTERM: the harness must escalate to SIGKILL.
  const stubborn = sig === 'SIGTERM';
  test(`${sig} mid-run${stubborn ? ' (with a server that ignores SIGTERM)' : ''}: exit 130, every program ended, finished cells kept, report written`, async () => {
    const root = faultRepo({ a: 'ok', b: ['--hang-on-data', ...(stubborn ? ['--stubborn'] : [])], c: 'ok' });
    const out = path.join(root, 'out');
    const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--out', out], {
      during: async (dir, pid) => {
        await waitForFile(dir, /^window\.\d+$/);
        process.kill(pid, sig);
      },
    });
    assert.equal(run.code, 130, run.out + run.err);
    assert.match(run.out, new RegExp(`${sig}: ending the running programs`));
    const results = readResults(out);
    assert.equal(results.status, 'interrupted');
    assert.ok(results.finished);
    const [a, b, c] = results.cells;
    assert.equal(a.status, 'ok', 'the finished cell is kept');
    assert.equal(a.repetitions[0].metrics!.ops, echoScenario.quick.requests);
    assert.equal(b.status, 'interrupted');
    assert.equal(b.repetitions[0].error, `interrupted by ${sig}`);
    assert.equal(c.status, 'pending');
    assert.match(run.out, /not run \(interrupted\): 1 cell/);
    const report = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.match(report, /interrupted/);
    await assertNothingLeft(run);
  });
}

test('a second SIGTERM forces: everything is SIGKILLed at once, exit 143, results.json keeps the finished cells', async () => {
  const root = faultRepo({ a: 'ok', b: ['--hang-on-data', '--stubborn'], c: 'ok' });
  const out = path.join(root, 'out');
  const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--out', out], {
    during: async (dir, pid) => {
      await waitForFile(dir, /^window\.\d+$/);
      process.kill(pid, 'SIGTERM');
      // The first is being handled: the stubborn server has its grace period before SIGKILL.
      await new Promise((r) => setTimeout(r, 300));
      process.kill(pid, 'SIGTERM');
    },
  });
  assert.equal(run.code, 143, run.out + run.err);
  // Saved after every cell: the file is complete and has the finished cell; the run never got to finish it.
  const results = readResults(out);
  assert.equal(results.status, 'running');
  assert.deepEqual(results.cells.map((c) => c.status), ['ok', 'pending', 'pending']);
  await assertNothingLeft(run);
});
