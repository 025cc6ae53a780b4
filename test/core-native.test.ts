// Runs the C unit tests of the sans-I/O core (framer, HTTP handling,
// payloads, output queue) built by `make` as build/test-core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('C unit tests of strategies/core pass', () => {
  const r = spawnSync(path.join(root, 'build', 'test-core'), { encoding: 'utf8' });
  assert.equal(r.error, undefined, `cannot run build/test-core: ${r.error?.message}`);
  const summary = /(\d+) passed, (\d+) failed/.exec(r.stdout);
  assert.ok(summary, `no summary line in:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(summary[2], '0', r.stderr);
  assert.ok(Number(summary[1]) > 100, 'expected the full set of checks to run');
});
