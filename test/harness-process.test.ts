import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startProcess, endAllProcesses, liveProcesses, decidePinning, parseCpuList, parseCpus } from '../harness/process.js';
import { tempRoot } from './harness-fixture.js';

/* Small node programs as children: argv arrays, no shell. */
const node = (code: string) => [process.execPath, '-e', code];
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

after(() => endAllProcesses(200));

test('a child speaks JSON lines: events are awaited, commands answered, stderr goes to the log', async () => {
  const dir = tempRoot();
  const log = path.join(dir, 'child.log');
  const p = startProcess({
    label: 'echo child',
    cwd: dir,
    stderrLog: log,
    argv: node(`
      process.stderr.write('hello from stderr\\n');
      console.log(JSON.stringify({event:'listening', address:'tcp:127.0.0.1:1'}));
      require('readline').createInterface({input: process.stdin}).on('line', (l) => {
        const c = JSON.parse(l).cmd;
        if (c === 'snapshot') console.log(JSON.stringify({event:'snapshot', n: 1}));
        if (c === 'exit') process.exit(0);
      });`),
  });
  assert.ok(p.pid > 0);
  assert.equal((await p.waitFor('listening', 5000)).address, 'tcp:127.0.0.1:1');
  assert.equal((await p.request({ cmd: 'snapshot' }, 'snapshot', 5000)).n, 1);
  const exit = await p.end(2000, 500);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(p.running, false);
  assert.match(fs.readFileSync(log, 'utf8'), /hello from stderr/);
  assert.ok(!liveProcesses().includes(p));
});

test('a child that dies before the event: the error has its status and last stderr lines', async () => {
  const p = startProcess({ label: 'crasher', cwd: tempRoot(), argv: node(`for (let i = 0; i < 30; i++) console.error('line ' + i); process.exit(4)`) });
  await assert.rejects(p.waitFor('listening', 5000), (e: Error) => {
    assert.match(e.message, /^crasher exited with status 4/);
    assert.match(e.message, /last stderr lines of crasher \(pid \d+\):\n  line 15\n/);
    assert.match(e.message, /line 29/);
    assert.doesNotMatch(e.message, /line 14\b/, 'only the tail is quoted');
    return true;
  });
});

test('a program that cannot be started is reported, not thrown from spawn', async () => {
  const p = startProcess({ label: 'ghost', cwd: tempRoot(), argv: ['./does-not-exist'] });
  await assert.rejects(p.waitFor('listening', 5000), /ghost could not be started \(.*ENOENT/);
  await p.exited;
});

test('a hung child that ignores exit and SIGTERM is killed by PID', async () => {
  const p = startProcess({
    label: 'stubborn',
    cwd: tempRoot(),
    argv: node(`process.on('SIGTERM', () => {}); process.stdin.on('data', () => {}); process.stdin.on('end', () => {}); console.log('{"event":"listening"}'); setInterval(() => {}, 1000);`),
  });
  await p.waitFor('listening', 5000);
  await assert.rejects(p.waitFor('result', 100), /stubborn: no "result" event within 100 ms/);
  const t0 = Date.now();
  const exit = await p.end(200, 200);
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(alive(p.pid), false);
});

test('endAllProcesses ends every live child', async () => {
  const ps = [1, 2, 3].map((i) => startProcess({ label: `sleeper ${i}`, cwd: tempRoot(), argv: node('setInterval(() => {}, 1000)') }));
  assert.equal(liveProcesses().length >= 3, true);
  await endAllProcesses(500);
  for (const p of ps) {
    assert.equal(p.running, false);
    assert.equal(p.exit?.signal, 'SIGTERM');
  }
});

test('CPU pinning decisions', () => {
  assert.deepEqual(parseCpuList('0-2,5'), [0, 1, 2, 5]);
  assert.deepEqual(parseCpuList('3'), [3]);
  const req = (server: number[], loadgen: number[]) => ({ server, loadgen });
  assert.deepEqual(decidePinning(req([0], [1]), [0, 1], '/usr/bin/taskset'), { pinned: true, server: [0], loadgen: [1], via: 'taskset' });
  assert.deepEqual(decidePinning(req([0], [1, 2, 3]), [0, 1, 2, 3], '/t'), { pinned: true, server: [0], loadgen: [1, 2, 3], via: 'taskset' });
  assert.deepEqual(decidePinning(req([0], [1]), [0], '/usr/bin/taskset'), { pinned: false, reason: 'only 1 CPU available' });
  assert.match((decidePinning(req([0], [1]), [0, 1], null) as { reason: string }).reason, /taskset not found/);
  assert.match((decidePinning(req([0], [7]), [0, 1], '/t') as { reason: string }).reason, /CPU 7 is not available/);
  assert.equal(decidePinning(null, [0, 1], '/t').pinned, false);
});

test('--cpus syntax: a pair, two taskset lists, or none', () => {
  assert.deepEqual(parseCpus('0,1'), { server: [0], loadgen: [1] });
  assert.deepEqual(parseCpus(' 2 , 3 '), { server: [2], loadgen: [3] });
  assert.deepEqual(parseCpus('0/1-3'), { server: [0], loadgen: [1, 2, 3] });
  assert.deepEqual(parseCpus('0-1/2,4'), { server: [0, 1], loadgen: [2, 4] });
  assert.equal(parseCpus('none'), null);
  for (const bad of ['zero', '0', '0,1,2', '0/', '/1', '0/1/2', '0/a', '0/3-1']) assert.throws(() => parseCpus(bad), /--cpus/, bad);
});

test('pinned children run under taskset with the program as the PID', { skip: decidePinning({ server: [0], loadgen: [1] }).pinned ? false : 'no taskset or fewer than 2 CPUs' }, async () => {
  const p = startProcess({ label: 'pinned', cwd: tempRoot(), cpus: [1], argv: node(`console.log(JSON.stringify({event:'pid', pid: process.pid})); setInterval(() => {}, 1000)`) });
  const e = await p.waitFor('pid', 5000);
  assert.equal(e.pid, p.pid, 'taskset execs the program');
  const status = fs.readFileSync(`/proc/${p.pid}/status`, 'utf8');
  assert.match(status, /^Cpus_allowed_list:\s*1$/m);
  await p.end(200, 200);
});
