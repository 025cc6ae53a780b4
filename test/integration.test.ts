/* End to end on the real native programs: every built strategy × every
 * scenario × both transports, with the scenarios' quick sizes (100
 * connections, 20,000 round trips, 64 MiB transfers, 200 relayed invs). Asserts behaviour —
 * exact work done, every piece verified, server counters equal to the
 * client's — never speed. `npm test` builds first, so a missing program is a
 * failure here, not a skip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, tempRoot } from './harness-fixture.js';
import { loadCatalog, findExecutable } from '../harness/catalog.js';
import { LOADGEN_COMMAND } from '../harness/paths.js';
import { readResults } from '../harness/results.js';
import type { Params } from '../harness/catalog.js';
import type { RepetitionMetrics } from '../harness/metrics.js';

const catalog = loadCatalog(REPO);

/* The exact work each load generator driver does for its parameters, as the
 * server and the client both counted it. */
function expectWork(id: string, driver: string, p: Params, m: RepetitionMetrics): void {
  const pieces = p.bytes !== undefined ? Math.ceil(p.bytes / p.chunk!) : 0;
  switch (driver) {
    case 'peer-ping':
    case 'http-rpc':
    case 'http-churn':
      // Round trips: exactly the requested number, one message in and one out per operation.
      assert.equal(m.ops, p.requests, `${id}: ops`);
      assert.equal(m.server.messages_in, p.requests, `${id}: server messages in`);
      assert.equal(m.server.messages_out, p.requests, `${id}: server messages out`);
      assert.equal(m.latency_us?.count, p.requests, `${id}: latency samples`);
      break;
    case 'peer-relay':
      // Every inv reaches every other peer: one delivery per copy the server queued.
      assert.equal(m.server.messages_in, p.requests, `${id}: invs announced`);
      assert.equal(m.ops, p.requests! * (p.connections - 1), `${id}: deliveries`);
      assert.equal(m.server.relayed, m.ops, `${id}: relayed copies`);
      assert.equal(m.latency_us?.count, m.ops, `${id}: latency samples`);
      break;
    case 'peer-upload':
      // The server verified every uploaded byte; the client saw every acknowledgement.
      assert.equal(m.ops, pieces, `${id}: blocks`);
      assert.equal(m.bytes.payload, p.bytes, `${id}: payload bytes`);
      assert.equal(m.server.payload_bytes_in, p.bytes, `${id}: server verified bytes`);
      assert.equal(m.server.messages_out, p.active, `${id}: one acknowledgement per uploader`);
      break;
    default:
      // Bulk downloads: every byte arrived and every piece was hash-verified.
      assert.equal(m.bytes.payload, p.bytes, `${id}: payload bytes`);
      assert.equal(m.ops, pieces, `${id}: pieces`);
      assert.equal(m.client.verified_pieces, pieces, `${id}: verified pieces`);
      assert.equal(m.server.payload_bytes_out, p.bytes, `${id}: server payload bytes`);
      assert.ok(m.bytes.received > p.bytes!, `${id}: framing bytes on top of the payload`);
  }
}

test('every strategy and the load generator are built', () => {
  assert.ok(findExecutable(LOADGEN_COMMAND, REPO), 'load generator not built (npm run build)');
  // A strategy may be unavailable on this host (its --probe says why); never for want of a build.
  const missing = catalog.strategies.filter((v) => !v.available && /missing or not executable/.test(v.unavailableReason ?? '')).map((v) => v.name);
  assert.deepEqual(missing, [], 'strategies not built (npm run build)');
});

