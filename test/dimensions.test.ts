/* The workload dimensions of a run, end to end on real programs for
 * select, epoll and io_uring (one of each family: scanning, readiness,
 * completion): connection and message-size sweeps, open-loop rate, hand-off
 * to worker threads, and checksums. Small work; what is asserted is the work
 * done and the shape of the results, plus one behavioural property of the
 * hand-off designs (a loop that is never woken answers a timeout later). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, tempRoot } from './harness-fixture.js';
import { loadCatalog } from '../harness/catalog.js';
import { readResults, ResultsFile } from '../harness/results.js';
import { startProcess, endAllProcesses } from '../harness/process.js';
import { LOADGEN_COMMAND } from '../harness/paths.js';

const available = new Set(loadCatalog(REPO).strategies.filter((v) => v.available).map((v) => v.name));
// io_uring may be unavailable on a host (its probe says why); the others are always built.
const TRIO = ['select', 'epoll', 'io_uring'].filter((n) => available.has(n));

function run(args: string[]): ResultsFile {
  const out = path.join(tempRoot(), 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', '--repeat', '1', '--out', out, ...args], { encoding: 'utf8', timeout: 280_000 });
  const results = readResults(path.join(out, 'results.json'));
  const failed = results.cells.filter((c) => c.status !== 'ok').map((c) => `${c.id}: ${c.error}`);
  assert.deepEqual(failed, [], r.stdout + r.stderr);
  assert.equal(r.status, 0, r.stderr);
  return results;
}

const metrics = (results: ResultsFile, id: string) => {
  const cell = results.cells.find((c) => c.id === id);
  assert.ok(cell, `no cell ${id} in ${results.cells.map((c) => c.id).join(', ')}`);
  return cell.repetitions[0].metrics!;
};

test('connection sweep of peer-idle: one labelled cell per count, few active peers, exact work', { timeout: 300_000 }, () => {
  const results = run(['--strategies', TRIO.join(','), '--scenarios', 'peer-idle', '--transports', 'tcp', '--connections', '20,300', '--requests', '2000']);
  assert.equal(results.cells.length, TRIO.length * 2);
  for (const s of TRIO) {
    for (const n of [20, 300]) {
      const cell = results.cells.find((c) => c.id === `${s}/peer-idle/tcp/connections=${n}`)!;
      assert.equal(cell.label, `connections=${n}`);
      assert.deepEqual([cell.params.connections, cell.params.active], [n, 10]);
      const m = cell.repetitions[0].metrics!;
      assert.equal(m.ops, 2000);
      assert.equal(m.server.messages_in, 2000);
    }
  }
  assert.deepEqual(results.options.sweeps, { connections: [20, 300] });
});

test('message-size sweep: pings carry the payload and pongs echo it', { timeout: 300_000 }, () => {
  const results = run(['--strategies', TRIO.join(','), '--scenarios', 'peer-ping', '--transports', 'unix', '--connections', '20', '--requests', '1000', '--message-size', '128,1000']);
  for (const s of TRIO) {
    for (const size of [128, 1000]) {
      const m = metrics(results, `${s}/peer-ping/unix/message_size=${size}`);
      assert.equal(m.ops, 1000);
      // Each ping is a 24-byte header and the payload, and so is each pong.
      assert.equal(m.bytes.sent, 1000 * (24 + size));
      assert.equal(m.bytes.received, 1000 * (24 + size));
    }
  }
});

test('open-loop rate: requests follow the schedule, never ahead of it, and the rate is recorded', { timeout: 300_000 }, () => {
  const results = run(['--strategies', TRIO.join(','), '--scenarios', 'peer-ping,http-rpc', '--transports', 'tcp', '--connections', '20', '--requests', '1000', '--rate', '4000']);
  for (const cell of results.cells) {
    assert.equal(cell.label, 'rate=4000', cell.id);
    const m = cell.repetitions[0].metrics!;
    assert.equal(m.ops, 1000, cell.id);
    assert.equal(m.rate?.target_per_s, 4000, cell.id);
    // 1000 requests at 4000/s cannot finish in less than the schedule's 0.25 s
    // (the last one is due at 999/4000 s); a slow host only makes it longer.
    assert.ok(m.elapsed_ns >= (999 / 4000) * 1e9, `${cell.id}: finished in ${m.elapsed_ns} ns, ahead of the schedule`);
    assert.equal(m.latency_us?.count, 1000, cell.id);
  }
});

test('hand-off: every request goes through the workers, which wake the loop', { timeout: 300_000 }, () => {
  const results = run(['--strategies', TRIO.join(','), '--scenarios', 'http-rpc,peer-ping', '--transports', 'unix', '--connections', '20', '--requests', '2000', '--handoff', '2']);
  for (const cell of results.cells) {
    assert.deepEqual(cell.server_params, { handoff: 2, threads: 1, counters: true }, cell.id);
    assert.ok(cell.server_argv.join(' ').includes('--handoff 2'), cell.id);
    const m = cell.repetitions[0].metrics!;
    assert.equal(m.ops, 2000, cell.id);
    assert.equal(m.server.handoff.workers, 2, cell.id);
    assert.equal(m.server.handoff.jobs, 2000, cell.id);
    assert.ok(m.server.handoff.wakeups > 0 && m.server.handoff.wakeups <= 2000, `${cell.id}: ${m.server.handoff.wakeups} wake-ups`);
  }
});

test('hand-off latency: sockman, never woken, answers on its 50 ms timeout; epoll with an eventfd wake-up does not wait', { timeout: 300_000 }, () => {
  // A light load: one active peer among 10, one ping in flight. While it waits
  // for its reply nothing else wakes sockman's loop before the timeout. (With
  // several active peers each new request ends the wait and carries the
  // replies finished by then, so the cost shows in a share of the requests.)
  const results = run(['--strategies', 'sockman,epoll', '--scenarios', 'peer-ping', '--transports', 'unix', '--connections', '10', '--active', '1', '--requests', '40', '--handoff', '2']);
  const sockman = metrics(results, 'sockman/peer-ping/unix/handoff=2').latency_us!;
  const epoll = metrics(results, 'epoll/peer-ping/unix/handoff=2').latency_us!;
  const cell = results.cells.find((c) => c.strategy === 'sockman')!;
  assert.ok(sockman.p50 >= 10_000, `sockman median ${sockman.p50} µs (${JSON.stringify(sockman)}; ${cell.loadgen_argv.join(' ')}; ${cell.server_argv.join(' ')}; ${JSON.stringify(cell.repetitions[0].metrics!.server.handoff)})`);
  assert.ok(epoll.p50 < 5_000, `epoll median ${epoll.p50} µs`);
});

test('checksums: peers send real SHA256d checksums and the server verifies them (ping, relay, upload)', { timeout: 300_000 }, () => {
  const results = run([
    '--strategies', TRIO.join(','), '--scenarios', 'peer-ping,peer-relay,peer-upload', '--transports', 'tcp', '--connections', '20', '--requests', '100', '--bytes', '4M', '--verify-checksum',
  ]);
  for (const cell of results.cells) {
    assert.ok(cell.server_argv.includes('--verify-checksum'), cell.id);
    assert.ok(cell.loadgen_argv.includes('--verify-checksum'), cell.id);
    assert.equal(cell.repetitions[0].metrics!.server.protocol_errors, 0, cell.id);
  }
  assert.equal(metrics(results, 'epoll/peer-relay/tcp').ops, 100 * 19);
  assert.equal(metrics(results, 'epoll/peer-upload/tcp').server.payload_bytes_in, 4 << 20);
});

test('source addresses: TCP connections spread over 127.0.0.x when asked (auto does so past the ephemeral ports)', { timeout: 60_000 }, async () => {
  const server = startProcess({ label: 'server', argv: ['build/muxbench-epoll', '--protocol', 'peer', '--listen', 'tcp:127.0.0.1:0'], cwd: REPO });
  const loadgenArgv = (address: string) => [LOADGEN_COMMAND, '--connect', address, '--driver', 'peer-ping', '--connections', '40', '--requests', '400', '--source-addrs', '4'];
  try {
    const address = String((await server.waitFor('listening', 5000)).address);
    const port = address.split(':').pop();
    const loadgen = startProcess({ label: 'load generator', argv: loadgenArgv(address), cwd: REPO });
    const ready = await loadgen.waitFor('ready', 10_000);
    assert.equal(ready.source_addrs, 4);
    // The client ends of the connections, as the kernel sees them.
    const ss = spawnSync('ss', ['-Htn', 'state', 'established', `dst 127.0.0.1:${port}`], { encoding: 'utf8' });
    const sources = new Map<string, number>();
    for (const line of ss.stdout.trim().split('\n')) {
      const local = line.trim().split(/\s+/).at(-2)!.replace(/:\d+$/, '');
      sources.set(local, (sources.get(local) ?? 0) + 1);
    }
    assert.deepEqual([...sources.entries()].sort(), [['127.0.0.1', 10], ['127.0.0.2', 10], ['127.0.0.3', 10], ['127.0.0.4', 10]]);
    const result = loadgen.waitFor('result', 20_000);
    loadgen.send({ cmd: 'go' });
    assert.equal((await result).ok, true);
  } finally {
    await endAllProcesses();
  }
});
