/* Profiling end to end on small work: `muxbench profile` of a native
 * strategy (poll and io_uring) and of the Node strategy leaves flamegraph
 * files that parse and show the strategy's own code and its multiplexing
 * call; `compare --flamegraphs` draws the differential one; without perf the
 * run goes on with one message and no profiles. The perf tests are skipped,
 * with perf's reason, on a machine where perf cannot record; the run without
 * perf is checked everywhere. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, tempRoot } from './harness-fixture.js';
import { readResults, type CellResult } from '../harness/results.js';
import { parseFolded } from '../flamegraphs/fold.js';
import { probePerf } from '../flamegraphs/perf.js';
import { findExecutable } from '../harness/catalog.js';
import { probeNodeTool } from '../flamegraphs/node-tools.js';

const perf = probePerf();

function muxbench(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', timeout: 240_000, env });
  return { ...r, all: `${r.stdout}\n${r.stderr}` };
}

function profile(strategies: string, out: string) {
  const r = muxbench(['profile', strategies, 'peer-ping', '--connections', '20', '--requests', '20000', '--out', out]);
  assert.equal(r.status, 0, r.all);
  return { results: readResults(out), output: r.all };
}

/* Every output file of a profiled cell exists and parses. */
function checkFiles(out: string, c: CellResult) {
  const p = c.profile!;
  assert.equal(p.status, 'ok', `${c.id}: ${p.error}`);
  for (const k of ['folded', 'html', 'svg', 'speedscope', 'perf_data']) {
    assert.ok(p.files[k], `${c.id}: ${k} listed`);
    assert.ok(fs.statSync(path.join(out, p.files[k])).size > 0, `${c.id}: ${p.files[k]} is not empty`);
  }
  const folded = parseFolded(fs.readFileSync(path.join(out, p.files.folded), 'utf8'));
  assert.equal(folded.samples, p.summary!.samples);
  const speedscope = JSON.parse(fs.readFileSync(path.join(out, p.files.speedscope), 'utf8'));
  assert.equal(speedscope.profiles.length, 1);
  const svg = fs.readFileSync(path.join(out, p.files.svg), 'utf8');
  assert.match(svg, /^(<\?xml[^>]*>\s*)?<svg[\s>]/);
  const page = fs.readFileSync(path.join(out, p.files.html), 'utf8');
  assert.doesNotMatch(page, /<script[^>]+src=/, 'the flamegraph page is self-contained');
  // The profiled repetition is kept apart from the measured ones.
  assert.equal(p.repetition?.rep, 0);
  assert.deepEqual(c.repetitions.map((r) => r.rep), [1]);
  return folded;
}

const frames = (stacks: Map<string, number>) => new Set([...stacks.keys()].flatMap((s) => s.split(';')));

test('profile poll and io_uring: flamegraphs with their own code and multiplexing call, linked from the report; a differential flamegraph', { skip: !perf.usable && `perf cannot record here: ${!perf.usable ? perf.reason : ''}` }, () => {
  const out = path.join(tempRoot(), 'pp');
  const { results } = profile('poll,io_uring', out);
  assert.equal(results.cells.length, 2);
  const expected: Record<string, { own: RegExp; mux: string }> = {
    poll: { own: /^(main|serve|handle|settle)$/, mux: 'poll' },
    io_uring: { own: /^(main|cmp_complete|on_recv|on_send|settle|submit_send)$/, mux: 'io_uring_enter' },
  };
  const report = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  for (const c of results.cells) {
    const folded = checkFiles(out, c);
    const names = frames(folded.stacks);
    const want = expected[c.strategy];
    assert.ok([...names].some((f) => want.own.test(f)), `${c.id}: no frame of the strategy's own loop in ${[...names].slice(0, 30).join(', ')}`);
    const calls = c.profile!.summary!.mux_calls.map((m) => m.call);
    assert.ok(calls.some((k) => k.includes(want.mux)), `${c.id}: multiplexing calls ${calls.join(', ')} lack ${want.mux}`);
    assert.ok(c.profile!.summary!.mux_percent > 0);
    assert.ok(report.includes(`href="${c.profile!.files.html}"`), `report.html links ${c.profile!.files.html}`);
  }

  const cmp = path.join(tempRoot(), 'cmp');
  const r = muxbench(['compare', out, out, '--base-strategy', 'poll', '--head-strategy', 'io_uring', '--flamegraphs', '--out', cmp]);
  assert.equal(r.status, 0, r.all);
  const diffs = fs.readdirSync(path.join(cmp, 'flamegraphs'));
  for (const ext of ['.diff.html', '.diff.svg', '.diff.folded']) assert.ok(diffs.some((f) => f.endsWith(ext)), `${ext} in ${diffs.join(', ')}`);
  assert.match(fs.readFileSync(path.join(cmp, 'compare.html'), 'utf8'), /href="flamegraphs\/[^"]+\.diff\.html"/);
  assert.match(fs.readFileSync(path.join(cmp, 'compare.md'), 'utf8'), /Differential flamegraphs/);
});

