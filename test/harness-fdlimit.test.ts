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
});
