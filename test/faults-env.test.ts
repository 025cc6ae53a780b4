/* Faults of the environment: an open-files limit too low for the requested
 * connections, a strategy its host cannot run (io_uring disabled: the
 * probe says so), and a disk that fills up during a run. Same checks as
 * faults.test.ts: message, exit status, what is kept, nothing left running.
 * (An --out folder that cannot be written is tested in
 * flamegraphs-profile.test.ts.) */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI } from './harness-fixture.js';
import { readResults } from '../harness/results.js';
import { faultRepo, muxbench, assertNothingLeft, waitForFile } from './fixtures/faults-run.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = process.getuid?.() === 0;

/* prlimit sets the limit; without CAP_SYS_RESOURCE (dropped by setpriv when
 * we are root) muxbench cannot raise it again, as for an ordinary user. */
const lowLimit = !have('prlimit')
  ? 'prlimit (util-linux) not installed'
  : isRoot && !have('setpriv')
    ? 'running as root without setpriv: muxbench would raise its own limit'
    : false;

test('an open-files limit too low for --connections: a clear message naming the fix, exit 2, nothing run', { skip: lowLimit }, async () => {
  const root = faultRepo({ a: 'ok' });
  const wrap = ['prlimit', '--nofile=64:64', ...(isRoot ? ['setpriv', '--bounding-set', '-sys_resource', '--inh-caps', '-sys_resource'] : [])];
  const run = await muxbench(root, ['run', '--quick', '--connections', '1000'], { wrap });
  assert.equal(run.code, 2, run.out + run.err);
  assert.match(run.err, /^muxbench: 1000 connections need about 1064 file descriptors per process, but the open-files hard limit is 64; raise it \(as root: ulimit -Hn 1064/m);
  assert.match(run.err, /or use fewer --connections/);
  assert.equal(fs.existsSync(path.join(root, 'results')), false, 'nothing written');
  assert.deepEqual(fs.readdirSync(run.faultDir), [], 'no program started');
});

test('io_uring unavailable (the probe says so): the strategy is skipped with the reason, the others run', async () => {
  const root = faultRepo({ a: ['--probe-unavailable'], b: 'ok' }, { probe: ['a'] });
  const reason = 'io_uring is disabled (kernel.io_uring_disabled=2)';
  const list = spawnSync(process.execPath, [CLI, 'list'], { env: { ...process.env, MUXBENCH_ROOT: root }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^a\\s.*no: ${reason.replace(/[()]/g, '\\$&')}$`, 'm'));

  const out = path.join(root, 'out');
  const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--out', out]);
  assert.equal(run.code, 0, run.out + run.err);
  assert.ok(run.out.includes(`skipped a: ${reason}`), run.out);
  const results = readResults(out);
  assert.deepEqual(results.unavailable, [{ strategy: 'a', reason }]);
  assert.deepEqual(results.cells.map((c) => [c.strategy, c.status]), [['b', 'ok']]);
  assert.ok(fs.readFileSync(path.join(out, 'report.html'), 'utf8').includes(reason), 'the report names the reason');
  await assertNothingLeft(run);

  // Asked for by name, it cannot run: a usage error with the reason.
  const named = await muxbench(root, ['run', '--quick', '--strategies', 'a']);
  assert.equal(named.code, 2);
  assert.ok(named.err.includes(`muxbench: a: ${reason}`), named.err);
});

const mountable = (() => {
  if (!isRoot) return 'mounting a tmpfs needs root';
  const dir = fs.mkdtempSync('/tmp/muxbench-mount-probe-');
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) return `mount -t tmpfs not permitted here (${(r.stderr || r.error?.message || '').trim()})`;
    spawnSync('umount', [dir], { timeout: 10_000 });
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();

test('the disk fills up mid-run: a clear message, exit 1, the last results.json still complete, nothing left running', { skip: mountable }, async () => {
  const root = faultRepo({ a: 'ok', b: ['--hang-on-data', '--chatty'], c: 'ok' });
  const disk = path.join(root, 'disk');
  fs.mkdirSync(disk);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', disk], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(mounted.status, 0, mounted.stderr);
  try {
    const out = path.join(disk, 'run');
    const file = path.join(out, 'results.json');
    const run = await muxbench(root, ['run', '--quick', '--transports', 'tcp', '--out', out], {
      during: async (dir) => {
        // Cell a is saved and cell b's server hangs: fill the disk, then end that server.
        const marker = await waitForFile(dir, /^window\.\d+$/);
        assert.equal(readResults(file).cells[0].status, 'ok');
        const fd = fs.openSync(path.join(disk, 'filler'), 'w');
        const chunk = Buffer.alloc(4096, 1);
        try {
          for (let i = 0; i < 1000; i++) fs.writeSync(fd, chunk);
          assert.fail('the 200k disk never filled');
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
        } finally {
          fs.closeSync(fd);
        }
        // The hung server keeps writing to its log on the full disk for a moment.
        await new Promise((r) => setTimeout(r, 500));
        process.kill(Number(marker.split('.')[1]), 'SIGKILL');
      },
    });
    assert.equal(run.code, 1, run.out + run.err);
    assert.match(run.err, /^muxbench: cannot write .*results\.json \(ENOSPC: no space left on device\): the run stops; the last complete results\.json is kept/m);
    assert.doesNotMatch(run.err, /at .*\.js:\d+/, 'a message, not a stack trace');
    // The server's log could not grow either: muxbench carried on to the end of the cell.
    assert.match(run.out, /\[2\/3\] b echo tcp rep 1\/1 … .*FAILED: b server was killed by SIGKILL during the measured window/);
    // The previous version, written before the disk filled, is intact.
    const kept = readResults(file);
    assert.equal(kept.status, 'running');
    assert.deepEqual(kept.cells.map((c) => c.status), ['ok', 'pending', 'pending']);
    assert.equal(fs.readdirSync(out).filter((f) => f.endsWith('.tmp')).length, 0, 'no half-written temp file left');
    await assertNothingLeft(run);
  } finally {
    spawnSync('umount', ['-l', disk], { timeout: 10_000 });
  }
});

test('serve on a port already in use: the server\'s own bind error, a non-zero exit, the server gone', async () => {
  const net = await import('node:net');
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = spawnSync(process.execPath, [CLI, 'serve', 'epoll', '--listen', `tcp:127.0.0.1:${port}`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`bind tcp:127\\.0\\.0\\.1:${port}: Address already in use`));
    // The server that failed to bind is gone: no process is left with that --listen.
    const left = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`tcp:127.0.0.1:${port}`);
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, []);
  } finally {
    blocker.close();
  }
});
