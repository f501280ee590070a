import { generateKeyPairSync } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { latLngToCell } from 'h3-js';
import { pino } from 'pino';
import type { Browser, BrowserContext, Cookie, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, eachDay, isoWeekday, localDay, monthOf } from '../../core/domain/analytics-calendar.js';
import { seededRandom } from '../../core/domain/analytics-synthetic.js';
import { loadConfig } from '../../core/domain/config.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import type { Db } from '../../db/client.js';
import { analyticsDailyCounts, analyticsHourlyCounts, devices } from '../../db/schema.js';
import { createPerson } from '../../review-ui/people/people.js';
import { screenHotspots } from '../../workers/handlers/screen-hotspots.js';
import { launchBrowser, logInThroughPage, watchContentSecurity } from '../support/browser.js';
import { insertReviewableCapture } from '../support/captures.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const ANALYST = { username: 'zhou', password: 'an analyst password, long enough' };
const PLATE = 'GD-B12345';
const settings = loadConfig({}).analytics;

/**
 * A synthetic network: four roads of ten cameras about 1.6 km apart (two share a cell where
 * roads cross), counted daily for long enough to fill a screening period and the year before a
 * remediation. Three things are planted where the test knows them: a speeding hotspot that a
 * fix brings most of the way back to normal, a smaller red-light hotspot, and a camera whose
 * capture rate jumps tenfold.
 */
const ROADS = [
  { road: 'Shennan Boulevard', from: [22.5405, 113.93], step: [0, 0.016] },
  { road: 'Binhe Avenue', from: [22.522, 113.935], step: [0.0004, 0.016] },
  { road: 'Beihuan Avenue', from: [22.562, 113.925], step: [0, 0.016] },
  { road: 'Huanggang Road', from: [22.505, 114.07], step: [0.0095, 0] },
] as const;
const CAMERAS_PER_ROAD = 10;
const HOTSPOT = { road: 0, index: 4, violationType: 'speeding', factor: 6, afterFix: 1.4 };
const SECOND = { road: 3, index: 6, violationType: 'red_light', factor: 4 };
const FAULTY = { road: 1, index: 2, factor: 10, days: 14 };
const BASE_PER_DAY = { speeding: 5, red_light: 2 } as const;
// An hour-of-day profile with morning and evening peaks, so the hour chart looks like traffic.
const HOUR_WEIGHTS = Array.from(
  { length: 24 },
  (_, hour) => 0.3 + 2 * Math.exp(-((hour - 8) ** 2) / 4) + 1.6 * Math.exp(-((hour - 18) ** 2) / 5),
);

interface Camera {
  id: string;
  road: string;
  latitude: number;
  longitude: number;
  cell: string;
}

const deviceId = (road: number, index: number) => `cam-${road}${String(index).padStart(2, '0')}`;

function position(road: number, index: number): [number, number] {
  const { from, step } = ROADS[road]!;
  return [from[0] + step[0] * index, from[1] + step[1] * index];
}

/** The H3 cell a planted camera sits in: the site id its hotspot row carries. */
const cellOf = (planted: { road: number; index: number }) => latLngToCell(...position(planted.road, planted.index), settings.h3Resolution);

async function enrolCameras(db: Db, enrolledAt: Date): Promise<Camera[]> {
  const cameras: Camera[] = ROADS.flatMap((road, roadIndex) =>
    Array.from({ length: CAMERAS_PER_ROAD }, (_, index) => {
      const [latitude, longitude] = position(roadIndex, index);
      return { id: deviceId(roadIndex, index), road: road.road, latitude, longitude, cell: cellOf({ road: roadIndex, index }) };
    }),
  );
  const publicKeyPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // Enrolled before the first counted day, as in a network that has run for years.
  await db.insert(devices).values(
    cameras.map((camera, index) => ({
      id: camera.id,
      kind: 'traffic_camera' as const,
      model: 'Synthetic Cam',
      serial: camera.id,
      agency: 'Test Agency',
      publicKeyPem,
      road: camera.road,
      direction: index % 2 === 0 ? 'eastbound' : 'westbound',
      latitude: camera.latitude,
      longitude: camera.longitude,
      enrolledAt,
    })),
  );
  return cameras;
}

