import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne, type AllInOneProcess } from '../support/all-in-one-process.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { createTempDir } from '../support/isolated.js';

const screenshotDir = path.resolve('test-results');

describe('the device health page in Chromium', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dataDir = await createTempDir('e2e-health');
    system = await startAllInOne({ DATA_DIR: dataDir.dir, SIMULATOR_DEVICES: '2' });
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.kill();
    await dataDir?.remove();
  });

  it('records an operator window, shows the device as down and draws the window on its timeline', async () => {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    const origin = new URL(system!.reviewUrl).origin;
    const remoteRequests: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).origin !== origin) remoteRequests.push(request.url());
    });
    await page.goto(new URL('/health.html', system!.reviewUrl).toString());
    await logInThroughPage(page, await system!.demoAccount('devices'));
    expect(new URL(page.url()).pathname).toBe('/health.html');

    // The simulator enrols its fleet as it starts; reload until both cameras are listed.
    const deviceOptions = page.locator('#device option');
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return deviceOptions.count();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(2);
    expect(await page.locator('#down-empty').isVisible()).toBe(true);

    await page.getByLabel('Device', { exact: true }).selectOption('SIM-CAM-0001');
    // Computed in the page: datetime-local speaks the browser's own time zone.
    const tenMinutesAgo = await page.evaluate(() => {
      const date = new Date(Date.now() - 10 * 60_000);
      return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    });
    await page.getByLabel('From').fill(tenMinutesAgo);
    await page.getByLabel(/What was wrong/).fill('camera misaligned by a gust of wind');
    await page.getByRole('button', { name: 'Record window' }).click();

    await expect
      .poll(() => page.locator('#status').textContent(), { timeout: 10_000 })
      .toContain('operator window recorded for SIM-CAM-0001');
    const downRow = page.locator('#down tr[data-device-id="SIM-CAM-0001"]');
    expect(await downRow.textContent()).toContain('camera misaligned by a gust of wind');
    expect(await downRow.textContent()).toContain('operator');
    expect(await page.locator('#down tr[data-device-id="SIM-CAM-0002"]').count()).toBe(0);

    const bar = page.locator('#timeline g.window.source-operator');
    expect(await bar.count()).toBe(1);
    const windowRow = page.locator('#windows tbody tr').filter({ hasText: 'camera misaligned by a gust of wind' });
    // The window is recorded under the login, not under a name typed into the form.
    expect(await windowRow.textContent()).toContain('person:devices');
    expect(await windowRow.getByRole('button', { name: /^Close operator window/ }).isVisible()).toBe(true);

    // The workers re-screen the camera's captures of the last ten minutes; the page shows the count once they have.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return Number(await windowRow.locator('td').nth(4).textContent());
        },
        { timeout: 45_000, interval: 1000 },
      )
      .toBeGreaterThan(0);
    expect(await bar.textContent()).toMatch(/\d+/);

    // The header is sticky: from a scrolled page it would be drawn over the first panel.
    await page.evaluate('scrollTo(0, 0)');
    await page.screenshot({ path: path.join(screenshotDir, 'health-page.png'), fullPage: true });

    // A false alarm after all: withdrawing it through the dialog brings the camera back up.
    await windowRow.getByRole('button', { name: /^Withdraw operator window/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Withdraw the operator window' });
    await dialog.getByLabel(/Reason/).fill('checked on site: the camera was aligned all along');
    await dialog.getByRole('button', { name: 'Withdraw window' }).click();
    await expect.poll(() => windowRow.textContent(), { timeout: 10_000 }).toContain('Withdrawn by person:devices');
    expect(await dialog.isVisible()).toBe(false);
    expect(await page.locator('#down-empty').isVisible()).toBe(true);
    expect(await page.locator('#timeline g.window.source-operator.withdrawn').count()).toBe(1);
    await page.evaluate('scrollTo(0, 0)');
    await page.screenshot({ path: path.join(screenshotDir, 'health-page-withdrawn.png'), fullPage: true });
    expect(remoteRequests).toEqual([]);
    await page.close();
  });
});
