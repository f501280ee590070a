import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { logIn, startAllInOne, waitForThumbnailedCapture, type AllInOneProcess } from '../support/all-in-one-process.js';
import { launchBrowser, logInThroughPage, watchContentSecurity } from '../support/browser.js';
import { createTempDir } from '../support/isolated.js';

const screenshotDir = path.resolve('test-results');
// Between them these open every page there is.
const DEMO_PEOPLE = ['reviewer1', 'analyst', 'auditor', 'admin'];

describe('every page under the Content-Security-Policy, in Chromium', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dataDir = await createTempDir('e2e-csp');
    system = await startAllInOne({ DATA_DIR: dataDir.dir, SIMULATOR_DEVICES: '2', SIMULATOR_INTERVAL_MS: '1000' });
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.kill();
    await dataDir?.remove();
  });

  // Each test has its own browser context and only reads, so they share the one server at once:
  // the reviewer waiting for a thumbnailed capture no longer holds the other people up.
  it.concurrent('loads the public list without a login, with no violation', async ({ expect }) => {
    const context = await browser!.newContext();
    const violations = await watchContentSecurity(context);
    const page = await context.newPage();
    await page.goto(new URL('/public-devices.html', system!.reviewUrl).toString());
    await expect.poll(() => page.locator('tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await page.goto(new URL('/login.html', system!.reviewUrl).toString());
    await page.getByLabel('Username').waitFor();
    expect(violations).toEqual([]);
    await context.close();
  });

  for (const username of DEMO_PEOPLE)
    it.concurrent(
      `opens every page ${username} may open, scripts, styles, images and the map all working, with no violation`,
      async ({ expect }) => {
        const account = await system!.demoAccount(username);
        if (username === 'reviewer1') await waitForThumbnailedCapture(system!.reviewUrl, await logIn(system!.reviewUrl, account));
        const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
        const violations = await watchContentSecurity(context);
        const errors: string[] = [];
        const page = await context.newPage();
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(system!.reviewUrl);
        await logInThroughPage(page, account);
        const links = page.getByRole('navigation', { name: 'Pages' }).getByRole('link');
        await expect.poll(() => links.count(), { timeout: 10_000 }).toBeGreaterThan(0);
        const hrefs: string[] = [];
        for (let index = 0; index < (await links.count()); index += 1) hrefs.push((await links.nth(index).getAttribute('href')) ?? '');
        for (const href of hrefs) {
          await page.goto(new URL(href, system!.reviewUrl).toString());
          // Module scripts ran: they fill in who is logged in (the public list has no header to fill,
          // and bull-board's queue dashboard is its own app, which shows its title once it runs).
          if (href === '/admin/queues') await page.getByText('Verity job queues').first().waitFor({ timeout: 10_000 });
          else if (href !== '/public-devices.html')
            await expect.poll(() => page.locator('#who').textContent(), { timeout: 10_000 }).toMatch(/\S/);
          await page.waitForLoadState('load');
          // Stylesheets applied: the body is not the browser's default serif.
          expect(await page.evaluate(`getComputedStyle(document.body).fontFamily`)).not.toMatch(/^"?Times/);
          // The reviewer has a thumbnailed capture to see (waited for above): its images load too.
          if (username === 'reviewer1' && href === '/')
            await page.locator('.capture img').first().waitFor({ state: 'visible', timeout: 20_000 });
          if (username === 'reviewer1' && href === '/review.html') {
            await page.locator('#zoom-target img').first().waitFor({ state: 'visible', timeout: 20_000 });
          }
          if (href === '/analytics.html') await page.locator('#map.leaflet-container').waitFor({ timeout: 15_000 });
          await page.screenshot({ path: path.join(screenshotDir, `csp-${username}-${href.replace(/\W+/g, '_') || 'index'}.png`) });
        }
        expect(violations).toEqual([]);
        expect(errors).toEqual([]);
        await context.close();
      },
      // Four to eight pages each, on two cores other test runs share.
      240_000,
    );
});
