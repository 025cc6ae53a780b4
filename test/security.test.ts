/* Safe by default: servers listen on loopback or on a unix socket in a
 * fresh private folder, and programs are started without a shell (an
 * argument is never interpreted). HTML escaping is tested with the reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveListen } from '../harness/serve.js';
import { makeSocketDir } from '../harness/cell.js';
import { startProcess } from '../harness/process.js';
import { UsageError } from '../harness/errors.js';
import { tempRoot } from './harness-fixture.js';

test('serve listens on numeric loopback addresses or unix sockets only', () => {
  for (const ok of ['tcp:127.0.0.1:0', 'tcp:127.8.9.10:8332', 'tcp:[::1]:0']) assert.equal(resolveListen(ok, ['tcp', 'unix']), ok);
  for (const bad of ['tcp:0.0.0.0:8332', 'tcp:192.168.1.10:8332', 'tcp:[::]:8332', 'tcp:example.com:80']) {
    assert.throws(() => resolveListen(bad, ['tcp', 'unix']), (e: unknown) => e instanceof UsageError && /only numeric loopback/.test((e as Error).message), bad);
  }
  assert.throws(() => resolveListen('tcp:localhost:8332', ['tcp']), /write 127\.0\.0\.1/);
  const sock = path.join(tempRoot(), 's.sock');
  assert.equal(resolveListen(`unix:${sock}`, ['tcp', 'unix']), `unix:${sock}`);
  fs.writeFileSync(sock, '');
  assert.throws(() => resolveListen(`unix:${sock}`, ['unix']), /already exists/, 'an existing path is never replaced');
});

test('a run\'s unix socket lives in a fresh folder only its owner can enter, short enough for sun_path', () => {
  const a = makeSocketDir();
  const b = makeSocketDir();
  try {
    assert.notEqual(a, b);
    for (const dir of [a, b]) {
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      assert.deepEqual(fs.readdirSync(dir), []);
      assert.ok(path.join(dir, 's.sock').length <= 107);
    }
  } finally {
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  }
});

test('programs are started without a shell: an argument with shell syntax stays one literal argument', async () => {
  const marker = path.join(os.tmpdir(), `muxbench-no-shell-${process.pid}`);
  const tricky = `$(touch ${marker}); touch ${marker} && echo 'x' "y" | cat`;
  const log = path.join(tempRoot(), 'stderr.log');
  const p = startProcess({ label: 'printer', argv: [process.execPath, '-e', 'process.stderr.write(JSON.stringify(process.argv.slice(1)))', tricky], cwd: os.tmpdir(), stderrLog: log });
  await p.exited;
  assert.deepEqual(JSON.parse(fs.readFileSync(log, 'utf8')), [tricky]);
  assert.equal(fs.existsSync(marker), false, 'nothing was run by a shell');
});
