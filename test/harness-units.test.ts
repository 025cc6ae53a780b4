import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSize, parseCount, parseSeconds, formatMiBps, formatMicros, formatBytes, formatCount, formatSeconds } from '../harness/units.js';
import { UsageError } from '../harness/errors.js';

test('parseSize accepts binary suffixes, with or without iB, any case', () => {
  assert.equal(parseSize('1G'), 1073741824);
  assert.equal(parseSize('1GiB'), 1073741824);
  assert.equal(parseSize('1gib'), 1073741824);
  assert.equal(parseSize('64K'), 65536);
  assert.equal(parseSize('512k'), 524288);
  assert.equal(parseSize('8M'), 8388608);
  assert.equal(parseSize('64MiB'), 67108864);
  assert.equal(parseSize('1.5G'), 1610612736);
  assert.equal(parseSize('2T'), 2 * 2 ** 40);
  assert.equal(parseSize('1048576'), 1048576);
  assert.equal(parseSize('100B'), 100);
  assert.equal(parseSize(4096), 4096);
});

test('parseSize rejects junk, negatives, zero, fractions of a byte and ambiguous GB', () => {
  for (const bad of ['1Gx', 'G', '', 'abc', '1 G B', '10iB', '1..5G', '0x10', '1e9']) {
    assert.throws(() => parseSize(bad, '--bytes'), (e: Error) => e instanceof UsageError && e.message.startsWith('--bytes:'), bad);
  }
  assert.throws(() => parseSize('-1G'), /must not be negative/);
  assert.throws(() => parseSize('0'), /greater than 0/);
  assert.equal(parseSize('0', 'x', { allowZero: true }), 0);
  assert.throws(() => parseSize('1.5'), /whole number/);
  assert.throws(() => parseSize('1GB'), /ambiguous.*1G or 1GiB/);
  assert.throws(() => parseSize('99999999T'), /too large/);
});

test('parseCount uses decimal multiples and rejects junk', () => {
  assert.equal(parseCount('20000'), 20000);
  assert.equal(parseCount('20k'), 20000);
  assert.equal(parseCount('1M'), 1000000);
  assert.equal(parseCount('2.5k'), 2500);
  assert.throws(() => parseCount('1Mx'), /not a count/);
  assert.throws(() => parseCount('-3'), /negative/);
  assert.throws(() => parseCount('0', '--repeat'), /--repeat: must be greater than 0/);
  assert.throws(() => parseCount('1.5'), /whole number/);
});

test('parseSeconds accepts positive numbers only', () => {
  assert.equal(parseSeconds('120'), 120);
  assert.equal(parseSeconds('0.5'), 0.5);
  assert.throws(() => parseSeconds('0'), UsageError);
  assert.throws(() => parseSeconds('ten'), UsageError);
});

test('formatting', () => {
  assert.equal(formatMiBps(2 ** 20 * 1536.25), '1536.3 MiB/s');
  assert.equal(formatMiBps(null), '-');
  assert.equal(formatMicros(12.345), '12.35 µs');
  assert.equal(formatMicros(450), '450 µs');
  assert.equal(formatMicros(25000), '25.0 ms');
  assert.equal(formatMicros(3_500_000), '3.50 s');
  assert.equal(formatBytes(1073741824), '1 GiB');
  assert.equal(formatBytes(65536), '64 KiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatCount(812345), '812.3k');
  assert.equal(formatCount(2_500_000), '2.50M');
  assert.equal(formatCount(42), '42');
  assert.equal(formatSeconds(1.234), '1.23 s');
  assert.equal(formatSeconds(0.0123), '12.3 ms');
});
