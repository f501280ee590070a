import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { axeViolations } from '../support/axe.js';
import { launchBrowser } from '../support/browser.js';
import { enrolTestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const PHONE = { width: 390, height: 844 };

/** Citizens open the public list on their phones: it must fit one without sideways scrolling. */
describe('the pages on a 390 px wide phone', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    database = await createTestDatabase('e2e_phone');
    mediaDir = await createTempDir('e2e-phone');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (let device = 0; device < 3; device++) await enrolTestDevice(database.db);
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  it('fits the public device list in the width of the screen, every device readable, with no serious axe finding', async () => {
    const page = await browser.newPage({ viewport: PHONE });
    await page.goto(new URL('/public-devices.html', baseUrl).toString());
    await page.waitForSelector('#devices tbody tr');
    expect(await page.locator('#devices tbody tr').count()).toBe(3);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    // Each value keeps its column's name beside it once the table is stacked.
    expect(await page.locator('#devices tbody tr').first().locator('td').first().getAttribute('data-label')).toBe('Road');
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(screenshotDir, 'phone-public-devices.png'), fullPage: true });
    await page.close();
  });
});
