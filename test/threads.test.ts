/* Several loop threads in one server (--threads N): how the harness plans
 * and records them, and the threaded strategies serving every scenario that
 * allows several loops, with exact work and counters summed over the loops.
 * Behaviour only: which model spreads connections better is measured by
 * runs, not asserted (EPOLLEXCLUSIVE may well give one loop all of them). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, tempRoot } from './harness-fixture.js';
import { loadCatalog, parseManifest, CatalogError, Catalog } from '../harness/catalog.js';
import { planCells } from '../harness/plan.js';
import { cpuPerThread, loopThreadIds } from '../harness/pin-threads.js';
import { readResults, unevenLoops, type CellResult } from '../harness/results.js';
import { allowedCpus } from '../harness/process.js';

const catalog = loadCatalog(REPO);
const threaded = catalog.strategies.filter((v) => v.available && v.threads).map((v) => v.name);
const plan = (c: Catalog, args: Parameters<typeof planCells>[1]) => planCells(c, args);

test('manifest: "threads" is the threading model, a non-empty string', () => {
  const v = { name: 'x', mechanism: 'm', command: ['build/x'], args: [], protocols: ['peer'], transports: ['tcp'] };
  assert.equal(parseManifest({ variants: [{ ...v, threads: 'a loop per thread' }] }, 'm.json', '/nonexistent')[0].threads, 'a loop per thread');
  assert.equal(parseManifest({ variants: [v] }, 'm.json', '/nonexistent')[0].threads, undefined);
  assert.throws(() => parseManifest({ variants: [{ ...v, threads: '' }] }, 'm.json', '/nonexistent'), CatalogError);
  assert.throws(() => parseManifest({ variants: [{ ...v, threads: 2 }] }, 'm.json', '/nonexistent'), /threads must be a non-empty string/);
});

test('the strategies the issue names run several loops; the scanning ones run one', () => {
  for (const name of ['epoll', 'epoll-exclusive', 'io_uring', 'libuv', 'asio', 'asio-io_uring']) {
    assert.ok(catalog.strategies.find((v) => v.name === name)?.threads, `${name} has a threading model`);
  }
  for (const name of ['select', 'poll', 'libevent', 'libev', 'node']) {
    assert.equal(catalog.strategies.find((v) => v.name === name)?.threads, undefined, `${name} runs one loop`);
  }
});

test('plan: --threads 1,2 gives threaded strategies both points and the others one, and says what it skipped', () => {
  const p = plan(catalog, { strategies: ['poll', 'epoll'], scenarios: ['peer-ping', 'peer-relay'], transports: ['tcp'], quick: true, overrides: {}, threads: [1, 2] });
  assert.deepEqual(
    p.cells.map((c) => c.id),
    ['epoll/peer-ping/tcp/threads=1', 'poll/peer-ping/tcp/threads=1', 'epoll/peer-ping/tcp/threads=2', 'epoll/peer-relay/tcp/threads=1', 'poll/peer-relay/tcp/threads=1'],
  );
  assert.equal(p.cells.find((c) => c.id === 'epoll/peer-ping/tcp/threads=2')?.server.threads, 2);
  assert.equal(p.skipped.length, 2, p.skipped.join('\n'));
  assert.match(p.skipped[0], /^threads=2: these strategies run one loop only .*: poll$/);
  assert.match(p.skipped[1], /^threads=2: peer-relay runs with one server loop/);
  // Hand-off workers serve one loop: the combination is skipped, not run.
  const h = plan(catalog, { strategies: ['epoll'], scenarios: ['http-rpc'], transports: ['tcp'], quick: true, overrides: {}, threads: [2], handoff: [0, 2] });
  assert.deepEqual(h.cells.map((c) => c.id), ['epoll/http-rpc/tcp/handoff=0,threads=2']);
  assert.match(h.skipped[0], /hand-off workers serve one loop/);
  // One value above 1 labels the cells; the default (1) does not.
  assert.equal(plan(catalog, { strategies: ['epoll'], scenarios: ['peer-ping'], transports: ['tcp'], quick: true, overrides: {}, threads: [2] }).cells[0].label, 'threads=2');
  assert.equal(plan(catalog, { strategies: ['epoll'], scenarios: ['peer-ping'], transports: ['tcp'], quick: true, overrides: {} }).cells[0].label, '');
});

test('loop threads: ids from the listening event, and one CPU each in turn', () => {
  assert.deepEqual(loopThreadIds({ loop_threads: [101, 102] }), [101, 102]);
  assert.deepEqual(loopThreadIds({ loop_threads: [0, -1, 'x', 7.5, 9] }), [9]);
  assert.deepEqual(loopThreadIds({}), []);
  assert.deepEqual(cpuPerThread(2, [0, 1]), [0, 1]);
  assert.deepEqual(cpuPerThread(3, [2, 3]), [2, 3, 2]);
  assert.deepEqual(cpuPerThread(2, [0]), [0, 0]);
});

test('a strategy that runs one loop refuses --threads 2 with the reason', () => {
  const r = spawnSync(path.join(REPO, 'build', 'muxbench-poll'), ['--protocol', 'peer', '--listen', 'tcp:127.0.0.1:0', '--threads', '2'], { encoding: 'utf8', input: '', timeout: 10_000 });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /"event":"error","message":"--threads 2: muxbench-poll runs 1 loop thread"/);
  const bad = spawnSync(path.join(REPO, 'build', 'muxbench-epoll'), ['--protocol', 'peer', '--listen', 'tcp:127.0.0.1:0', '--threads', '0'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--threads must be 1\.\.64/);
});

test('run --threads 2: every threaded strategy serves every scenario that allows several loops, exactly', { timeout: 600_000 }, () => {
  const out = path.join(tempRoot(), 'threads');
  // Two CPUs: one per server loop (the load generator shares the second).
  const [c0, c1] = allowedCpus();
  const cpus = c1 !== undefined ? ['--cpus', `${c0},${c1}/${c1}`] : [];
  const r = spawnSync(process.execPath, [CLI, 'run', '--quick', '--threads', '2', '--strategies', threaded.join(','), ...cpus, '--out', out], { encoding: 'utf8', timeout: 590_000 });
  const results = readResults(path.join(out, 'results.json'));
  const failed = results.cells.filter((c) => c.status !== 'ok').map((c) => `${c.id}: ${c.error}`);
  assert.deepEqual(failed, [], r.stdout + r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /skipped threads=2: peer-relay runs with one server loop/);
  assert.ok(results.skipped?.some((s) => s.startsWith('threads=2: peer-relay runs with one server loop')), 'recorded in results.json');

  const expected = catalog.strategies
    .filter((v) => threaded.includes(v.name))
    .flatMap((v) => catalog.scenarios.filter((s) => v.protocols.includes(s.protocol) && !s.singleServerLoop).flatMap((s) => v.transports.map((t) => `${v.name}/${s.name}/${t}/threads=2`)));
  assert.deepEqual(results.cells.map((c) => c.id).sort(), expected.sort());
  assert.deepEqual(results.options.threads, [2]);

  for (const cell of results.cells) {
    assert.equal(cell.server_params.threads, 2, cell.id);
    assert.ok(cell.server_argv.join(' ').includes('--threads 2'), cell.id);
    assert.ok(cell.threading && cell.threading !== 'one loop', `${cell.id}: threading model "${cell.threading}"`);
    for (const rep of cell.repetitions) {
      const t = rep.server_threads!;
      assert.equal(t.loop_threads, 2, cell.id);
      if (cpus.length) assert.deepEqual(t.cpus, [c0, c1], `${cell.id}: one CPU per loop`);
      // Per-loop connection counts add up to the cell's connections (a model that keeps connections per loop).
      if (t.connections) assert.equal(t.connections.reduce((a, b) => a + b, 0), cell.params.connections, `${cell.id}: ${t.connections}`);
      const m = rep.metrics!;
      assert.equal(rep.consistency?.ok, true, `${cell.id}: bytes agree`);
      assert.equal(m.server.protocol_errors, 0, cell.id);
      // Statistics summed over both loops equal the client's count.
      if (m.ops && ['peer-ping', 'http-rpc', 'http-churn'].includes(cell.scenario)) assert.equal(m.server.messages_in, m.ops, cell.id);
    }
  }
});

test('a one-loop server given two CPUs has its loop pinned to the first (as loop 0 of a threaded one)', { timeout: 120_000 }, (ctx) => {
  const [c0, c1] = allowedCpus();
  if (c1 === undefined) return ctx.skip('needs two CPUs');
  const out = path.join(tempRoot(), 'one');
  const r = spawnSync(process.execPath, [CLI, 'run', '--quick', '--strategies', 'poll', '--scenarios', 'peer-ping', '--transports', 'tcp', '--cpus', `${c0},${c1}/${c1}`, '--out', out], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const t = readResults(path.join(out, 'results.json')).cells[0].repetitions[0].server_threads!;
  assert.deepEqual([t.model, t.loop_threads, t.cpus], ['one loop', 1, [c0]]);
});

test('uneven loops: a loop under half its fair share of the connections is flagged', () => {
  const cell = (splits: number[][]) =>
    ({ repetitions: splits.map((connections) => ({ status: 'ok', server_threads: { model: 'm', loop_threads: connections.length, cpus: null, connections } })) }) as unknown as CellResult;
  assert.equal(unevenLoops(cell([[52, 48]])), null);
  assert.equal(unevenLoops(cell([[62, 38]])), null);
  assert.equal(unevenLoops(cell([[52, 48], [87, 13]])), '87/13');
  assert.equal(unevenLoops(cell([[100, 0]])), '100/0');
  assert.equal(unevenLoops(cell([[30, 30, 30, 10]])), '30/30/30/10');
  assert.equal(unevenLoops(cell([[100]])), null, 'one loop');
  assert.equal(unevenLoops({ repetitions: [{ status: 'ok' }] } as unknown as CellResult), null, 'no record');
});

test('compare --base-threads 1 --head-threads 2: one loop against two, matched without threads=N', { timeout: 120_000 }, () => {
  const out = path.join(tempRoot(), 'sweep');
  const r = spawnSync(process.execPath, [CLI, 'run', '--quick', '--repeat', '2', '--strategies', 'epoll', '--scenarios', 'peer-ping', '--transports', 'tcp', '--threads', '1,2', '--out', out], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const cmp = path.join(tempRoot(), 'cmp');
  const c = spawnSync(process.execPath, [CLI, 'compare', out, out, '--base-threads', '1', '--head-threads', '2', '--out', cmp], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(c.status, 0, c.stdout + c.stderr);
  const md = fs.readFileSync(path.join(cmp, 'compare.md'), 'utf8');
  assert.match(md, /threads=1 against threads=2 in run /);
  assert.match(md, /\| epoll\/peer-ping\/tcp \| ops\/s \|/);
  assert.match(md, /server loop threads 1 vs 2/);
  const bad = spawnSync(process.execPath, [CLI, 'compare', out, out, '--base-threads', '1', '--head-threads', '3', '--out', cmp], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--head-threads 3: no cell with 3 server loop threads in the head results .*it has: 1, 2/);
});
