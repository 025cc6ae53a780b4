/* report.html in a real browser: a small real run (2 strategies, a
 * connections sweep and hand-off cells) rendered and opened from a file://
 * URL in Debian's headless Chromium through playwright-core. Asserts the page
 * loads without errors, every chart drew pixels, and hostile names from a
 * results file show as text without running. Skipped only where
 * /usr/bin/chromium is missing; scripts/setup.sh installs it, so CI runs it. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { CLI, tempRoot } from './harness-fixture.js';
import { CHROMIUM, HOSTILE, openPage } from './browser-fixture.js';
import { readResults, type ResultsFile } from '../harness/results.js';
import { renderReport } from '../reports/html.js';


function smallRun(): ResultsFile {
  const out = path.join(tempRoot(), 'run');
  const args = ['run', '--quick', '--strategies', 'epoll,io_uring', '--scenarios', 'peer-ping,http-rpc', '--transports', 'unix', '--repeat', '3', '--connections', '10,50', '--handoff', '0,2', '--out', out];
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `muxbench run failed:\n${r.stdout}\n${r.stderr}`);
  return readResults(out);
}

test('report.html renders every chart in headless Chromium and keeps hostile names inert', { timeout: 600_000 }, async (t: TestContext) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    return;
  }
  const results = smallRun();
  assert.equal(results.cells.length, 16);
  const dir = tempRoot();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const plain = path.join(dir, 'report.html');
    fs.writeFileSync(plain, renderReport(results));
    const seen = await openPage(browser, plain);
    assert.deepEqual(seen.errors, []);
    // 2 scenarios x (4 bar charts + syscalls + wake-ups + a latency chart per connection count (2))
    // + 2 x 2 sweeps (connections, handoff) x 3 scaling charts.
    assert.equal(seen.canvases, 2 * (6 + 2) + 2 * 2 * 3);
    assert.equal(seen.drawn, seen.canvases);
    assert.deepEqual(seen.blank, []);
    assert.match(seen.text, /1\. Headline[^]*7\. Environment and reproduction/);

    const hostile = structuredClone(results);
    hostile.cells[0].strategy = HOSTILE;
    hostile.cells[0].label = `${hostile.cells[0].label} x=${HOSTILE}`;
    hostile.warnings.push(HOSTILE);
    hostile.command_line.push(HOSTILE);
    const evil = path.join(dir, 'hostile.html');
    fs.writeFileSync(evil, renderReport(hostile));
    const shown = await openPage(browser, evil);
    assert.deepEqual(shown.errors, []);
    assert.equal(shown.pwned, undefined, 'a name from the results file ran as script');
    assert.ok(shown.text.includes(`${HOSTILE} connections=10 handoff=0 x=${HOSTILE}`), 'the hostile cell name shows as text');
    assert.ok(shown.text.includes(`'${HOSTILE.replace(/'/g, `'\\''`)}'`), 'the command line shows it, shell-quoted');
    assert.deepEqual(shown.blank, []);
  } finally {
    await browser.close();
  }
});
