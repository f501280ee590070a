import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { captures } from '../../db/schema.js';
import { createPerson } from '../../review-ui/people/people.js';
import { axeViolations } from '../support/axe.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { insertReviewableCapture } from '../support/captures.js';
import { enrolTestDevice, type TestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const PASSWORD = 'a long enough review password';
const DAY = 24 * 3600_000;
/** The page ignores decision keys this long after a capture appears. */
const SETTLE_MS = 350;

/** A shared machine can take a few seconds to record a decision. */
const eventually = <T>(probe: () => T | Promise<T>) => expect.poll(probe, { timeout: 10_000 });

/** A reviewer who uses only the keyboard, on a common laptop screen. */
describe('the review page with the keyboard only, at 1366×768', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;
  let camera: TestDevice;
  let store: FilesystemMediaStore;
  let page: Page;

  beforeAll(async () => {
    database = await createTestDatabase('e2e_review_keys');
    mediaDir = await createTempDir('e2e-review-keys');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createPerson(database.db, 'test', {
      username: 'keys',
      displayName: 'Kim Keys',
      password: PASSWORD,
      roles: ['reviewer'],
      certificate: { number: 'ENF-keys', expiresAt: new Date(Date.now() + 300 * DAY).toISOString() },
    });
    if (!created.ok) throw new Error(created.error);
    camera = await enrolTestDevice(database.db);
    for (const age of [4, 3, 2, 1])
      await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(Date.now() - age * DAY) });
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await context.newPage();
    await page.goto(new URL(`/review.html?deviceId=${camera.id}`, baseUrl).toString());
    await logInThroughPage(page, { username: 'keys', password: PASSWORD });
    await page.waitForSelector('#capture-pane[data-capture-id]');
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const stateOf = async (captureId: string) =>
    (await database.db.select({ state: captures.state }).from(captures).where(eq(captures.id, captureId)))[0]?.state;
  /** The focused element's id, or for a facts section the id of its heading. */
  const active = () => page.evaluate(`document.activeElement.id || document.activeElement.getAttribute('aria-labelledby')`);
  /** Whether the element is inside the visible part of the facts column. */
  const inView = (selector: string) =>
    page.evaluate(`(() => {
      const pane = document.getElementById('facts').getBoundingClientRect();
      const box = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
      return box.top >= pane.top - 1 && box.top < pane.bottom;
    })()`);

  it('reaches every section of the facts column and scrolls it, with axe finding no unreachable scroll region', async () => {
    expect(await axeViolations(page, { rules: ['scrollable-region-focusable'] })).toEqual([]);
    // The certification sits below the fold at this size: the reason this test exists.
    expect(await inView('#facts-device-and-certification-at-capture')).toBe(false);
    await page.keyboard.press('i');
    expect(await active()).toBe('facts-integrity');
    await page.keyboard.press('i');
    await page.keyboard.press('i');
    expect(await active()).toBe('facts-device-and-certification-at-capture');
    await eventually(() => inView('#facts-device-and-certification-at-capture')).toBe(true);
    await page.screenshot({ path: path.join(screenshotDir, 'review-facts-keyboard.png') });
    // From a section, the usual scrolling keys scroll the column.
    const scrollTop = () => page.evaluate<number>(`document.getElementById('facts').scrollTop`);
    const before = await scrollTop();
    await page.keyboard.press('PageDown');
    await eventually(scrollTop).toBeGreaterThan(before);
    // Shift+I goes back a section; Escape hands the keys back to the picture.
    await page.keyboard.press('Shift+I');
    expect(await active()).toBe('facts-manifest');
    await page.keyboard.press('Escape');
    expect(await active()).toBe('stage');
  });

  it('pans a zoomed picture with the arrow keys and zooms in where the reviewer is looking, not at the centre', async () => {
    const shown = await page.locator('#capture-pane').getAttribute('data-capture-id');
    /** Which fraction of the picture's width and height sits at the middle of the stage. */
    const atMiddle = () =>
      page.evaluate<[number, number]>(`(() => {
        const stage = document.getElementById('stage').getBoundingClientRect();
        const image = document.querySelector('#zoom-target img').getBoundingClientRect();
        return [
          (stage.left + stage.width / 2 - image.left) / image.width,
          (stage.top + stage.height / 2 - image.top) / image.height,
        ];
      })()`);
    await page.keyboard.press('z');
    await page.keyboard.press('z');
    await page.waitForTimeout(400);
    const [x0, y0] = await atMiddle();
    expect(x0).toBeCloseTo(0.5, 1);
    for (let step = 0; step < 3; step++) await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowUp');
    await page.waitForTimeout(400);
    const [x1, y1] = await atMiddle();
    expect(x1).toBeLessThan(x0 - 0.1);
    expect(y1).toBeLessThan(y0 - 0.02);
    // Arrow right while zoomed moves the picture; it does not skip the capture.
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#capture-pane').getAttribute('data-capture-id')).toBe(shown);
    const [x2, y2] = await atMiddle();
    await page.keyboard.press('+');
    await page.waitForTimeout(400);
    const [x3, y3] = await atMiddle();
    expect(x3).toBeCloseTo(x2, 1);
    expect(y3).toBeCloseTo(y2, 1);
    await page.screenshot({ path: path.join(screenshotDir, 'review-panned.png') });
    await page.keyboard.press('0');
    // At fit, → is "next" again.
    await page.waitForTimeout(SETTLE_MS);
    await page.keyboard.press('ArrowRight');
    await eventually(() => page.locator('#capture-pane').getAttribute('data-capture-id')).not.toBe(shown);
    expect(await stateOf(shown!)).toBe('awaiting_review');
  });

  it('lifts brightness and contrast and shows the frames side by side, by key, and each capture starts as taken', async () => {
    const shown = await page.locator('#capture-pane').getAttribute('data-capture-id');
    const filterOf = (selector: string) => page.evaluate<string>(`getComputedStyle(document.querySelector('${selector}')).filter`);
    await page.locator('#stage').focus();
    await page.keyboard.press('b');
    await page.keyboard.press('b');
    await page.keyboard.press('c');
    expect(await filterOf('#zoom-target')).toBe('brightness(1.4) contrast(1.2)');
    expect(await page.locator('#zoom-label').textContent()).toMatch(/brightness 140 % · contrast 120 %$/);
    await page.keyboard.press('Shift+B');
    expect(await filterOf('#zoom-target')).toBe('brightness(1.2) contrast(1.2)');

    await page.keyboard.press('s');
    const sideBySide = page.locator('#side-by-side');
    expect(await sideBySide.isVisible()).toBe(true);
    expect(await sideBySide.locator('figcaption').allTextContents()).toEqual(['frame-1.jpg', 'frame-2.jpg']);
    // Both pictures decoded and next to each other, each at least a third of the stage wide, with the same look.
    await eventually(() =>
      page.evaluate(`[...document.querySelectorAll('#side-by-side img')].every((image) => image.complete && image.naturalWidth > 0)`),
    ).toBe(true);
    const boxes = await page.evaluate<{ left: number; right: number; top: number; width: number }[]>(
      `[...document.querySelectorAll('#side-by-side img')].map((image) => image.getBoundingClientRect().toJSON())`,
    );
    const stageWidth = await page.evaluate<number>(`document.getElementById('stage').getBoundingClientRect().width`);
    expect(boxes[1]!.left).toBeGreaterThanOrEqual(boxes[0]!.right);
    expect(Math.abs(boxes[1]!.top - boxes[0]!.top)).toBeLessThan(2);
    for (const box of boxes) expect(box.width).toBeGreaterThan(stageWidth / 3);
    expect(await filterOf('#side-by-side')).toBe('brightness(1.2) contrast(1.2)');
    expect(await page.locator('#zoom-label').textContent()).toMatch(/^frames side by side/);
    await page.screenshot({ path: path.join(screenshotDir, 'review-side-by-side.png') });
    // Picking a frame shows that one alone again.
    await page.keyboard.press('2');
    expect(await sideBySide.isVisible()).toBe(false);
    expect(await page.locator('#zoom-label').textContent()).toMatch(/^frame-2\.jpg/);
    await page.keyboard.press('x');
    expect(await filterOf('#zoom-target')).toBe('none');

    // A look lifted for one capture does not carry over to the next.
    await page.keyboard.press('b');
    await page.waitForTimeout(SETTLE_MS);
    await page.keyboard.press('n');
    await eventually(() => page.locator('#capture-pane').getAttribute('data-capture-id')).not.toBe(shown);
    expect(await filterOf('#zoom-target')).toBe('none');
    expect(await stateOf(shown!)).toBe('awaiting_review');
  });

  it('magnifies one spot with L, drawn from the picture at that spot, moved by the arrow keys without panning or skipping', async () => {
    const shown = await page.locator('#capture-pane').getAttribute('data-capture-id');
    await page.locator('#stage').focus();
    await page.keyboard.press('0');
    await page.keyboard.press('l');
    const lens = page.locator('#lens');
    expect(await lens.isVisible()).toBe(true);
    await eventually(() => page.locator('#zoom-label').textContent()).toMatch(/magnifier 4×$/);
    // The lens's middle pixel is the picture's pixel under the lens's middle, sampled from the picture itself.
    const sample = () =>
      page.evaluate<{ lens: number[]; picture: number[]; left: string }>(`(() => {
        const lens = document.getElementById('lens');
        const image = document.querySelector('#zoom-target img');
        const stageBox = document.getElementById('stage').getBoundingClientRect();
        const lensBox = lens.getBoundingClientRect();
        const picture = image.getBoundingClientRect();
        const x = ((lensBox.left + lensBox.width / 2 - picture.left) / picture.width) * image.naturalWidth;
        const y = ((lensBox.top + lensBox.height / 2 - picture.top) / picture.height) * image.naturalHeight;
        const copy = document.createElement('canvas');
        copy.width = image.naturalWidth;
        copy.height = image.naturalHeight;
        copy.getContext('2d').drawImage(image, 0, 0);
        const centre = lens.getContext('2d').getImageData(lens.width / 2, lens.height / 2, 1, 1).data;
        return { lens: [...centre].slice(0, 3), picture: [...copy.getContext('2d').getImageData(x, y, 1, 1).data].slice(0, 3), left: lens.style.left };
      })()`);
    const near = (a: number[], b: number[]) => a.every((value, index) => Math.abs(value - (b[index] ?? 0)) <= 40);
    await eventually(async () => {
      const { lens: fromLens, picture } = await sample();
      return near(fromLens, picture);
    }).toBe(true);
    const before = await sample();
    for (let step = 0; step < 5; step++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowUp');
    const after = await sample();
    expect(after.left).not.toBe(before.left);
    expect(near(after.lens, after.picture)).toBe(true);
    // The arrows moved the lens only: the picture stays at fit and → did not skip the capture.
    expect(await page.locator('#stage').getAttribute('data-scale')).toBe('1.00');
    expect(await page.locator('#capture-pane').getAttribute('data-capture-id')).toBe(shown);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(screenshotDir, 'review-magnifier.png') });
    await page.keyboard.press('l');
    expect(await lens.isVisible()).toBe(false);
    expect(await page.locator('#zoom-label').textContent()).not.toMatch(/magnifier/);
  });

  it('keeps the shortcuts working on the "Captured at least" select after it changes: A approves, never picks "any time ago"', async () => {
    const select = page.locator('#filter-age');
    const shown = await page.locator('#capture-pane').getAttribute('data-capture-id');
    await page.keyboard.press('/');
    for (let field = 0; field < 3; field++) await page.keyboard.press('Tab');
    expect(await active()).toBe('filter-age');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await eventually(() => new URL(page.url()).searchParams.get('minAgeHours')).toBe('24');
    // Still on the select, so the arrows can go on choosing; A is the shortcut all the same.
    expect(await active()).toBe('filter-age');
    await page.screenshot({ path: path.join(screenshotDir, 'review-age-filter-focused.png') });
    await page.waitForSelector('#capture-pane[aria-busy="false"]');
    await page.waitForTimeout(SETTLE_MS);
    await page.keyboard.press('a');
    await eventually(() => stateOf(shown!)).toBe('approved');
    expect(await select.inputValue()).toBe('24');

    // Enter leaves the select for the picture, as it leaves the text filters.
    await page.keyboard.press('Enter');
    expect(await active()).toBe('stage');
    await eventually(() => page.locator('#capture-pane').getAttribute('data-capture-id')).not.toBe(shown);
    // Shown, and no longer busy putting it on screen: a key pressed before would be refused out loud.
    await page.waitForSelector('#capture-pane[aria-busy="false"]');
    await page.waitForTimeout(SETTLE_MS);
    const next = await page.locator('#capture-pane').getAttribute('data-capture-id');
    await page.keyboard.press('a');
    // With what the page said, so a failure shows why.
    await eventually(async () => `${await stateOf(next!)}: ${await page.locator('#status').textContent()}`).toMatch(/^approved/);
    expect(await select.inputValue()).toBe('24');
    expect(new URL(page.url()).searchParams.get('minAgeHours')).toBe('24');
  });

  it('says so when a decision is pressed while the last one is still on its way, and records each once', async () => {
    const quiet = await enrolTestDevice(database.db);
    const [first, second] = [
      await insertReviewableCapture(database.db, store, quiet, { capturedAt: new Date(Date.now() - 2 * 3600_000) }),
      await insertReviewableCapture(database.db, store, quiet, { capturedAt: new Date(Date.now() - 3600_000) }),
    ];
    await page.goto(new URL(`/review.html?deviceId=${quiet.id}`, baseUrl).toString());
    await eventually(() => page.locator('#capture-pane').getAttribute('data-capture-id')).toBe(first);
    // The server is slow to answer this one decision.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/review/captures/*/decision', async (route) => {
      await held;
      await route.continue();
    });
    await page.waitForTimeout(SETTLE_MS);
    await page.keyboard.press('a');
    await page.keyboard.press('a');
    await eventually(() => page.locator('#status').textContent()).toMatch(/^Still sending your approval.*not used/);
    release();
    await eventually(() => page.locator('#capture-pane').getAttribute('data-capture-id')).toBe(second);
    expect(await stateOf(first)).toBe('approved');
    expect(await stateOf(second)).toBe('awaiting_review');
    await page.unroute('**/api/review/captures/*/decision');
  });

  it('refuses a decision pressed before any capture is open, saying one is on its way', async () => {
    await page.route('**/api/review/next', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // The page may have gone on meanwhile (the next test navigates): nothing left to answer then.
      await route.continue().catch(() => {});
    });
    await page.goto(new URL(`/review.html?deviceId=${camera.id}`, baseUrl).toString());
    // Only once the page listens for keys (it is getting a capture by then) can a key press be answered.
    await page.waitForSelector('#capture-pane[aria-busy="true"]');
    await page.keyboard.press('a');
    await eventually(() => page.locator('#status').textContent()).toMatch(/^No capture is open yet: one is on its way/);
    await page.unroute('**/api/review/next');
  });

  it('gives up on a server that does not answer, and says the decision may not have been recorded', async () => {
    await page.goto(new URL(`/review.html?deviceId=${camera.id}`, baseUrl).toString());
    await page.waitForSelector('#capture-pane[data-capture-id]');
    const shown = await page.locator('#capture-pane').getAttribute('data-capture-id');
    // Never answered: the request hangs as it would behind a dead proxy.
    await page.route('**/api/review/captures/*/decision', () => {});
    await page.waitForTimeout(SETTLE_MS);
    await page.keyboard.press('a');
    await expect
      .poll(() => page.locator('#status').textContent(), { timeout: 25_000 })
      .toMatch(/did not answer within 15 s.*may not have been recorded/);
    await page.screenshot({ path: path.join(screenshotDir, 'review-decision-timeout.png') });
    expect(await page.locator('#capture-pane').getAttribute('data-capture-id')).toBe(shown);
    await page.unroute('**/api/review/captures/*/decision');
    // Pressed again, it goes through.
    await page.keyboard.press('a');
    await eventually(() => stateOf(shown!)).toBe('approved');
  });

  it('lists my recent decisions with where each capture stands now, and filters the queue to one review stage', async () => {
    const own = await enrolTestDevice(database.db);
    const decided = await insertReviewableCapture(database.db, store, own, { capturedAt: new Date(Date.now() - 2 * 3600_000) });
    await insertReviewableCapture(database.db, store, own, { capturedAt: new Date(Date.now() - 3600_000) });
    await page.goto(new URL(`/review.html?deviceId=${own.id}`, baseUrl).toString());
    await eventually(() => page.locator('#capture-pane').getAttribute('data-capture-id')).toBe(decided);
    await page.waitForSelector('#capture-pane[aria-busy="false"]');
    await page.waitForTimeout(SETTLE_MS);
    await page.keyboard.press('a');
    await eventually(() => stateOf(decided)).toBe('approved');

    await page.keyboard.press('h');
    expect(await page.evaluate('document.activeElement.closest("details")?.id')).toBe('my-decisions');
    const newest = page.locator('#my-decisions-list li').first();
    await eventually(() => newest.getAttribute('data-capture-id')).toBe(decided);
    expect(await newest.textContent()).toMatch(/^approved speeding · Test Road.* · now approved$/);

    // Only a legal reviewer decides escalated captures, so only they are offered that stage.
    expect(await page.locator('#filter-state option').allTextContents()).toEqual([
      'any stage',
      'awaiting a first review',
      'awaiting a second review',
    ]);
    await page.keyboard.press('/');
    for (let field = 0; field < 4; field++) await page.keyboard.press('Tab');
    expect(await active()).toBe('filter-state');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await eventually(() => new URL(page.url()).searchParams.get('state')).toBe('awaiting_second_review');
    // Nothing here waits for a second review: the queue says so, though a capture of this device awaits a first one.
    await eventually(() => page.locator('#queue').textContent()).toBe('Nothing waits for review with these filters.');
    await page.screenshot({ path: path.join(screenshotDir, 'review-my-decisions.png') });
  });
});
