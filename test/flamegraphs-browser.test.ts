/* The flamegraph pages in a real browser: a profile page and a differential
 * page rendered from the perf fixtures plus a hostile frame name, opened
 * from file:// in Debian's headless Chromium. Asserts they draw frames with
 * no page error and no request, that zoom, reset, search and tooltips work,
 * that the diff page switches views, that the static SVGs parse as XML, and
 * that the hostile name shows as text without running. Skipped only where
 * /usr/bin/chromium is missing (scripts/setup.sh installs it). */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO, tempRoot } from './harness-fixture.js';
import { CHROMIUM, HOSTILE } from './browser-fixture.js';
import { foldPerfScript, renameThreads, type Folded } from '../flamegraphs/fold.js';
import { diffProfiles } from '../flamegraphs/diff.js';
import { writeDiffFiles, writeProfileFiles } from '../flamegraphs/outputs.js';

const IMG = '<img src=x onerror="window.__pwned=2">';

const fixture = (name: string) => foldPerfScript(fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'perf', name), 'utf8'));

function withHostileFrame(f: Folded, samples: number): Folded {
  const stacks = new Map(f.stacks);
  const thread = [...f.stacks.keys()][0].split(';')[0];
  stacks.set(`${thread};main;${HOSTILE};tcp_sendmsg_[k]`, samples);
  // Markup that runs when inserted as HTML (a <script> inserted so does not).
  stacks.set(`${thread};main;${IMG}`, samples);
  return { stacks, samples: f.samples + 2 * samples, periodNs: f.periodNs };
}

async function open(browser: Browser, file: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`request: ${r.url()}`);
  });
  page.on('requestfailed', (r) => errors.push(`failed: ${r.url()}`));
  await page.goto(pathToFileURL(file).href);
  return { page, errors };
}

const drawnRects = (page: Page, view: string) => page.locator(`#view-${view} svg g.frame rect`).count();

