/* A real run with three measured repetitions and one warm-up (epoll, small
 * work) leaves every statistic a reviewer reads: tinybench's window
 * statistics, median/min/max/mean/sd/rme of every metric, the per-operation
 * costs, and latency histograms that merge. Behaviour only: the values are
 * checked against each other and against the repetitions, never for speed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { CLI, REPO, tempRoot } from './harness-fixture.js';
import { readResults, CellResult } from '../harness/results.js';
import { mean, median, sd } from '../harness/comparison.js';

const REQUESTS = 2000;

function run(...args: string[]) {
  const out = path.join(tempRoot(), 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', '--strategies', 'epoll', '--transports', 'unix', '--connections', '10', '--out', out, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(r.status, 0, `muxbench run failed:\n${r.stdout}\n${r.stderr}`);
  // readResults validates the file against the results schema.
  return readResults(out);
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('three repetitions and a warm-up yield the statistics fields', () => {
  const results = run('--scenarios', 'peer-ping,peer-block', '--requests', String(REQUESTS), '--bytes', '4M', '--repeat', '3', '--warmup', '1');
  assert.equal(results.options.repeat, 3);
  assert.equal(results.options.warmup, 1);
  assert.equal(results.cells.length, 2);
  for (const c of results.cells) {
    assert.equal(c.status, 'ok', `${c.id}: ${c.error}`);
    assert.deepEqual(c.repetitions.map((r) => r.rep), [1, 2, 3]);
    assert.deepEqual(c.warmup_repetitions.map((r) => r.rep), [-1], 'the warm-up is recorded apart');
    assert.equal(c.warmup_repetitions[0].status, 'ok');

    // tinybench's statistics describe exactly the three measured windows.
    const windowsMs = c.repetitions.map((r) => r.metrics!.elapsed_ns / 1e6);
    const w = c.window_stats!;
    assert.equal(w.samples, 3);
    close(w.mean_ms, mean(windowsMs), `${c.id} window mean`);
    close(w.min_ms, Math.min(...windowsMs), `${c.id} window min`);
    close(w.max_ms, Math.max(...windowsMs), `${c.id} window max`);
    close(w.sd_ms, sd(windowsMs), `${c.id} window sd`);
    assert.ok(Number.isFinite(w.rme_percent) && w.rme_percent >= 0, `${c.id}: rme ${w.rme_percent}`);

    // Every metric: median, min, max, mean, sd, rme over the repetitions.
    for (const key of ['throughput.ops_per_s', 'server.cpu_us_per_op', 'client.cpu_percent']) {
      const values = c.repetitions.map((r) => key.split('.').reduce((o: any, k) => o[k], r.metrics) as number);
      const s = c.summary[key];
      assert.ok(s, `${c.id}: summary of ${key}`);
      close(s.median, median(values), `${c.id} ${key} median`);
      close(s.min, Math.min(...values), `${c.id} ${key} min`);
      close(s.max, Math.max(...values), `${c.id} ${key} max`);
      close(s.mean, mean(values), `${c.id} ${key} mean`);
      close(s.sd!, sd(values), `${c.id} ${key} sd`);
      assert.ok(s.rme_percent !== null && s.rme_percent >= 0, `${c.id} ${key} rme`);
    }
    perOperationCosts(c);
  }

  // Latency: one HDR histogram per repetition, merged per cell.
  const ping = results.cells.find((c) => c.scenario === 'peer-ping')!;
  for (const r of ping.repetitions) {
    const h = decodeFromCompressedBase64(r.latency_hdr!, 64, false);
    assert.equal(h.totalCount, REQUESTS, 'one sample per round trip');
    h.destroy();
  }
  // Warm-ups do a quarter of the work on the same connections.
  assert.equal(ping.warmup_repetitions[0].metrics!.ops, REQUESTS / 4);
  const block = results.cells.find((c) => c.scenario === 'peer-block')!;
  assert.equal(block.warmup_repetitions[0].metrics!.bytes.payload, 1 << 20);
  const merged = ping.latency_merged_us!;
  assert.equal(merged.count, 3 * REQUESTS);
  assert.ok(merged.p50 <= merged.p90 && merged.p90 <= merged.p99 && merged.p99 <= merged.p99_9 && merged.p99_9 <= merged.max);
  assert.equal(ping.client_params.threads, 1);
  assert.equal(ping.summary['client.threads'].median, 1);
});

/* The per-operation costs are their parts divided by the operations. */
function perOperationCosts(c: CellResult): void {
  for (const r of c.repetitions) {
    const m = r.metrics!;
    const s = m.server;
    close(s.cpu_us_per_op, (s.cpu_user_us + s.cpu_sys_us) / m.ops, `${c.id} cpu/op`);
    close(s.voluntary_context_switches_per_op, s.voluntary_context_switches / m.ops, `${c.id} voluntary switches/op`);
    close(s.involuntary_context_switches_per_op, s.involuntary_context_switches / m.ops, `${c.id} involuntary switches/op`);
    close(s.wakeups_per_op, s.wakeups / m.ops, `${c.id} wake-ups/op`);
    assert.ok(s.wakeups > 0 && s.events_per_wakeup >= 1, `${c.id}: wake-ups delivered events`);
    const calls = Object.values(s.syscalls).reduce((n, k) => n + k.calls, 0);
    close(s.syscalls_per_op, calls / m.ops, `${c.id} syscalls/op`);
    for (const [kind, k] of Object.entries(s.syscalls)) {
      close(k.calls_per_op, k.calls / m.ops, `${c.id} ${kind} calls/op`);
      if (k.bytes !== undefined && k.calls > 0) close(k.bytes_per_call!, k.bytes / k.calls, `${c.id} ${kind} bytes/call`);
    }
    assert.ok(s.rss_kb > 0 && s.maxrss_kb >= s.rss_kb, `${c.id}: RSS`);
    assert.equal(typeof s.rss_kb_per_connection, 'number', `${c.id}: RSS per connection`);
    assert.ok(m.client.cpu_us_per_op > 0, `${c.id}: client CPU per op`);
  }
}

test('--loadgen-threads: the load generator runs its threads and says so; peer-relay keeps one', () => {
  const out = path.join(tempRoot(), 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', '--strategies', 'epoll', '--transports', 'unix', '--connections', '10', '--scenarios', 'http-rpc,peer-relay', '--requests', '2000', '--repeat', '1', '--loadgen-threads', '2', '--out', out], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(r.status, 0, `muxbench run failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /note: peer-relay runs with one load generator thread/);
  const results = readResults(out);
  const rpc = results.cells.find((c) => c.scenario === 'http-rpc')!;
  const relay = results.cells.find((c) => c.scenario === 'peer-relay')!;
  assert.deepEqual(rpc.client_params, { threads: 2, wait: 'adaptive' });
  assert.equal(rpc.repetitions[0].metrics!.client.threads, 2, 'the load generator ran two threads');
  assert.equal(rpc.repetitions[0].metrics!.ops, 2000);
  assert.deepEqual(relay.client_params, { threads: 1, wait: 'adaptive' });
  assert.equal(relay.repetitions[0].metrics!.client.threads, 1);
  assert.ok(!relay.loadgen_argv.includes('--threads'));
});
