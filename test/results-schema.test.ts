/* The results schema: what readers accept and the messages they give for
 * files they cannot trust (truncated, empty, another kind, another version,
 * hand-edited with wrong types), in the API and through `muxbench summary`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, tempRoot } from './harness-fixture.js';
import { readResults, RESULTS_VERSION } from '../harness/results.js';
import { resultsProblems } from '../harness/results-schema.js';
import { UsageError } from '../harness/errors.js';

const spread = (v: number) => ({ median: v, min: v, max: v, mean: v, sd: null, rme_percent: null });

/* A small but complete file, as `run` writes it. */
function valid(): Record<string, any> {
  const metrics = {
    elapsed_ns: 1e6,
    window_ns: 1.1e6,
    ops: 100,
    bytes: { sent: 2400, received: 3200, payload: 800 },
    throughput: { ops_per_s: 1e5, payload_bytes_per_s: 8e5 },
    latency_us: { count: 100, p50: 10, p90: 12, p99: 20, p99_9: 25, max: 30 },
    server: { cpu_us_per_op: 5, cpu_percent: 50, syscalls: { read: { calls: 100, bytes: 2400 } }, rss_kb_per_connection: null },
    client: { cpu_percent: 40, busy_percent: 40, threads: 1 },
  };
  return {
    schema: 'muxbench-results',
    version: RESULTS_VERSION,
    run_id: '2026-11-25T00-00-00Z-abcd',
    status: 'finished',
    started: '2026-11-25T00:00:00.000Z',
    finished: '2026-11-25T00:00:01.000Z',
    command_line: ['node', 'muxbench', 'run'],
    options: {
      strategies: null, scenarios: ['peer-ping'], transports: ['unix'], overrides: {}, sweeps: {}, handoff: [0], counters: true,
      loadgen_threads: 1, loadgen_wait: 'adaptive', repeat: 1, warmup: 0, quick: true, verify_checksum: false, timeout_s: 120, cpus: '0,1',
    },
    environment: { kernel: '6.1', arch: 'x64', cpu_count: 2, node: 'v20', libraries: {}, git: null, load_at_start: 0 },
    warnings: [],
    unavailable: [{ strategy: 'io_uring', reason: 'io_uring disabled' }],
    cells: [
      {
        id: 'epoll/peer-ping/unix', strategy: 'epoll', mechanism: 'epoll', scenario: 'peer-ping', protocol: 'peer', transport: 'unix',
        params: { connections: 10, requests: 100, depth: 1, active: 10 }, server_params: { handoff: 0, counters: true }, client_params: { threads: 1, wait: 'adaptive' },
        label: '', server_argv: ['build/muxbench-epoll'], loadgen_argv: ['build/muxbench-loadgen'], cpus: { server: [0], loadgen: [1] }, pinning: 'taskset',
        status: 'ok', client_bound: false, warmup_repetitions: [],
        repetitions: [{ rep: 1, status: 'ok', wall_s: 0.2, metrics, latency_hdr: null, consistency: { server_read_bytes: 2400, client_bytes_sent: 2400, server_written_bytes: 3200, client_bytes_received: 3200, ok: true }, logs: { server: 's.log', loadgen: 'l.log' } }],
        window_stats: { samples: 1, mean_ms: 1, sd_ms: 0, rme_percent: 0, min_ms: 1, max_ms: 1, p50_ms: 1 },
        summary: { 'throughput.ops_per_s': spread(1e5) },
        latency_merged_us: { count: 100, p50: 10, p90: 12, p99: 20, p99_9: 25, max: 30 },
      },
    ],
  };
}

function writeFile(text: string): string {
  const file = path.join(tempRoot(), 'results.json');
  fs.writeFileSync(file, text);
  return file;
}

function refused(text: string): string {
  try {
    readResults(writeFile(text));
  } catch (err) {
    assert.ok(err instanceof UsageError, `a UsageError (exit 2), got ${String(err)}`);
    return err.message;
  }
  assert.fail('the file was accepted');
}

test('a complete results file is valid, and read from its run folder too', () => {
  assert.deepEqual(resultsProblems(valid()), []);
  const file = writeFile(JSON.stringify(valid()));
  assert.equal(readResults(path.dirname(file)).cells[0].id, 'epoll/peer-ping/unix');
});

test('truncated, empty and non-JSON files are refused with the reason', () => {
  const text = JSON.stringify(valid(), null, 2);
  assert.match(refused(text.slice(0, text.length / 2)), /not valid JSON: .*truncated file/);
  assert.match(refused(''), /not valid JSON: the file is empty/);
  assert.match(refused('[1, 2]'), /not a JSON object/);
  assert.throws(() => readResults(path.join(tempRoot(), 'missing.json')), /no such file or folder/);
});

test('another kind of file or another format version is named as such', () => {
  assert.match(refused(JSON.stringify({ ...valid(), schema: 'muxbench-anchors' })), /not a muxbench results file \("schema" is "muxbench-anchors"/);
  assert.match(refused(JSON.stringify({ ...valid(), version: 1 })), /results format version 1 is not the one this muxbench reads \(2\)/);
});

test('hand-edited files with wrong types or missing fields point at the field', () => {
  const edit = (f: (d: Record<string, any>) => void) => {
    const d = valid();
    f(d);
    return refused(JSON.stringify(d));
  };
  assert.match(edit((d) => (d.cells[0].repetitions[0].metrics.ops = '100')), /cells\[0\]\.repetitions\[0\]\.metrics\.ops must be integer/);
  assert.match(edit((d) => (d.cells[0].repetitions[0].metrics.server.cpu_percent = 'fast')), /metrics\.server\.cpu_percent must be number/);
  assert.match(edit((d) => (d.cells[0].summary['throughput.ops_per_s'].median = null)), /summary\.throughput\.ops_per_s\.median must be number/);
  assert.match(edit((d) => delete d.cells[0].repetitions), /cells\[0\] is missing "repetitions"/);
  assert.match(edit((d) => (d.cells[0].transport = 'udp')), /cells\[0\]\.transport must be one of \["tcp","unix"\]/);
  assert.match(edit((d) => (d.cells[0].cpus = { server: 0, loadgen: 1 })), /cells\[0\]\.cpus\.server must be array/);
  assert.match(edit((d) => (d.cells = {})), /cells must be array/);
  // Metrics are a tree of numbers: a string anywhere in it is refused, a new numeric metric is fine.
  assert.match(edit((d) => (d.cells[0].repetitions[0].metrics.server.new_metric = 'x')), /metrics\.server\.new_metric must be number/);
  const d = valid();
  d.cells[0].repetitions[0].metrics.server.new_metric = { per_op: 1.5 };
  assert.deepEqual(resultsProblems(d), []);
});

test('muxbench summary prints a valid file and exits 2 on an invalid one', () => {
  const file = writeFile(JSON.stringify(valid()));
  const ok = spawnSync(process.execPath, [CLI, 'summary', file], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /peer-ping\s+unix\s+epoll\s+100\.0k/);
  assert.match(ok.stdout, /skipped io_uring: io_uring disabled/);
  const bad = spawnSync(process.execPath, [CLI, 'summary', writeFile('{"schema":"muxbench-results","version":2')], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /not valid JSON/);
});
