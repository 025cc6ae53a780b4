/* compare --flamegraphs on hand-made runs: per-operation differential files
 * for matched profiled cells; refusals, with reasons, for a cell without a
 * profile, a whole-process (tool) profile, and a folded file outside the run
 * folder (whose content never reaches the message). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot } from './harness-fixture.js';
import type { CellResult, ResultsFile } from '../harness/results.js';
import type { ComparisonModel } from '../reports/compare.js';
import { diffComparedCells, foldedFileInside } from '../flamegraphs/compare-diff.js';

const SECRET = 'TOKEN=do-not-leak';

function run(dir: string, cells: Partial<CellResult>[]): { results: ResultsFile; dir: string } {
  fs.mkdirSync(path.join(dir, 'flamegraphs'), { recursive: true });
  return { results: { cells } as unknown as ResultsFile, dir };
}

function profiled(id: string, strategy: string, folded: string, window: 'measured' | 'process' = 'measured'): Partial<CellResult> {
  return {
    id,
    strategy,
    server_argv: [`build/muxbench-${strategy}`],
    profile: { profiler: window === 'measured' ? 'perf' : '0x', settings: '', status: 'ok', window, ops: 10, files: { folded }, notes: [] },
  };
}

test('differential files per operation for matched cells; the reasons when there can be none', () => {
  const root = tempRoot();
  const a = run(path.join(root, 'a'), [
    profiled('poll/x/tcp', 'poll', 'flamegraphs/x.folded'),
    profiled('poll/y/tcp', 'poll', '../../outside.folded'),
    profiled('poll/z/tcp', 'poll', 'flamegraphs/z.folded', 'process'),
    { id: 'poll/w/tcp', strategy: 'poll', server_argv: ['build/muxbench-poll'] },
  ]);
  fs.writeFileSync(path.join(a.dir, 'flamegraphs', 'x.folded'), '# muxbench folded stacks: period_ns=1000\nmuxbench-poll;main;poll 10\nmuxbench-poll;main;write 10\n');
  fs.writeFileSync(path.join(root, 'outside.folded'), `${SECRET}\n`);
  const b = run(path.join(root, 'b'), [
    profiled('io_uring/x/tcp', 'io_uring', 'flamegraphs/x.folded'),
    profiled('io_uring/y/tcp', 'io_uring', 'flamegraphs/x.folded'),
    profiled('io_uring/z/tcp', 'io_uring', 'flamegraphs/x.folded'),
    profiled('io_uring/w/tcp', 'io_uring', 'flamegraphs/x.folded'),
  ]);
  fs.writeFileSync(path.join(b.dir, 'flamegraphs', 'x.folded'), '# muxbench folded stacks: period_ns=1000\nmuxbench-io_uri;main;io_uring_enter 5\n');
  const pair = (k: string) => ({ key: `${k}/tcp`, base_id: `poll/${k}/tcp`, head_id: `io_uring/${k}/tcp` });
  const model = { mode: 'strategies', base_name: 'poll', head_name: 'io_uring', base_run: 'a', head_run: 'b', cells: ['x', 'y', 'z', 'w'].map(pair) } as unknown as ComparisonModel;
  const out = path.join(root, 'cmp');
  const diffs = diffComparedCells(model, a, b, out);

  const x = diffs[0];
  assert.equal(x.problem, undefined);
  assert.equal(x.unit, 'ns/op');
  assert.equal(x.base_per_op, 2000, '20 samples x 1000 ns / 10 ops');
  assert.equal(x.head_per_op, 500);
  // The main threads line up as "server" across the two strategies.
  const diffFolded = fs.readFileSync(path.join(out, x.files!.folded), 'utf8');
  assert.match(diffFolded, /^server;main;io_uring_enter 0\.000 500\.000$/m);
  assert.match(diffFolded, /^server;main;poll 1000\.000 0\.000$/m);
  // 10 samples of 100 ns/op each: noise 2·√10·100 ≈ 632, so the change of 1000 counts.
  assert.deepEqual(x.largest![0], { frame: 'poll', base: 1000, head: 0, noise: 2 * Math.sqrt(1000 * 100) });
  assert.ok(x.largest!.every((c) => Math.abs(c.head - c.base) > c.noise), 'only changes beyond sampling noise');

  assert.match(diffs[1].problem!, /outside its run folder/);
  assert.ok(!JSON.stringify(diffs).includes(SECRET), 'the outside file is never read into the result');
  assert.match(diffs[2].problem!, /whole server process/);
  assert.match(diffs[3].problem!, /base cell has no profile/);
});

test('foldedFileInside: inside the run folder only, symlinks resolved', () => {
  const root = tempRoot();
  fs.mkdirSync(path.join(root, 'run', 'flamegraphs'), { recursive: true });
  fs.writeFileSync(path.join(root, 'run', 'flamegraphs', 'a.folded'), 'x 1\n');
  fs.writeFileSync(path.join(root, 'secret'), 'x 1\n');
  fs.symlinkSync(path.join(root, 'secret'), path.join(root, 'run', 'flamegraphs', 'link.folded'));
  const dir = path.join(root, 'run');
  assert.ok(foldedFileInside(dir, 'flamegraphs/a.folded'));
  assert.equal(foldedFileInside(dir, '../secret'), null);
  assert.equal(foldedFileInside(dir, path.join(root, 'secret')), null);
  assert.equal(foldedFileInside(dir, 'flamegraphs/link.folded'), null, 'a symlink out of the run folder');
  assert.equal(foldedFileInside(dir, 'flamegraphs/missing.folded'), null);
});