/** The planted daily rate of one camera, type and day. */
function plantedMean(camera: Camera, violationType: keyof typeof BASE_PER_DAY, day: string, fixDay: string, faultFrom: string): number {
  let mean = BASE_PER_DAY[violationType];
  if (camera.id === deviceId(HOTSPOT.road, HOTSPOT.index) && violationType === HOTSPOT.violationType) {
    mean *= day < fixDay ? HOTSPOT.factor : HOTSPOT.afterFix;
  }
  if (camera.id === deviceId(SECOND.road, SECOND.index) && violationType === SECOND.violationType) mean *= SECOND.factor;
  if (camera.id === deviceId(FAULTY.road, FAULTY.index) && day >= faultFrom) mean *= FAULTY.factor;
  return mean;
}

/** Fills the daily and hourly count tables the analysis reads, as its aggregation would have. */
async function plantCounts(db: Db, cameras: Camera[], days: string[], fixDay: string, faultFrom: string): Promise<void> {
  const random = seededRandom(20261123);
  const daily: (typeof analyticsDailyCounts.$inferInsert)[] = [];
  const hourly = new Map<string, typeof analyticsHourlyCounts.$inferInsert>();
  for (const camera of cameras) {
    // Sites differ a little, as real ones do, so the reference group has some spread.
    const siteFactor = 0.8 + 0.4 * random.uniform();
    for (const violationType of ['speeding', 'red_light'] as const) {
      for (const day of days) {
        const count = random.negativeBinomial(siteFactor * plantedMean(camera, violationType, day, fixDay, faultFrom), 0.05);
        const excluded = random.uniform() < 0.02 ? 1 + Math.floor(random.uniform() * 3) : 0;
        const site = { day, deviceId: camera.id, cell: camera.cell, violationType };
        if (count > 0) daily.push({ ...site, state: 'approved', count });
        if (excluded > 0) daily.push({ ...site, state: 'excluded', count: excluded });
        for (let event = 0; event < count; event++) {
          const hour = pickHour(random.uniform());
          const hourOfWeek = (isoWeekday(day) - 1) * 24 + hour;
          const key = `${monthOf(day)}|${camera.id}|${violationType}|${hourOfWeek}`;
          const row = hourly.get(key) ?? {
            month: monthOf(day),
            deviceId: camera.id,
            cell: camera.cell,
            violationType,
            state: 'approved' as const,
            hourOfWeek,
            count: 0,
          };
          row.count += 1;
          hourly.set(key, row);
        }
      }
    }
  }
  for (let start = 0; start < daily.length; start += 5000) await db.insert(analyticsDailyCounts).values(daily.slice(start, start + 5000));
  const hourlyRows = [...hourly.values()];
  for (let start = 0; start < hourlyRows.length; start += 5000) {
    await db.insert(analyticsHourlyCounts).values(hourlyRows.slice(start, start + 5000));
  }
}

const HOUR_TOTAL = HOUR_WEIGHTS.reduce((sum, weight) => sum + weight, 0);
function pickHour(uniform: number): number {
  let left = uniform * HOUR_TOTAL;
  for (const [hour, weight] of HOUR_WEIGHTS.entries()) {
    left -= weight;
    if (left <= 0) return hour;
  }
  return 23;
}

/** What an analyst's page must never ask for: media, captures, evidence, or anything about one vehicle. */
function forbidden(request: Request): boolean {
  const url = new URL(request.url());
  return (
    request.resourceType() === 'image' ||
    request.resourceType() === 'media' ||
    /^\/api\/(captures|media|evidence|incidents|review)/.test(url.pathname) ||
    url.search.includes(PLATE)
  );
}

