import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConnections, hardFdLimit } from '../harness/fdlimit.js';
import { UsageError } from '../harness/errors.js';

const limits = (hard: string) =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax processes             95000                95000                processes\nMax open files            1024                 ${hard}                files\n`;

test('hardFdLimit reads the hard open-files limit', () => {
  assert.equal(hardFdLimit(limits('4096')), 4096);
  assert.equal(hardFdLimit(limits('unlimited')), null);
  assert.equal(hardFdLimit(''), null);
});

test('checkConnections refuses counts the hard limit cannot hold, naming the fix', () => {
  assert.doesNotThrow(() => checkConnections(1000, 4096));
  assert.doesNotThrow(() => checkConnections(100000, null));
  assert.throws(() => checkConnections(10000, 4096), (e: Error) => e instanceof UsageError && /hard limit is 4096/.test(e.message) && /ulimit -Hn 10064/.test(e.message));
  assert.throws(() => checkConnections(2000000, 4096, 1048576), /above the kernel's ceiling fs\.nr_open = 1048576/);
});

test('ensureFdLimit raises the hard limit itself when it may, and otherwise names the limit', async () => {
  const { ensureFdLimit } = await import('../harness/fdlimit.js');
  const hard = hardFdLimit();
  if (hard === null) return; // unlimited: nothing to raise
  let asked = 0;
  ensureFdLimit(10, (need) => ((asked = need), true));
  assert.equal(asked, 0, 'no raise needed for 10 connections');
  assert.throws(
    () => ensureFdLimit(hard + 1000, (need) => ((asked = need), false)),
    (e: Error) => e instanceof UsageError && e.message.includes(`hard limit is ${hard}`),
  );
  assert.equal(asked, hard + 1000 + 64);

  // For real, in a child process (raising is inherited by whatever it starts).
  const { spawnSync } = await import('node:child_process');
  const script = `import('${new URL('../harness/fdlimit.js', import.meta.url).href}').then((m) => { m.ensureFdLimit(${hard + 1000}); console.log(m.hardFdLimit()); }).catch((e) => { console.log('refused: ' + e.message); })`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  const line = r.stdout.trim();
  // Whether raising is allowed depends on the host (root with CAP_SYS_RESOURCE):
  // either the limit was raised to what the run needs, or the refusal names it.
  if (/^\d+$/.test(line)) assert.equal(Number(line), hard + 1000 + 64);
  else assert.match(line, new RegExp(`^refused: .*hard limit is ${hard}`), line + r.stderr);
});
