import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logIn, startAllInOne, waitForThumbnailedCapture, type AllInOneProcess } from '../support/all-in-one-process.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { createTempDir } from '../support/isolated.js';

const screenshotDir = path.resolve('test-results');

describe('the capture list in Chromium', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dataDir = await createTempDir('e2e');
    system = await startAllInOne({ DATA_DIR: dataDir.dir, SIMULATOR_DEVICES: '3', SIMULATOR_INTERVAL_MS: '1000' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await system?.kill();
    await dataDir?.remove();
  });

  it('shows a logged-in reviewer simulated captures with their thumbnails, using no remote resource', async () => {
    const reviewer = await system!.demoAccount('reviewer1');
    await waitForThumbnailedCapture(system!.reviewUrl, await logIn(system!.reviewUrl, reviewer));
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    const remoteRequests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(system!.reviewUrl.replace(/\/$/, ''))) remoteRequests.push(request.url());
    });
    await page.goto(system!.reviewUrl);
    // Not logged in yet: the list sends the reviewer to log in, and the login back to the list.
    await logInThroughPage(page, reviewer);
    expect(new URL(page.url()).pathname).toBe('/');
    const thumbnail = page.locator('.capture img').first();
    await thumbnail.waitFor({ state: 'visible', timeout: 20_000 });
    // A string, because this runs in the page and the Node project's types know no DOM; evaluated
    // rather than waited for, since waitForFunction compiles it with eval, which the page's CSP refuses.
    await expect
      .poll(() =>
        page.evaluate<boolean>(
          `[...document.querySelectorAll('.capture img')].slice(0, 4).every((image) => image.complete && image.naturalWidth > 0)`,
        ),
      )
      .toBe(true);
    expect(await page.locator('.capture').count()).toBeGreaterThan(0);
    expect(await page.locator('.capture .state').first().textContent()).toMatch(/verified|awaiting review/i);
    await expect.poll(() => page.locator('#state-filter button').count()).toBeGreaterThan(1);
    await mkdir(screenshotDir, { recursive: true });
    await page.screenshot({ path: path.join(screenshotDir, 'review-page.png') });
    expect(remoteRequests).toEqual([]);
  });
});
