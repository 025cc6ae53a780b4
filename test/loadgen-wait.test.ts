/* The load generator's adaptive wait (loadgen/conn.c wait_events): it naps
 * instead of sleeping in epoll_wait only while latency is high, never with
 * --loadgen-wait block, and never when latency is low (those cells are
 * measured exactly as with blocking waits). Behaviour only: counts of naps
 * and blocking waits, no timing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, tempRoot } from './harness-fixture.js';
import { readResults } from '../harness/results.js';

function run(...args: string[]) {
  const out = path.join(tempRoot(), 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', '--transports', 'unix', '--scenarios', 'peer-ping', '--repeat', '1', '--warmup', '0', '--out', out, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `muxbench run failed:\n${r.stdout}\n${r.stderr}`);
  const cell = readResults(out).cells[0];
  return { cell, client: cell.repetitions[0].metrics!.client };
}

test('replies that take tens of ms (sockman hand-off waits for its 50 ms poll): the load generator naps', () => {
  // One active peer: every reply waits for sockman's poll timeout.
  const { cell, client } = run('--strategies', 'sockman', '--connections', '10', '--active', '1', '--requests', '10', '--handoff', '1');
  assert.equal(cell.client_params.wait, 'adaptive');
  assert.ok(client.naps_per_op! > 0, `naps per op ${client.naps_per_op}`);
  assert.ok(client.max_nap_us! >= 5, `the longest nap is measured: ${client.max_nap_us} µs`);
});

test('--loadgen-wait block: never a nap', () => {
  const { cell, client } = run('--strategies', 'sockman', '--connections', '10', '--active', '1', '--requests', '10', '--handoff', '1', '--loadgen-wait', 'block');
  assert.equal(cell.client_params.wait, 'block');
  assert.ok(cell.loadgen_argv.join(' ').includes('--wait block'));
  assert.equal(client.naps_per_op, 0);
  assert.ok(client.blocking_waits_per_op! > 0);
});

test('low latency (10 connections on epoll): the load generator blocks, it never naps', () => {
  const { client } = run('--strategies', 'epoll', '--connections', '10', '--requests', '5000');
  assert.equal(client.naps_per_op, 0);
  assert.ok(client.blocking_waits_per_op! > 0);
});
