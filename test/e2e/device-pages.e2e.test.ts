import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne, type AllInOneProcess } from '../support/all-in-one-process.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { createTempDir } from '../support/isolated.js';

const screenshotDir = path.resolve('test-results');
const FLEET = ['SIM-CAM-0001', 'SIM-CAM-0002', 'SIM-CAM-0003'];

describe('the device pages in Chromium', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;
  let browser: Browser | undefined;
  const remoteRequests: string[] = [];

  beforeAll(async () => {
    dataDir = await createTempDir('e2e-devices');
    system = await startAllInOne({ DATA_DIR: dataDir.dir, SIMULATOR_DEVICES: '3' });
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.kill();
    await dataDir?.remove();
  });

  async function open(route: string): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    const origin = new URL(system!.reviewUrl).origin;
    page.on('request', (request) => {
      if (new URL(request.url()).origin !== origin) remoteRequests.push(request.url());
    });
    await page.goto(new URL(route, system!.reviewUrl).toString());
    return page;
  }

  /** A device administrator's page, logged in. */
  async function deviceAdministrator(): Promise<Page> {
    const page = await open('/devices.html');
    await logInThroughPage(page, await system!.demoAccount('devices'));
    return page;
  }

  /** Changes a device's status through the API the devices page calls, with the page's session. */
  async function setStatus(page: Page, deviceId: string, status: 'enabled' | 'disabled', reason: string): Promise<void> {
    const answer = await page.evaluate(
      async ({ deviceId, status, reason }) => {
        const { csrfToken } = (await (await fetch('/api/session')).json()) as { csrfToken: string };
        const response = await fetch(`/api/devices/${deviceId}/status`, {
          method: 'POST',
          headers: { 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
          body: JSON.stringify({ status, reason }),
        });
        return { status: response.status, body: await response.text() };
      },
      { deviceId, status, reason },
    );
    expect(answer.status, answer.body).toBe(200);
  }

  it('sends a device administrator through the login, shows the certified fleet and disables a device with a reason', async () => {
    const page = await deviceAdministrator();
    expect(new URL(page.url()).pathname).toBe('/devices.html');
    const links = page.getByRole('navigation', { name: 'Pages' }).getByRole('link');
    await expect
      .poll(() => links.allTextContents(), { timeout: 10_000 })
      .toEqual(['Captures', 'Devices', 'Device health', 'Public device list']);
    expect(await page.locator('#who').textContent()).toContain('Sun Hui (device administrator)');

    const rows = page.locator('#fleet tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    for (const id of FLEET) {
      const row = page.locator(`#fleet tr[data-device-id="${id}"]`);
      expect(await row.textContent()).toContain('certified');
      expect(await row.locator('.ok').textContent()).toContain('✓');
      expect(await row.locator('.badge').textContent()).toBe('enabled');
    }
    expect(await page.getByRole('heading', { name: 'Expiring within 30 days' }).isVisible()).toBe(true);
    expect(await page.locator('#expiring-empty').isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Disable SIM-CAM-0002' }).click();
    const dialog = page.getByRole('dialog', { name: 'Disable SIM-CAM-0002' });
    await dialog.getByLabel(/Reason/).fill('camera housing damaged by a truck');
    await dialog.getByRole('button', { name: 'Disable' }).click();

    const disabledRow = page.locator('#fleet tr[data-device-id="SIM-CAM-0002"]');
    await expect.poll(() => disabledRow.locator('.badge').textContent(), { timeout: 10_000 }).toBe('disabled');
    expect(await dialog.isVisible()).toBe(false);
    expect(await page.locator('#status').textContent()).toContain('SIM-CAM-0002 is now disabled');
    expect(await disabledRow.getByRole('button', { name: 'Enable SIM-CAM-0002' }).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(screenshotDir, 'devices-page.png'), fullPage: true });

    // The session outlives a reload: it goes straight back to the registry, not to the login.
    await page.reload();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    await page.close();
  });

  it('lists the enabled devices publicly, without a login', async () => {
    const administrator = await deviceAdministrator();
    await setStatus(administrator, 'SIM-CAM-0002', 'disabled', 'camera housing damaged by a truck');
    try {
      const page = await open('/public-devices.html');
      const rows = page.locator('#devices tbody tr');
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
      const ids = await Promise.all((await rows.all()).map((row) => row.getAttribute('data-device-id')));
      expect(ids.sort()).toEqual(['SIM-CAM-0001', 'SIM-CAM-0003']);
      expect(await page.locator('#devices').textContent()).toContain('Shennan Boulevard');
      await page.screenshot({ path: path.join(screenshotDir, 'public-devices.png'), fullPage: true });
      expect(remoteRequests).toEqual([]);
      await page.close();
    } finally {
      // The other test starts from the whole fleet enabled, whichever order they run in.
      await setStatus(administrator, 'SIM-CAM-0002', 'enabled', 'housing replaced');
      await administrator.close();
    }
  });
});