test('profile the Node strategy with perf: JavaScript frames of the server and libuv\'s epoll call', { skip: !perf.usable && 'perf cannot record here' }, () => {
  const out = path.join(tempRoot(), 'node');
  const { results } = profile('node', out);
  const c = results.cells[0];
  const folded = checkFiles(out, c);
  const names = [...frames(folded.stacks)];
  assert.ok(names.some((f) => /strategies\/node\/\w+\.js/.test(f)), `no JavaScript frame of the server in ${names.slice(0, 40).join(', ')}`);
  assert.ok(c.profile!.summary!.mux_calls.some((m) => /epoll/.test(m.call)), JSON.stringify(c.profile!.summary!.mux_calls));
});

test('without perf the run goes on: one clear message, cells measured, no profiles', () => {
  // A PATH with what the harness needs (taskset) but no perf.
  const bin = path.join(tempRoot(), 'bin');
  fs.mkdirSync(bin);
  const taskset = findExecutable('taskset', '/');
  if (taskset) fs.symlinkSync(taskset, path.join(bin, 'taskset'));
  const out = path.join(tempRoot(), 'noperf');
  const r = muxbench(['profile', 'epoll', 'peer-ping', '--connections', '10', '--requests', '2000', '--out', out], { ...process.env, PATH: bin });
  assert.equal(r.status, 0, r.all);
  const lines = r.all.split('\n').filter((l) => /perf is not installed/.test(l));
  assert.equal(lines.length, 1, `one message about perf:\n${r.all}`);
  const results = readResults(out);
  assert.equal(results.cells[0].status, 'ok');
  assert.equal(results.cells[0].profile, undefined);
  assert.match(results.options.profile!.perf_problem ?? '', /perf is not installed/);
  assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /perf could not record here/);
});

const zeroX = probeNodeTool('0x', REPO);

test('profile the Node strategy under 0x through the harness: the tool\'s page, and our flamegraph and summary from its stacks', { skip: !zeroX.usable && `0x cannot run here: ${zeroX.reason}` }, () => {
  const out = path.join(tempRoot(), 'node-0x');
  const r = muxbench(['profile', 'node', 'peer-ping', '--connections', '10', '--requests', '10000', '--node-profiler', '0x', '--out', out]);
  assert.equal(r.status, 0, r.all);
  const p = readResults(out).cells[0].profile!;
  assert.equal(p.profiler, '0x');
  assert.equal(p.status, 'ok', p.error);
  assert.ok(fs.statSync(path.join(out, p.files['0x'])).size > 0, "0x's own flamegraph page");
  const folded = parseFolded(fs.readFileSync(path.join(out, p.files.folded), 'utf8'));
  assert.ok([...frames(folded.stacks)].some((f) => /strategies\/node\/\w+\.js/.test(f)), 'JavaScript frames of the server');
  assert.equal(p.summary!.samples, folded.samples);
  assert.ok(p.notes.some((n) => /whole life of the server/.test(n)), p.notes.join(' | '));
  assert.equal(p.window, 'process');
  assert.equal(p.ops, undefined, 'a whole-process profile has no per-operation cost');
});

test('perf that cannot attach: the profile fails with perf\'s own message, the cell keeps its measurement, exit 1', () => {
  const bin = path.join(tempRoot(), 'bin');
  fs.mkdirSync(bin);
  const taskset = findExecutable('taskset', '/');
  if (taskset) fs.symlinkSync(taskset, path.join(bin, 'taskset'));
  // Passes the probe (--version, a recording of `true`), refuses to attach to a pid.
  fs.writeFileSync(path.join(bin, 'perf'), '#!/bin/sh\ncase " $* " in *" -p "*) echo "fake perf: attach refused" >&2; exit 1;; esac\n[ "$1" = --version ] && echo "perf version 0-test"\nexit 0\n', { mode: 0o755 });
  const out = path.join(tempRoot(), 'attach');
  const r = muxbench(['profile', 'epoll', 'peer-ping', '--connections', '10', '--requests', '2000', '--out', out], { ...process.env, PATH: `${bin}:/bin` });
  assert.equal(r.status, 1, r.all);
  assert.match(r.all, /profile of epoll\/peer-ping\/tcp failed: .*fake perf: attach refused/);
  const c = readResults(out).cells[0];
  assert.equal(c.status, 'ok', 'the measured repetitions stand');
  assert.equal(c.profile!.status, 'failed');
  assert.equal(c.repetitions.length, 1);
});

test('--out that cannot hold results: refused before any work, exit 2', () => {
  const file = path.join(tempRoot(), 'a-file');
  fs.writeFileSync(file, '');
  for (const [out, message] of [
    [path.join(file, 'run'), /is a file, not a folder/],
    ['/proc/muxbench-test', /kernel file system/],
  ] as const) {
    const r = muxbench(['profile', 'epoll', 'peer-ping', '--out', out]);
    assert.equal(r.status, 2, r.all);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /muxbench run/, 'nothing ran');
  }
});
