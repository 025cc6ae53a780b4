/* `muxbench compare`, `muxbench report` and a run's report files through
 * the CLI: the files written, the exit codes CI gates on, the job summary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, fakeRepo, tempRoot } from './harness-fixture.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'compare');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/* The head fixture with every repetition's server CPU per op scaled. */
function scaledHead(factor: number): string {
  const data = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'head.json'), 'utf8'));
  for (const c of data.cells) for (const r of c.repetitions) if (r.metrics) r.metrics.server.cpu_us_per_op *= factor;
  const file = path.join(tempRoot(), 'head.json');
  fs.writeFileSync(file, JSON.stringify(data));
  return file;
}

test('compare writes compare.md (the golden text), prints the summary line, appends to the job summary', () => {
  const out = path.join(tempRoot(), 'cmp');
  const summary = path.join(tempRoot(), 'step-summary.md');
  fs.writeFileSync(summary, '# earlier step\n');
  const r = cli(['compare', path.join(FIXTURES, 'base.json'), path.join(FIXTURES, 'head.json'), '--out', out], { GITHUB_STEP_SUMMARY: summary });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^head vs base: \d+ better, \d+ worse/);
  const md = fs.readFileSync(path.join(out, 'compare.md'), 'utf8');
  assert.equal(md, fs.readFileSync(path.join(FIXTURES, 'compare.md'), 'utf8'));
  assert.match(fs.readFileSync(path.join(out, 'compare.html'), 'utf8'), /^<!DOCTYPE html>/i);
  assert.match(r.out, /wrote \S+compare\.html/);
  assert.equal(fs.readFileSync(summary, 'utf8'), '# earlier step\n' + md);
});

test('--fail-on-regression: exit 1 only for a significant regression over the threshold', () => {
  const head = scaledHead(1.5);
  const out = path.join(tempRoot(), 'cmp');
  const tripped = cli(['compare', path.join(FIXTURES, 'base.json'), head, '--out', out, '--fail-on-regression', '20']);
  assert.equal(tripped.code, 1, tripped.out + tripped.err);
  assert.match(tripped.out, /--fail-on-regression 20%: the gate trips on\n {2}\S+ server CPU\/op: \+[4-5]\d\.\d%/);
  const under = cli(['compare', path.join(FIXTURES, 'base.json'), head, '--out', out, '--fail-on-regression', '60%']);
  assert.equal(under.code, 0, under.out + under.err);
  assert.equal(cli(['compare', path.join(FIXTURES, 'base.json'), head, '--fail-on-regression', 'lots']).code, 2);
});

test('incompatible or unreadable inputs exit 2 with the reason', () => {
  const other = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'base.json'), 'utf8'));
  other.cells = other.cells.map((c: { scenario: string; id: string }) => ({ ...c, scenario: 'peer-block', id: c.id.replace(/\/(peer-ping|http-rpc)\//, '/peer-block/') }));
  const file = path.join(tempRoot(), 'other.json');
  fs.writeFileSync(file, JSON.stringify(other));
  const r = cli(['compare', path.join(FIXTURES, 'base.json'), file, '--out', tempRoot()]);
  assert.equal(r.code, 2, r.out + r.err);
  assert.match(r.err, /no cell in common/i);
  const missing = cli(['compare', path.join(FIXTURES, 'base.json'), path.join(FIXTURES, 'base.json'), '--base-strategy', 'kqueue', '--head-strategy', 'epoll']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /kqueue/);
  assert.equal(cli(['compare', path.join(FIXTURES, 'base.json'), path.join(tempRoot(), 'none.json')]).code, 2);
  const alone = cli(['compare', path.join(FIXTURES, 'base.json'), path.join(FIXTURES, 'base.json'), '--base-strategy', 'epoll']);
  assert.equal(alone.code, 2);
  assert.match(alone.err, /epoll against itself in one run: give the other side too/);
});

test('a run leaves report.html, summary.csv and summary.md next to results.json and appends the summary to the job summary', () => {
  const root = fakeRepo();
  const summary = path.join(tempRoot(), 'step-summary.md');
  const r = spawnSync(process.execPath, [CLI, 'run', '--quick', '--strategies', 'fake', '--transports', 'unix'], {
    env: { ...process.env, MUXBENCH_ROOT: root, GITHUB_STEP_SUMMARY: summary },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const dir = fs.realpathSync(path.join(root, 'results', 'latest'));
  assert.match(r.stdout, /report: +\S+report\.html/);
  assert.match(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'), /^<!DOCTYPE html>/i);
  const csv = fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').split('\r\n');
  assert.match(csv[0], /^id,scenario,transport,strategy,/);
  assert.match(csv[1], /^fake\/echo\/unix,echo,unix,fake,/);
  const md = fs.readFileSync(path.join(dir, 'summary.md'), 'utf8');
  assert.match(md, /\| *echo *\| *unix *\| *fake *\|/);
  const appended = fs.readFileSync(summary, 'utf8');
  assert.match(appended, /^### muxbench run \S+ \(finished\)\n\n/);
  assert.equal(appended.replace(/^### .*\n\n/, '').trim(), md.trim());
});

test('muxbench report rewrites a run\'s report files, into the run folder or --out; an invalid file exits 2', () => {
  const dir = tempRoot();
  fs.copyFileSync(path.join(FIXTURES, 'base.json'), path.join(dir, 'results.json'));
  const r = cli(['report', dir]);
  assert.equal(r.code, 0, r.err);
  for (const f of ['report.html', 'summary.csv', 'summary.md']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const out = path.join(tempRoot(), 'elsewhere');
  assert.equal(cli(['report', path.join(dir, 'results.json'), '--out', out]).code, 0);
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  fs.writeFileSync(path.join(dir, 'results.json'), '{"schema":"muxbench-results"');
  const bad = cli(['report', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not valid JSON/);
});

test('--fail-on-regression also trips on a head cell that failed, a cell missing from head, and on too few repetitions', () => {
  const base = path.join(FIXTURES, 'base.json');
  const edit = (f: (d: any) => void) => {
    const data = JSON.parse(fs.readFileSync(base, 'utf8'));
    f(data);
    const file = path.join(tempRoot(), 'head.json');
    fs.writeFileSync(file, JSON.stringify(data));
    return file;
  };
  const broken = edit((d) => {
    const c = d.cells[0];
    c.status = 'failed';
    c.error = 'rep 1: server crashed';
    c.repetitions = [{ ...c.repetitions[0], status: 'failed', error: 'server crashed', metrics: undefined }];
  });
  const r = cli(['compare', base, broken, '--out', tempRoot(), '--fail-on-regression', '50']);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /the gate trips on\n {2}\S+: failed in head/);
  const missing = edit((d) => d.cells.splice(1, 1));
  const m = cli(['compare', base, missing, '--out', tempRoot(), '--fail-on-regression', '50']);
  assert.equal(m.code, 1, m.out + m.err);
  assert.match(m.out, /: not in head/);
  const single = (file: string) => {
    const data = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const c of data.cells) c.repetitions = c.repetitions.slice(0, 1);
    const out = path.join(tempRoot(), 'one.json');
    fs.writeFileSync(out, JSON.stringify(data));
    return out;
  };
  const s = cli(['compare', single(base), single(base), '--out', tempRoot(), '--fail-on-regression', '50']);
  assert.equal(s.code, 1, s.out + s.err);
  assert.match(s.out, /no comparison had 2 repetitions per side/);
  // Without the gate, the same inputs are only reported.
  assert.equal(cli(['compare', base, broken, '--out', tempRoot()]).code, 0);
});
