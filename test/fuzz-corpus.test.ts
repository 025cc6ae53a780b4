// The libFuzzer harnesses (test/fuzz/, docs/fuzzing.md) replay their whole
// committed seed corpus under AddressSanitizer and UBSan: every valid,
// malformed and once-crashing input must go through the real session code
// without a sanitizer report, a leak or a stalled connection. No fuzzing
// here (that is scripts/fuzz.sh): -runs=0 executes each corpus file once,
// deterministically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGETS = ['p2p', 'http'] as const;
const binary = (t: string) => path.join(root, 'build', 'fuzz', `fuzz_${t}`);
const corpus = (t: string) => path.join(root, 'test', 'fuzz', 'corpus', t);

/* Without clang's libFuzzer there is nothing to run; `make fuzz` says why. */
const build = spawnSync('make', ['-s', '-j2', 'fuzz'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
const missing = build.status !== 0 && /make fuzz: .*(not found|cannot link)/.exec(build.stderr)?.[0];
const skip = missing ? `${missing} (scripts/setup.sh installs it)` : false;

function run(t: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(binary(t), args, {
    cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env },
  });
}

test('make fuzz builds both harnesses with clang', { skip }, () => {
  assert.equal(build.status, 0, `make fuzz failed:\n${build.stdout}\n${build.stderr}`);
  for (const t of TARGETS) assert.ok(fs.existsSync(binary(t)), `${binary(t)} missing`);
});

for (const t of TARGETS) {
  test(`fuzz_${t} runs every seed corpus file cleanly under ASan and UBSan`, { skip }, () => {
    const files = fs.readdirSync(corpus(t)).filter((f) => fs.statSync(path.join(corpus(t), f)).isFile());
    assert.ok(files.length >= 15, `expected a seed corpus in ${corpus(t)}, found ${files.length} files`);
    const r = run(t, ['-runs=0', corpus(t)]);
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.error, undefined, `cannot run ${binary(t)}: ${r.error?.message}`);
    assert.equal(r.status, 0, `fuzz_${t} failed on its corpus:\n${out.slice(-4000)}`);
    assert.doesNotMatch(out, /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:/);
    const seen = /INFO: seed corpus: files: (\d+)/.exec(out);
    assert.ok(seen, `no "seed corpus" line from libFuzzer:\n${out.slice(-2000)}`);
    assert.equal(Number(seen[1]), files.length, 'libFuzzer did not read every corpus file');
    assert.match(out, /#\d+\s+INITED /, 'the corpus was not executed');
    assert.match(out, /#\d+\s+DONE /);
  });
}

/* The corpus test above must not pass for want of sanitizers: the binaries
 * carry ASan's runtime and UBSan's checks, and a failing input is reported
 * as a failure (non-zero exit, artifact written). */
test('the harnesses are really instrumented, and a failure is reported as one', { skip }, () => {
  for (const t of TARGETS) {
    const help = run(t, ['-runs=0', corpus(t)], { ASAN_OPTIONS: 'help=1' });
    assert.match(`${help.stdout}${help.stderr}`, /Available flags for AddressSanitizer/, `fuzz_${t}: no ASan runtime`);
    const nm = spawnSync('nm', [binary(t)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(nm.status, 0, `nm failed: ${nm.stderr}`);
    assert.match(nm.stdout, /__ubsan_handle_\w+_abort/, `fuzz_${t}: no UBSan checks (abort on error)`);
    assert.match(nm.stdout, /__asan_report_load/, `fuzz_${t}: code not ASan-instrumented`);
  }
  // The P2P session builds its 4 MB payload pattern on a getdata; under a
  // 1 MB malloc limit libFuzzer must report that as a crash with an input.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muxbench-fuzz-'));
  try {
    fs.mkdirSync(path.join(dir, 'in'));
    fs.copyFileSync(path.join(corpus('p2p'), 'getdata'), path.join(dir, 'in', 'getdata'));
    const r = run('p2p', ['-runs=0', '-malloc_limit_mb=1', `-artifact_prefix=${dir}/`, path.join(dir, 'in')]);
    const out = `${r.stdout}${r.stderr}`;
    assert.notEqual(r.status, 0, `an over-limit malloc was not reported:\n${out.slice(-2000)}`);
    assert.match(out, /ERROR: libFuzzer: out-of-memory \(malloc\(\d+\)\)/);
    assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('oom-')), 'no crash artifact written');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
