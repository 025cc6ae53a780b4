/* Opening a rendered page (report.html, compare.html) in Debian's headless
 * Chromium through playwright-core, for the browser tests. Not a test file
 * itself. */
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';

/* scripts/setup.sh installs Debian's chromium here; the tests skip without it. */
export const CHROMIUM = '/usr/bin/chromium';
/* A name from a results file that would run if it reached the page unescaped. */
export const HOSTILE = `<script>window.__pwned=1</script>"'`;

export interface PageReport {
  /* Console errors, page errors and failed requests (the pages load nothing). */
  errors: string[];
  canvases: number;
  /* Charts the page's script says it drew. */
  drawn: number;
  /* Canvases with almost no painted pixel: charts that did not draw. */
  blank: string[];
  pwned: unknown;
  text: string;
}

/* Opens the file, waits for the page's script to finish drawing, and reads back every canvas. */
export async function openPage(browser: Browser, file: string, timeoutMs = 30_000): Promise<PageReport> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request: ${r.url()}`));
  try {
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(() => document.documentElement.hasAttribute('data-charts-drawn'), null, { timeout: timeoutMs });
    const seen = await page.evaluate(() => {
      const blank: string[] = [];
      const canvases = [...document.querySelectorAll('canvas')];
      for (const canvas of canvases) {
        const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
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
