import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { axeViolations } from '../support/axe.js';
import type { Role } from '../../core/domain/roles.js';
import { createPerson } from '../../review-ui/people/people.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { insertReviewableCapture } from '../support/captures.js';
import { enrolTestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const PHONE = { width: 390, height: 844 };
const NARROWEST = { width: 360, height: 740 };
const DESKTOP = { width: 1366, height: 768 };

/** Each logged-in page, the role that works on it, and what shows the page has its content. */
const STAFF_PAGES: readonly { path: string; role: Role; ready: string }[] = [
  { path: '/', role: 'reviewer', ready: '.capture' },
  { path: '/review.html', role: 'reviewer', ready: '#facts .facts-panel' },
  { path: '/devices.html', role: 'device_admin', ready: '#fleet tbody tr' },
  { path: '/health.html', role: 'device_admin', ready: '#device option' },
  { path: '/people.html', role: 'system_admin', ready: '#people tbody tr' },
  { path: '/analytics.html', role: 'analyst', ready: '#hotspots-heading' },
  { path: '/audit.html', role: 'auditor', ready: '#entries tbody tr' },
];

/**
 * Citizens open the public list on their phones, and staff in the field open the others: every
 * page must fit a phone without sideways scrolling.
 */
describe('every page on a desktop and on phones down to 360 px', () => {
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
    const devices = [];
    for (let device = 0; device < 3; device++) devices.push(await enrolTestDevice(database.db));
    for (const device of devices) await insertReviewableCapture(database.db, new FilesystemMediaStore(mediaDir.dir), device);
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

  it('lets anyone reach the sign-in page on a phone, with no serious axe finding', async () => {
    const page = await browser.newPage({ viewport: PHONE });
    await page.goto(new URL('/login.html', baseUrl).toString());
    await page.waitForSelector('form');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  it.each([DESKTOP, PHONE, NARROWEST])(
    'fits every staff page, filled with rows, in a $width px screen for the role that uses it, with no serious axe finding',
    async (screen) => {
      const overflowing: string[] = [];
      const inaccessible: string[] = [];
      const accounts = new Map<Role, { username: string; password: string }>();
      for (const role of new Set(STAFF_PAGES.map((page) => page.role))) {
        const account = { username: `phone-${role.replace('_', '-')}-${screen.width}`, password: `pw-${randomBytes(12).toString('hex')}` };
        const created = await createPerson(database.db, 'test', {
          ...account,
          displayName: `Phone ${role}`,
          roles: [role],
          certificate:
            role === 'reviewer'
              ? { number: `ENF-${account.username}`, expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString() }
              : null,
        });
        if (!created.ok) throw new Error(created.error);
        accounts.set(role, account);
      }
      for (const { path: pagePath, role, ready } of STAFF_PAGES) {
        const context = await browser.newContext({ viewport: screen });
        const page = await context.newPage();
        await page.goto(new URL(pagePath, baseUrl).toString());
        await logInThroughPage(page, accounts.get(role)!);
        if (new URL(page.url()).pathname !== pagePath) await page.goto(new URL(pagePath, baseUrl).toString());
        await page.waitForSelector(ready, { state: 'attached', timeout: 20_000 });
        const width = await page.evaluate<number>('document.documentElement.scrollWidth');
        if (width > screen.width) overflowing.push(`${pagePath} is ${width} px wide: ${await widestElements(page, screen.width)}`);
        for (const violation of await axeViolations(page)) {
          inaccessible.push(`${pagePath}: ${violation.id} (${violation.impact}) ${violation.help}: ${violation.targets.join(', ')}`);
        }
        await page.screenshot({
          path: path.join(screenshotDir, `page-${screen.width}${pagePath === '/' ? '-captures' : pagePath.replace(/\W+/g, '-')}.png`),
        });
        await context.close();
      }
      expect(overflowing).toEqual([]);
      expect(inaccessible).toEqual([]);
    },
  );
});

/** The innermost elements reaching past the screen's right edge, so a failure names what to fix. */
function widestElements(page: Page, screenWidth: number): Promise<string> {
  return page.evaluate(`[...document.querySelectorAll('body *')]
    .filter((node) => node.getBoundingClientRect().right > ${screenWidth} && ![...node.children].some((child) => child.getBoundingClientRect().right > ${screenWidth}))
    .slice(0, 3)
    .map((node) => node.tagName.toLowerCase() + (node.id ? '#' + node.id : '') + (node.className && typeof node.className === 'string' ? '.' + node.className.trim().split(/\\s+/).join('.') : '') + ' ends at ' + Math.round(node.getBoundingClientRect().right))
    .join(', ')`);
}