test('flamegraph pages work in headless Chromium and keep hostile names inert', { timeout: 120_000 }, async (t: TestContext) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    return;
  }
  const dir = tempRoot();
  const poll = withHostileFrame(fixture('poll-peer-ping.txt'), 60);
  const profile = writeProfileFiles(dir, 'flamegraphs/poll', poll, { title: `poll ${HOSTILE}`, subtitle: HOSTILE, ops: 5000 });
  // Two programs: their threads get one name so the stacks line up.
  const server = (f: Folded) => renameThreads(f, () => 'server');
  const d = diffProfiles({ folded: server(poll), ops: 5000, label: `poll ${HOSTILE}` }, { folded: server(fixture('io_uring-peer-ping.txt')), ops: 6000, label: 'io_uring' });
  const diff = writeDiffFiles(dir, 'flamegraphs/poll-vs-io_uring', d, { title: `diff ${HOSTILE}` });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const { page, errors } = await open(browser, path.join(dir, profile.html));
    await page.waitForFunction(() => document.documentElement.getAttribute('data-charts-drawn') === '1');
    assert.ok((await drawnRects(page, 'profile')) > 50, 'frames drawn');
    assert.equal(await page.locator('h1').textContent(), `poll ${HOSTILE}`, 'the title shows as text');

    // The hostile frame is wide enough for its label, which appears as text.
    const hostileFrame = page.locator('#view-profile g.frame', { hasText: HOSTILE });
    await hostileFrame.first().waitFor({ timeout: 10_000 });

    // Tooltip and details line on hover.
    await hostileFrame.first().hover();
    const tip = page.locator('.d3-flame-graph-tip');
    await assertEventually(async () => ((await tip.textContent()) ?? '').includes('60 samples'), 'tooltip shows samples');
    assert.match((await tip.textContent()) ?? '', /µs\/op/);
    assert.match((await page.locator('#details').textContent()) ?? '', /60 samples/);
    // The tooltip of a frame named with markup shows the markup as text.
    await page.locator('#view-profile g.frame', { hasText: 'onerror' }).first().hover();
    await assertEventually(async () => ((await tip.textContent()) ?? '').includes(IMG), 'the tooltip shows the name as text');
    assert.equal(await page.locator('.d3-flame-graph-tip img').count(), 0, 'no element made from a frame name');

    // Zoom into a frame: its ancestors fade; reset brings them back.
    await hostileFrame.first().click();
    await assertEventually(async () => (await page.locator('#view-profile g.frame.fade').count()) > 0, 'ancestors fade after a click');
    await page.locator('#reset').click();
    await assertEventually(async () => (await page.locator('#view-profile g.frame.fade').count()) === 0, 'reset zoom');

    // Search is substring matching: a regular-expression metacharacter is harmless.
    await page.locator('#search').fill('tcp_sendmsg');
    await assertEventually(async () => (await page.locator('#view-profile rect[fill="#e600e6"]').count()) > 0, 'search highlights');
    assert.match((await page.locator('#details').textContent()) ?? '', /^search: \d+ frames, [\d.]+% of the profile$/);
    await page.locator('#search').fill('(');
    await page.locator('#search').fill('');
    await assertEventually(async () => (await page.locator('#view-profile rect[fill="#e600e6"]').count()) === 0, 'search cleared');

    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined, 'a frame name ran as script');
    assert.deepEqual(errors, []);
    await page.close();

    const diffPage = await open(browser, path.join(dir, diff.html));
    const p2 = diffPage.page;
    await p2.waitForFunction(() => document.documentElement.getAttribute('data-charts-drawn') === '4');
    assert.match((await p2.locator('.headline').textContent()) ?? '', /^io_uring costs [\d.]+ ns\/op vs poll <script>window.__pwned=1<\/script>"' [\d.]+ ns\/op \([\d.]+× base\)$/);
    assert.ok((await drawnRects(p2, 'head')) > 20);
    assert.equal(await p2.locator('#view-head').isVisible(), true);
    assert.equal(await p2.locator('#view-base').isVisible(), false);
    await p2.locator('button[data-view="base"]').click();
    assert.equal(await p2.locator('#view-base').isVisible(), true);
    assert.equal(await p2.locator('#view-head').isVisible(), false);
    assert.ok((await drawnRects(p2, 'base')) > 20);
    await p2.locator('#search').fill('tcp_');
    assert.match((await p2.locator('#details').textContent()) ?? '', /^search: \d+ frames, [\d.]+% of poll <script>.*’s profile, coloured by change \(what/, 'the search line speaks for the view on screen');
    // In base's shape, what head no longer has (the hostile frame, poll's own code) is blue.
    const removed = p2.locator('#view-base g.frame', { hasText: HOSTILE }).first().locator('rect');
    const fill = (await removed.getAttribute('fill')) ?? '';
    const [r, , b] = fill.match(/\d+/g)!.map(Number);
    assert.ok(b > r, `removed frame drawn blue, got ${fill}`);
    assert.equal(await p2.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined);
    assert.deepEqual(diffPage.errors, []);
    await p2.close();

    // The static SVGs: well-formed for the browser's XML parser, drawn when opened, nothing runs.
    for (const rel of [profile.svg, diff.svg]) {
      const svg = await open(browser, path.join(dir, rel));
      assert.ok((await svg.page.locator('rect').count()) > 20, rel);
      const parsed = await svg.page.evaluate((text) => {
        const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
        return { errors: doc.getElementsByTagName('parsererror').length, scripts: doc.getElementsByTagName('script').length };
      }, fs.readFileSync(path.join(dir, rel), 'utf8'));
      assert.deepEqual(parsed, { errors: 0, scripts: 0 }, rel);
      assert.equal(await svg.page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined);
      assert.deepEqual(svg.errors, []);
      await svg.page.close();
    }
  } finally {
    await browser.close();
  }
});

/* d3's transitions settle over a few hundred milliseconds. */
async function assertEventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