test('run --quick: every cell does its exact work, verified, with agreeing counters', { timeout: 600_000 }, () => {
  const names = catalog.strategies.filter((v) => v.available).map((v) => v.name);
  const out = path.join(tempRoot(), 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', '--quick', '--strategies', names.join(','), '--out', out], {
    encoding: 'utf8',
    timeout: 590_000,
  });
  const results = readResults(path.join(out, 'results.json'));
  const failed = results.cells.filter((c) => c.status !== 'ok').map((c) => `${c.id}: ${c.error}`);
  assert.deepEqual(failed, [], r.stdout + r.stderr);
  assert.equal(r.status, 0, r.stderr);

  // The matrix is complete: each strategy ran each scenario of its protocols on each of its transports.
  const expected = catalog.strategies
    .filter((v) => names.includes(v.name))
    .flatMap((v) => catalog.scenarios.filter((s) => v.protocols.includes(s.protocol)).flatMap((s) => v.transports.map((t) => `${v.name}/${s.name}/${t}`)));
  assert.deepEqual(results.cells.map((c) => c.id).sort(), expected.sort());

  for (const cell of results.cells) {
    const p = cell.params;
    assert.equal(p.connections, 100, cell.id);
    if (catalog.scenarios.find((x) => x.name === cell.scenario)?.defaults.active === undefined) assert.equal(p.active, 100, cell.id);
    for (const rep of cell.repetitions) {
      const m = rep.metrics!;
      const c = rep.consistency!;
      // Bytes: the server read exactly what the client wrote, and wrote exactly what it read.
      assert.equal(c.server_read_bytes, c.client_bytes_sent, `${cell.id}: read bytes`);
      assert.equal(c.server_written_bytes, c.client_bytes_received, `${cell.id}: written bytes`);
      assert.equal(m.bytes.sent, c.client_bytes_sent, cell.id);
      assert.equal(m.server.protocol_errors, 0, cell.id);
      const scenario = catalog.scenarios.find((x) => x.name === cell.scenario)!;
      expectWork(cell.id, scenario.driver, p, m);
      assert.ok(m.server.cpu_user_us + m.server.cpu_sys_us > 0, `${cell.id}: server CPU measured`);
      // A runtime that cannot see its syscalls (Node.js) says so in its manifest.
      const countsSyscalls = !catalog.strategies.find((v) => v.name === cell.strategy)?.limitations.syscall_counts;
      if (countsSyscalls) assert.ok(m.server.wakeups > 0, `${cell.id}: server wakeups counted`);
    }
  }
});

test('peer-ping at 1000 connections: every strategy holds them all and answers every ping', { timeout: 600_000 }, () => {
  // 1000 peers put descriptors above FD_SETSIZE-sized assumptions, and make
  // per-iteration scans (select, poll, sockman) do real work.
  const names = catalog.strategies.filter((v) => v.available && v.protocols.includes('peer')).map((v) => v.name);
  const out = path.join(tempRoot(), 'run1000');
  const r = spawnSync(
    process.execPath,
    [CLI, 'run', '--strategies', names.join(','), '--scenarios', 'peer-ping', '--connections', '1000', '--requests', '10000', '--repeat', '1', '--out', out],
    { encoding: 'utf8', timeout: 590_000 },
  );
  const results = readResults(path.join(out, 'results.json'));
  const failed = results.cells.filter((c) => c.status !== 'ok').map((c) => `${c.id}: ${c.error}`);
  assert.deepEqual(failed, [], r.stdout + r.stderr);
  assert.equal(results.cells.length, names.length * 2);
  for (const cell of results.cells) {
    assert.equal(cell.params.connections, 1000, cell.id);
    const m = cell.repetitions[0].metrics!;
    assert.equal(m.ops, 10000, cell.id);
    assert.equal(m.server.messages_in, 10000, cell.id);
    assert.equal(cell.repetitions[0].consistency?.ok, true, cell.id);
  }
});

test('the run records the versions of the event libraries the strategies link', async () => {
  const { probeEnvironment } = await import('../harness/environment.js');
  const libs = probeEnvironment(REPO).libraries;
  // pkg-config for most; libev and asio have no .pc file on Debian (dpkg's version then).
  for (const lib of ['liburing', 'libuv', 'libevent', 'libev', 'asio']) assert.ok(libs[lib], `${lib} version recorded: ${JSON.stringify(libs)}`);
});
