import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, localDay } from '../../core/domain/analytics-calendar.js';
import { loadConfig } from '../../core/domain/config.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { analyticsDailyCounts, devices } from '../../db/schema.js';
import { createPerson } from '../../review-ui/people/people.js';
import { axeViolations } from '../support/axe.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { enrolTestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const settings = loadConfig({}).analytics;
const ANALYST = { username: 'first.week', password: 'a new system, nothing settled yet' };
// Two cameras some 11 km apart on the same meridian: the map must open on them, not on the world.
const FLEET = [
  { latitude: 31.2, longitude: 121.45 },
  { latitude: 31.3, longitude: 121.45 },
];

/** The latitudes the map's graticule labels, read as numbers (north positive). */
async function labelledLatitudes(page: Page): Promise<number[]> {
  const labels = await page.locator('.graticule-label.lat').allTextContents();
  return labels.map((label) => Number.parseFloat(label) * (label.endsWith('S') ? -1 : 1));
}

describe('the analyst page of a system in its first week, in Chromium', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    database = await createTestDatabase('e2e_analytics_new');
    mediaDir = await createTempDir('e2e-analytics-new');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), analytics: settings });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createPerson(database.db, 'test', {
      ...ANALYST,
      displayName: 'Xu Ping',
      roles: ['analyst'],
      certificate: null,
    });
    if (!created.ok) throw new Error(created.error);
    for (const place of FLEET) {
      const camera = await enrolTestDevice(database.db);
      await database.db.update(devices).set(place).where(eq(devices.id, camera.id));
    }
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function analystPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await page.goto(new URL('/analytics.html', baseUrl).toString());
    await logInThroughPage(page, ANALYST);
    await expect.poll(() => page.locator('#hotspots-empty').isVisible(), { timeout: 15_000 }).toBe(true);
    return page;
  }

  it('says why nothing is ranked before any capture is approved, and opens the map on the fleet', async () => {
    const page = await analystPage();
    const explanation = await page.locator('#hotspots-empty').textContent();
    expect(explanation).toContain('No approved capture has been counted yet');
    expect(explanation).toContain(`The newest ${settings.settleDays} days are held back`);
    const latitudes = await labelledLatitudes(page);
    expect(latitudes.length).toBeGreaterThan(0);
    expect(Math.min(...latitudes)).toBeGreaterThan(31.1);
    expect(Math.max(...latitudes)).toBeLessThan(31.4);
    expect(await page.locator('#devices-empty').textContent()).toMatch(/^Not examined yet/);
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  it('says from which day the first approved captures enter a run', async () => {
    const today = localDay(new Date(), settings.timeZone);
    const [camera] = await database.db.select({ id: devices.id }).from(devices).limit(1);
    await database.db
      .insert(analyticsDailyCounts)
      .values({ day: today, deviceId: camera!.id, cell: 'none', violationType: 'speeding', state: 'approved', count: 3 });
    const page = await analystPage();
    const firstIncluded = new Date(`${addDays(today, settings.settleDays)}T00:00:00Z`).toLocaleDateString(undefined, {
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      timeZone: 'UTC',
    });
    const explanation = await page.locator('#hotspots-empty').textContent();
    expect(explanation).toContain('No screening run has finished yet');
    expect(explanation).toContain(`They enter a run from ${firstIncluded}`);
    await page.screenshot({ path: path.join(screenshotDir, 'analytics-first-week.png'), fullPage: true });
    await page.close();
  });
});
