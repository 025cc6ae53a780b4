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
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { CLI, tempRoot } from './harness-fixture.js';
import { readResults, type ResultsFile } from '../harness/results.js';
import { renderReport } from '../reports/html.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = `<script>window.__pwned=1</script>"'`;

interface PageReport {
  errors: string[];
  canvases: number;
  drawn: number;
  /* Canvases with no opaque-ish pixel: charts that did not draw. */
  blank: string[];
  pwned: unknown;
  text: string;
}

/* Opens the file, waits for the report's script to finish drawing, and reads back every canvas. */
async function openReport(browser: Browser, file: string): Promise<PageReport> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  try {
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(() => document.documentElement.hasAttribute('data-charts-drawn'), null, { timeout: 30_000 });
    const seen = await page.evaluate(() => {
      const blank: string[] = [];
      const canvases = [...document.querySelectorAll('canvas')];
      for (const canvas of canvases) {
        const ctx = canvas.getContext('2d')!;
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
        // A chart that failed leaves the canvas transparent; a drawn one paints many thousands of pixels.
        if (painted < 1000) blank.push(`${canvas.id} (${painted} px)`);
      }
      return {
        canvases: canvases.length,
        drawn: Number(document.documentElement.getAttribute('data-charts-drawn')),
        blank,
        pwned: (window as unknown as { __pwned?: unknown }).__pwned,
        text: document.body.innerText,
      };
    });
    return { errors, ...seen };
  } finally {
    await page.close();
  }
}

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
    const seen = await openReport(browser, plain);
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
    const shown = await openReport(browser, evil);
    assert.deepEqual(shown.errors, []);
    assert.equal(shown.pwned, undefined, 'a name from the results file ran as script');
    assert.ok(shown.text.includes(`${HOSTILE} connections=10 handoff=0 x=${HOSTILE}`), 'the hostile cell name shows as text');
    assert.ok(shown.text.includes(`'${HOSTILE.replace(/'/g, `'\\''`)}'`), 'the command line shows it, shell-quoted');
    assert.deepEqual(shown.blank, []);
  } finally {
    await browser.close();
  }
});