describe('the analyst page in Chromium, against a real review server and Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;
  let analystCookies: Cookie[];
  let fixDay: string;
  // Every request and CSP violation of the analyst's sessions, whichever test or tab made it.
  const requests: Request[] = [];
  const cspViolations: string[][] = [];

  /** A browser context of the analyst's own, watched like every other. */
  async function watchedContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    cspViolations.push(await watchContentSecurity(context));
    context.on('request', (request) => requests.push(request));
    return context;
  }

  /** The analyst's page, already logged in, with the ranked table drawn. */
  async function analystPage(): Promise<Page> {
    const context = await watchedContext();
    await context.addCookies(analystCookies);
    const page = await context.newPage();
    await page.goto(new URL('/analytics.html', baseUrl).toString());
    await expect.poll(() => page.locator('#hotspots tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(30);
    return page;
  }

  let tour: Promise<Page> | undefined;
  /**
   * The map, a hotspot's charts and the printable report, visited once for the two tests that
   * judge everything the session asked for, whether or not the other tests ran before them.
   */
  function touredPage(): Promise<Page> {
    tour ??= (async () => {
      const page = await analystPage();
      await page.getByRole('button', { name: /^Hotspot 2:/ }).focus();
      await page.keyboard.press('Enter');
      // The charts are drawn in the same turn as the heading is set.
      await expect.poll(() => page.locator('#detail-heading').textContent()).toContain(ROADS[SECOND.road]!.road);
      expect(await page.locator('#hour-chart').getAttribute('role')).toBe('img');
      const reportPage = await page.context().newPage();
      const response = await reportPage.goto(new URL((await page.locator('#report-link').getAttribute('href'))!, baseUrl).toString());
      expect(response?.status()).toBe(200);
      await reportPage.close();
      return page;
    })();
    return tour;
  }

  beforeAll(async () => {
    database = await createTestDatabase('e2e_analytics');
    mediaDir = await createTempDir('e2e-analytics-media');
    const store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, analytics: settings });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const created = await createPerson(database.db, 'test', {
      username: ANALYST.username,
      displayName: 'Zhou Jie',
      password: ANALYST.password,
      roles: ['analyst'],
      certificate: null,
    });
    if (!created.ok) throw new Error(created.error);

    const today = localDay(new Date(), settings.timeZone);
    fixDay = addDays(today, -150);
    // A full before period for the remediation study, which covers the screening period too.
    const firstDay = addDays(fixDay, -settings.beforeAfter.beforeDays);
    const faultFrom = addDays(today, -(settings.settleDays + FAULTY.days));
    const cameras = await enrolCameras(database.db, new Date(`${firstDay}T00:00:00Z`));
    await plantCounts(database.db, cameras, eachDay(firstDay, addDays(today, -1)), fixDay, faultFrom);
    // One real capture with a plate and images, so "never shows a plate or an image" has something to leak.
    const hotspotCamera = cameras.find((camera) => camera.id === deviceId(HOTSPOT.road, HOTSPOT.index))!;
    const cameraKey = generateKeyPairSync('ed25519').privateKey;
    await insertReviewableCapture(
      database.db,
      store,
      { id: hotspotCamera.id, privateKey: cameraKey },
      { readings: { speedKmh: 92, limitKmh: 60, plate: PLATE } },
    );
    // The scheduled job's screening step over the planted counts; its aggregation step would recount them from captures.
    await screenHotspots({ database, settings, log: pino({ level: 'silent' }) });

    browser = await launchBrowser();
    // A session for the tests that are not about logging in, so each can open the page itself.
    const loginContext = await browser.newContext();
    const loginPage = await loginContext.newPage();
    await loginPage.goto(new URL('/analytics.html', baseUrl).toString());
    await logInThroughPage(loginPage, ANALYST);
    analystCookies = await loginContext.cookies();
    await loginContext.close();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  it('draws the hotspot map without tiles and ranks the planted hotspot first', async () => {
    const page = await (await watchedContext()).newPage();
    await page.goto(new URL('/analytics.html', baseUrl).toString());
    await logInThroughPage(page, ANALYST);
    expect(new URL(page.url()).pathname).toBe('/analytics.html');

    const rows = page.locator('#hotspots tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBeGreaterThan(30);
    const first = rows.first();
    expect(await first.getAttribute('data-site-id')).toBe(cellOf(HOTSPOT));
    expect(await first.textContent()).toContain('Shennan Boulevard');
    expect(await first.textContent()).toContain('flagged');
    const second = page.locator(`#hotspots tbody tr[data-key="cell:${cellOf(SECOND)}:${SECOND.violationType}"]`);
    expect(await second.locator('.badge.flagged').count()).toBe(1);
    expect(await second.locator('.rank').textContent()).toBe('2');

    // Cells are SVG paths on a plain background: no tile layer, no image.
    const cells = page.locator('#map path.hotspot-site');
    expect(await cells.count()).toBeGreaterThan(30);
    expect(await page.locator('#map .leaflet-tile').count()).toBe(0);
    expect(await page.locator('#map.no-tiles').count()).toBe(1);
    expect(await page.locator('#map .rank-badge', { hasText: /^1$/ }).count()).toBe(1);
    expect(await page.locator('#map .road-label').allTextContents()).toEqual(expect.arrayContaining(ROADS.map((road) => road.road)));
    expect(await page.locator('#map .leaflet-control-scale-line').textContent()).toMatch(/\d+ k?m/);
    expect(await page.locator('#map .map-legend').textContent()).toContain('Events above prediction');

    // The top row is selected at start, and its cell is highlighted on the map.
    expect(await first.getAttribute('aria-current')).toBe('true');
    expect(await page.locator(`#map path.hotspot-site.selected[data-site-id="${cellOf(HOTSPOT)}"]`).count()).toBe(1);

    // Picking on the map (here by keyboard) selects the row; picking a row highlights the map.
    await page.getByRole('button', { name: /^Hotspot 2:/ }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#hotspots tbody tr[aria-current="true"]').getAttribute('data-site-id')).toBe(cellOf(SECOND));
    await first.getByRole('button').click();
    await expect.poll(() => page.locator('#map path.hotspot-site.selected').getAttribute('data-site-id')).toBe(cellOf(HOTSPOT));

    // Sortable from the keyboard: Enter on a heading sorts by it, and says so to a screen reader.
    await page.getByRole('button', { name: /^Observed/ }).focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('th[data-key="observed"]').getAttribute('aria-sort')).toBe('descending');
    await page.getByRole('button', { name: /^Rank/ }).click();

    await page.evaluate('scrollTo(0, 0)');
    await page
      .locator('#analytics > section')
      .first()
      .screenshot({ path: path.join(screenshotDir, 'analytics-map.png') });
  });

  it('still draws every cell when a configured tile server cannot be reached', async () => {
    const offlineContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await offlineContext.addCookies(analystCookies);
    const offline = await offlineContext.newPage();
    // Port 9 (discard) refuses connections here: the deployment names a basemap the browser cannot reach.
    await offline.route('**/api/analytics/map', (route) =>
      route.fulfill({ json: { tiles: { urlTemplate: 'http://127.0.0.1:9/{z}/{x}/{y}.png', attribution: 'unreachable test tiles' } } }),
    );
    await offline.goto(new URL('/analytics.html', baseUrl).toString());
    const cells = offline.locator('#map path.hotspot-site');
    await expect.poll(() => cells.count(), { timeout: 15_000 }).toBeGreaterThan(30);
    expect(await offline.locator('#map .leaflet-tile').count()).toBeGreaterThan(0);
    expect(await offline.locator('#map .leaflet-tile-loaded').count()).toBe(0);
    expect(await offline.locator('#map .rank-badge', { hasText: /^1$/ }).count()).toBe(1);
    await offlineContext.close();
  });

  it('charts the hotspot, marks the remediation date, and takes a case from open to fixed', async () => {
    const page = await analystPage();
    const detail = page.locator('#detail');
    await expect.poll(() => page.locator('#detail-heading').textContent()).toContain('Shennan Boulevard');

    const openCase = detail.getByRole('button', { name: 'Open a case' });
    await openCase.click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Suspected cause').selectOption('signage');
    await dialog.getByLabel(/What points to it/).fill('The speed limit sign is hidden by trees');
    await dialog.getByRole('button', { name: 'Open case' }).click();
    await expect.poll(() => detail.locator('.badge.case-open').count()).toBe(1);
    expect(await page.locator('#hotspots tbody tr').first().locator('.badge.case-open').count()).toBe(1);

    await detail.getByRole('button', { name: 'Record action taken' }).click();
    await dialog.getByLabel(/What was done/).fill('Cut back the trees and added a second limit sign');
    await dialog.getByLabel('Done on').fill(fixDay);
    await dialog.getByRole('button', { name: 'Save action' }).click();
    await expect.poll(() => detail.locator('.verdict').textContent(), { timeout: 10_000 }).toContain('Significant drop');

    // The remediation marker is drawn on the timeline, with the means before and after it.
    const timeline = page.locator('#timeline-chart');
    expect(await timeline.getAttribute('aria-label')).toContain(`remediation on ${fixDay}`);
    for (const id of ['hour-chart', 'weekday-chart', 'type-chart', 'before-after-chart']) {
      expect(await page.locator(`#${id}`).getAttribute('role')).toBe('img');
    }
    // Through the CSSOM, which the page's CSP allows; a <style> tag it refuses.
    await page.evaluate(`document.querySelector('header').style.setProperty('position', 'static', 'important')`);
    await detail.screenshot({ path: path.join(screenshotDir, 'analytics-charts.png') });
    await detail.locator('#case').screenshot({ path: path.join(screenshotDir, 'analytics-case.png') });

    await detail.getByRole('button', { name: 'Close as fixed' }).click();
    await dialog.getByLabel(/Why it counts as fixed/).fill('Rate halved against what comparable sites predict');
    await dialog.getByRole('button', { name: 'Close as fixed' }).click();
    await expect.poll(() => detail.locator('.badge.case-fixed').count()).toBe(1);
    expect(await detail.getByRole('button', { name: 'Record action taken' }).count()).toBe(0);
    expect(await page.locator('#hotspots tbody tr').first().locator('.badge.case-open').count()).toBe(0);
  });

  it('reports the planted device fault with its chart', async () => {
    const page = await analystPage();
    const card = page.locator(`.device-card[data-device-id="${deviceId(FAULTY.road, FAULTY.index)}"]`);
    await expect.poll(() => card.count()).toBe(1);
    expect(await card.textContent()).toContain('capture rate');
    expect(await card.locator('canvas').getAttribute('role')).toBe('img');
    await card.screenshot({ path: path.join(screenshotDir, 'analytics-device-anomaly.png') });
  });

  it('links to the printable report and the CSV exports', async () => {
    const page = await analystPage();
    const report = await page.locator('#report-link').getAttribute('href');
    expect(await page.locator('#export-hotspots').getAttribute('href')).toMatch(/^\/api\/analytics\/export\/hotspots\.csv\?/);
    // A tab beside the page, with its session, as the link's target=_blank opens.
    const reportPage = await page.context().newPage();
    await reportPage.setViewportSize({ width: 1000, height: 1300 });
    const response = await reportPage.goto(new URL(report!, baseUrl).toString());
    expect(response?.status()).toBe(200);
    expect(await reportPage.textContent('body')).toContain('Shennan Boulevard');
    await reportPage.screenshot({ path: path.join(screenshotDir, 'analytics-report.png'), fullPage: true });
    await reportPage.close();
  });

  it('ran the map, the charts and the report under the Content-Security-Policy without a violation', async () => {
    await touredPage();
    expect(cspViolations.flat()).toEqual([]);
  });

  it('never asked for an image, a plate or a capture, and never left the server', async () => {
    const page = await touredPage();
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter(forbidden).map((request) => request.url())).toEqual([]);
    expect(requests.filter((request) => new URL(request.url()).origin !== baseUrl).map((request) => request.url())).toEqual([]);
    expect(await page.textContent('body')).not.toContain(PLATE);
  });
});
