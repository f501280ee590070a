import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import type { Role } from '../../core/domain/roles.js';
import {
  captureAnnotations,
  captureMedia,
  captures,
  deviceHealthEvents,
  malfunctionWindows,
  mediaDerivatives,
  reviewClaims,
  reviewDecisions,
} from '../../db/schema.js';
import { createPerson } from '../../review-ui/people/people.js';
import { deriveMedia } from '../../workers/handlers/derive-media.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { insertReviewableCapture } from '../support/captures.js';
import { enrolTestDevice, testJpeg, type TestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const PASSWORD = 'a long enough review password';
const DAY = 24 * 3600_000;
/** The page ignores decision keys this long after a capture appears (nobody has looked at it yet). */
const SETTLE_MS = 350;

const PEOPLE: { username: string; displayName: string; roles: Role[] }[] = [
  { username: 'li', displayName: 'Li Wei', roles: ['reviewer'] },
  { username: 'wang', displayName: 'Wang Fang', roles: ['reviewer'] },
  { username: 'zhao', displayName: 'Zhao Min', roles: ['auxiliary'] },
  { username: 'yang', displayName: 'Yang Tao', roles: ['analyst'] },
];

describe('the review workspace in Chromium, against a real review server and Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;
  let cameraA: TestDevice;
  let cameraB: TestDevice;
  let cameraC: TestDevice;
  /** Oldest first: overdue, two days old with review copies, an hour old. */
  const queueA: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('e2e_review');
    mediaDir = await createTempDir('e2e-review-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: ['red_light'] } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (const person of PEOPLE) {
      const certified = person.roles.includes('reviewer');
      const created = await createPerson(database.db, 'test', {
        ...person,
        password: PASSWORD,
        certificate: certified ? { number: `ENF-${person.username}`, expiresAt: new Date(Date.now() + 300 * DAY).toISOString() } : null,
      });
      if (!created.ok) throw new Error(created.error);
    }
    [cameraA, cameraB, cameraC] = [
      await enrolTestDevice(database.db),
      await enrolTestDevice(database.db),
      await enrolTestDevice(database.db),
    ];
    const plate = 'GD-B12345';
    const firstAt = Date.now() - 6 * DAY;
    queueA.push(
      await insertReviewableCapture(database.db, store, cameraA, {
        capturedAt: new Date(firstAt),
        readings: { speedKmh: 82, limitKmh: 60, plate },
      }),
      await insertReviewableCapture(database.db, store, cameraA, {
        capturedAt: new Date(Date.now() - 2 * DAY),
        readings: { speedKmh: 71, limitKmh: 60, plate },
      }),
      await insertReviewableCapture(database.db, store, cameraA, { capturedAt: new Date(Date.now() - 3600_000) }),
    );
    // What the device reported, and an operator window that ended before the first capture: shown, but not covering it.
    await database.db.insert(deviceHealthEvents).values([
      { deviceId: cameraA.id, kind: 'heartbeat', reportedAt: new Date(firstAt - 2 * 60_000), payload: {} },
      {
        deviceId: cameraA.id,
        kind: 'self_test',
        reportedAt: new Date(firstAt - 3600_000),
        payload: { passed: true, detail: 'all checks passed' },
      },
    ]);
    await database.db.insert(malfunctionWindows).values({
      deviceId: cameraA.id,
      source: 'operator',
      startsAt: new Date(firstAt - 3 * 3600_000),
      endsAt: new Date(firstAt - 2 * 3600_000),
      reason: 'lens cleaned',
      recordedBy: 'test',
    });
    // The first gets what the workers make (review copies, thumbnails, quality); the others show their originals.
    await deriveMedia({ database, store }, { captureId: queueA[0]! });
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  /** A fresh browser context (no cookie), logged in through the login form the page sends them to. */
  async function loggedIn(username: string, route: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(new URL(route, baseUrl).toString());
    await logInThroughPage(page, { username, password: PASSWORD });
    return page;
  }

  const shown = (page: Page) => page.locator('#capture-pane').getAttribute('data-capture-id');
  const decisionsOn = (captureId: string) =>
    database.db
      .select({
        step: reviewDecisions.step,
        outcome: reviewDecisions.outcome,
        reasonCode: reviewDecisions.reasonCode,
        note: reviewDecisions.note,
      })
      .from(reviewDecisions)
      .where(eq(reviewDecisions.captureId, captureId))
      .orderBy(asc(reviewDecisions.decidedAt));
  const stateOf = async (captureId: string) =>
    (await database.db.select({ state: captures.state }).from(captures).where(eq(captures.id, captureId)))[0]?.state;
  const claimOf = async (captureId: string) =>
    (await database.db.select({ personId: reviewClaims.personId }).from(reviewClaims).where(eq(reviewClaims.captureId, captureId)))[0];
  const stageImage = (page: Page) => page.locator('#zoom-target img').getAttribute('src');
  /** Runs in the page with its session and CSRF token, as a script injected into the page would. */
  const fetchFromPage = (page: Page, url: string, method = 'GET', body?: unknown) =>
    page.evaluate(
      async ({ url, method, body }) => {
        const { csrfToken } = (await (await fetch('/api/session')).json()) as { csrfToken: string };
        const response = await fetch(url, {
          method,
          headers: { 'x-csrf-token': csrfToken, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: response.status, body: await response.text() };
      },
      { url, method, body },
    );

  it('lets a reviewer log in, claim the most urgent capture, zoom into the original and approve it with the keyboard', async () => {
    const liPage = await loggedIn('li', `/review.html?deviceId=${cameraA.id}`);
    expect(new URL(liPage.url()).pathname).toBe('/review.html');
    await expect.poll(() => shown(liPage)).toBe(queueA[0]);
    // The statutory clock: six days old, so a day overdue, and first in the queue.
    expect(await liPage.locator('#deadline').textContent()).toMatch(/^overdue by 1 d/);
    await expect.poll(() => liPage.locator('#queue-counts').textContent()).toBe('3 in queue · 1 overdue');
    expect(await liPage.locator('#queue .queue-item').first().textContent()).toMatch(/overdue by 1 d.*yours/);
    expect(await liPage.locator('#facts').textContent()).toContain('✓ intact');
    expect(await liPage.locator('#facts').textContent()).toContain('certified at the moment of capture');
    expect(await liPage.locator('#facts').textContent()).toContain('GD-B12345');
    const health = liPage.getByRole('region', { name: 'Health at capture' });
    expect(await health.textContent()).toContain('✓ no malfunction window covers the capture');
    expect(await health.textContent()).toMatch(/Last heartbeat\s*2 min before capture/);
    expect(await health.textContent()).toMatch(/operator✓ does not cover capture.*lens cleaned/);
    expect(await health.textContent()).toContain('self test');
    // Flat test colours have no edges: the workers flag them, and the page passes that on.
    expect(await liPage.getByRole('region', { name: 'Quality' }).textContent()).toMatch(/frame-1\.jpgblurry.*1280×720 · sharpness 0\.0/);
    expect(await liPage.locator('#frames .frame').count()).toBe(2);

    const [[original], [review]] = await Promise.all([
      database.db
        .select({ sha256: captureMedia.mediaSha256 })
        .from(captureMedia)
        .where(and(eq(captureMedia.captureId, queueA[0]!), eq(captureMedia.name, 'frame-1.jpg'))),
      database.db
        .select({ sha256: mediaDerivatives.derivedSha256 })
        .from(mediaDerivatives)
        .innerJoin(captureMedia, eq(captureMedia.mediaSha256, mediaDerivatives.sourceSha256))
        .where(and(eq(captureMedia.captureId, queueA[0]!), eq(captureMedia.name, 'frame-1.jpg'), eq(mediaDerivatives.kind, 'review'))),
    ]);
    expect(await stageImage(liPage)).toContain(review!.sha256);

    // The next capture is claimed and decoded while the reviewer looks at this one.
    await expect.poll(() => liPage.locator('#capture-pane').getAttribute('data-upcoming')).toBe('ready');
    expect((await claimOf(queueA[1]!))?.personId).toBeDefined();
    await liPage.screenshot({ path: path.join(screenshotDir, 'review-workspace.png') });

    const scale = async () => (await liPage.locator('#zoom-target').getAttribute('style')) ?? '';
    // 'contain: outside' may fit a picture a hair above 1 when its box and the stage differ by a pixel.
    const scaleValue = async () => Number(/scale\(([\d.]+)\)/.exec(await scale())?.[1] ?? 1);
    expect(await scaleValue()).toBeLessThan(1.05);
    await liPage.keyboard.press('z');
    await liPage.keyboard.press('+');
    await expect.poll(scaleValue).toBeGreaterThan(1.5);
    // Zoomed past the review copy's pixels: the original takes its place.
    await expect.poll(() => stageImage(liPage)).toContain(original!.sha256);
    expect(await liPage.locator('#zoom-label').textContent()).toMatch(/frame-1\.jpg · \d+ % · original/);
    await liPage.screenshot({ path: path.join(screenshotDir, 'review-zoomed.png') });
    await liPage.keyboard.press('2');
    expect(await liPage.locator('#frames .frame').nth(1).getAttribute('aria-pressed')).toBe('true');
    await liPage.keyboard.press('0');
    await expect.poll(scaleValue).toBeLessThan(1.05);

    // A day past the statutory deadline: the approval needs a reason, which the decision keeps.
    await liPage.keyboard.press('a');
    const late = liPage.getByRole('dialog', { name: 'Approve after the review deadline' });
    // Polled with the status line, so a refused key press fails with the page's own words.
    await expect
      .poll(async () => ((await late.isVisible()) ? 'dialog open' : await liPage.locator('#status').textContent()), { timeout: 30_000 })
      .toBe('dialog open');
    await late.getByLabel('Why is it approved late? (required)').fill('device data arrived late after a network outage');
    await liPage.keyboard.press('Enter');
    await expect.poll(() => shown(liPage)).toBe(queueA[1]);
    expect(await stateOf(queueA[0]!)).toBe('approved');
    const [lateDecision] = await database.db
      .select({ lateReason: reviewDecisions.lateReason })
      .from(reviewDecisions)
      .where(eq(reviewDecisions.captureId, queueA[0]!));
    expect(lateDecision?.lateReason).toBe('device data arrived late after a network outage');
    expect(await decisionsOn(queueA[0]!)).toEqual([{ step: 'first', outcome: 'approved', reasonCode: null, note: null }]);
    expect(await liPage.locator('#status').textContent()).toBe('GD-B12345 approved.');
    // The same plate, captured earlier, is listed on the next capture.
    expect(await liPage.locator('#facts').textContent()).toContain('Earlier captures of the same subject');
    expect(await liPage.locator('#facts .earlier li').count()).toBe(1);
    const measured = await liPage.evaluate(`performance.getEntriesByName('review:key-to-next').length`);
    expect(measured).toBe(1);
    await liPage.context().close();
  });

  it('rejects the next capture with a reason picked by its number, and skips one back to the queue', async () => {
    const camera = await enrolTestDevice(database.db);
    const queue = [
      await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(Date.now() - 2 * 3600_000) }),
      await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(Date.now() - 3600_000) }),
    ];
    const liPage = await loggedIn('li', `/review.html?deviceId=${camera.id}`);
    await expect.poll(() => shown(liPage)).toBe(queue[0]);
    await liPage.waitForTimeout(SETTLE_MS);
    await liPage.keyboard.press('r');
    const dialog = liPage.getByRole('dialog', { name: 'Reject this capture' });
    await dialog.waitFor();
    await liPage.keyboard.press('2');
    const chosen = dialog.locator('input[name="reasonCode"]:checked');
    const reasonCode = await chosen.getAttribute('value');
    expect(reasonCode).toBeTruthy();
    await liPage.screenshot({ path: path.join(screenshotDir, 'review-reject-dialog.png') });
    await dialog.getByLabel('Note (optional)').fill('lights turned as the car entered');
    await liPage.keyboard.press('Enter');
    await expect.poll(() => shown(liPage)).toBe(queue[1]);
    expect(await dialog.isVisible()).toBe(false);
    expect(await decisionsOn(queue[0]!)).toEqual([
      { step: 'first', outcome: 'rejected', reasonCode, note: 'lights turned as the car entered' },
    ]);

    // Typing in a filter field is typing, not a shortcut; Escape leaves the field.
    const road = liPage.getByLabel('Road or area');
    await road.press('a');
    expect(await road.inputValue()).toBe('a');
    await road.press('Backspace');
    await road.press('Escape');
    await liPage.waitForTimeout(SETTLE_MS);
    expect(await stateOf(queue[1]!)).toBe('awaiting_review');

    await liPage.keyboard.press('n');
    await expect.poll(() => liPage.locator('#stage-empty').textContent()).toContain('Nothing left to review');
    expect(await claimOf(queue[1]!)).toBeUndefined();
    await liPage.context().close();
  });

  it('needs a second reviewer to confirm a red-light approval, and never the first one', async () => {
    const redLight = await insertReviewableCapture(database.db, store, cameraB, { violationType: 'red_light' });
    // Starts on a device with nothing to review, so that the filter below is what brings the capture.
    const idle = await enrolTestDevice(database.db);
    const liPage = await loggedIn('li', `/review.html?deviceId=${idle.id}`);
    await expect.poll(() => liPage.locator('#stage-empty').textContent()).toContain('Nothing left to review');
    // '/' goes to the filters, Enter applies them and hands the keys back to the shortcuts.
    await liPage.keyboard.press('/');
    expect(await liPage.evaluate('document.activeElement.id')).toBe('filter-device');
    await liPage.keyboard.type(cameraB.id);
    await liPage.keyboard.press('Enter');
    await expect.poll(() => shown(liPage)).toBe(redLight);
    expect(new URL(liPage.url()).searchParams.get('deviceId')).toBe(cameraB.id);
    expect(await liPage.locator('#two-person').textContent()).toBe('Two-person rule: needs a second reviewer after your approval.');
    expect(await liPage.locator('#approve').textContent()).toMatch(/^Approve \(first of two\)/);
    await liPage.waitForTimeout(SETTLE_MS);
    await liPage.keyboard.press('a');
    await expect.poll(() => stateOf(redLight)).toBe('awaiting_second_review');
    await expect.poll(() => liPage.locator('#status').textContent()).toContain('a second reviewer must confirm');
    await expect.poll(() => liPage.locator('#stage-empty').textContent()).toContain('Nothing left to review');

    const wangPage = await loggedIn('wang', `/review.html?deviceId=${cameraB.id}`);
    await expect.poll(() => shown(wangPage)).toBe(redLight);
    expect(await wangPage.locator('#two-person').textContent()).toBe('First approval by Li Wei — you confirm.');
    expect(await wangPage.locator('#approve').textContent()).toMatch(/^Confirm approval/);
    expect(await wangPage.locator('#facts').textContent()).toContain('Li Wei (ENF-li): approved, first step');
    await wangPage.screenshot({ path: path.join(screenshotDir, 'review-second-reviewer.png') });
    await wangPage.waitForTimeout(SETTLE_MS);
    await wangPage.keyboard.press('a');
    await expect.poll(() => stateOf(redLight)).toBe('approved');
    expect((await decisionsOn(redLight)).map((decision) => [decision.step, decision.outcome])).toEqual([
      ['first', 'approved'],
      ['second', 'approved'],
    ]);
    await Promise.all([liPage.context().close(), wangPage.context().close()]);
  });

  it('warns in red, above everything else, when a file no longer matches what the device signed', async () => {
    const camera = await enrolTestDevice(database.db);
    const tampered = await insertReviewableCapture(database.db, store, camera);
    const [frame] = await database.db
      .select({ sha256: captureMedia.mediaSha256 })
      .from(captureMedia)
      .where(and(eq(captureMedia.captureId, tampered), eq(captureMedia.name, 'frame-1.jpg')));
    // Someone with access to the media folder swaps the picture for another one.
    await writeFile(path.join(mediaDir.dir, frame!.sha256.slice(0, 2), frame!.sha256.slice(2, 4), frame!.sha256), await testJpeg());
    const wangPage = await loggedIn('wang', `/review.html?deviceId=${camera.id}`);
    await expect.poll(() => shown(wangPage)).toBe(tampered);
    const banner = wangPage.locator('#banner');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain('Integrity check failed');
    const integrity = wangPage.getByRole('region', { name: 'Integrity' });
    expect(await integrity.textContent()).toContain('✗ NOT intact');
    expect(await integrity.textContent()).toMatch(/frame-1\.jpg✗ hash differs/);
    expect(await integrity.textContent()).toMatch(/frame-2\.jpg✓ hash matches/);
    await wangPage.screenshot({ path: path.join(screenshotDir, 'review-integrity-failed.png') });
    await wangPage.waitForTimeout(SETTLE_MS);
    await wangPage.keyboard.press('a');
    await expect.poll(() => wangPage.locator('#status').textContent()).toContain('cannot be approved: reject or escalate it');
    expect(await stateOf(tampered)).toBe('awaiting_review');
    await wangPage.context().close();
  });

  it('shows auxiliary staff the capture read only, with pre-screen notes instead of decisions, and the server refuses their approval', async () => {
    const camera = await enrolTestDevice(database.db);
    const capture = await insertReviewableCapture(database.db, store, camera);
    const page = await loggedIn('zhao', `/review.html?deviceId=${camera.id}`);
    await expect.poll(() => page.locator('#queue .queue-item').count()).toBe(1);
    expect(await page.locator('#approve').isVisible()).toBe(false);
    await page.locator('#queue .queue-item').first().click();
    const reasonDialog = page.getByRole('dialog', { name: 'Why do you open this capture?' });
    await reasonDialog.waitFor();
    expect(await reasonDialog.getByLabel(/Reason, kept in the audit log/).inputValue()).toBe('pre-screening before review');
    await page.keyboard.press('Enter');
    await expect.poll(() => shown(page)).toBe(capture);
    expect(await page.locator('#approve').isVisible()).toBe(false);
    expect(await page.locator('#next').isVisible()).toBe(false);
    expect(await page.locator('#looks-valid').isVisible()).toBe(true);
    // Nobody claimed it: a reviewer can still take it.
    expect(await claimOf(capture)).toBeUndefined();

    await page.keyboard.press('a');
    expect(await stateOf(capture)).toBe('awaiting_review');
    await page.keyboard.press('p');
    const note = page.getByRole('dialog', { name: 'Has a problem' });
    await note.getByLabel('Note for the reviewer').fill('plate partly covered by a tow bar');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#status').textContent()).toBe('Pre-screen note saved for the reviewer.');
    expect(await page.locator('#facts').textContent()).toContain('Zhao Min, pre-screen: has problem — “plate partly covered by a tow bar”');
    const annotations = await database.db.select().from(captureAnnotations).where(eq(captureAnnotations.captureId, capture));
    expect(annotations.map((annotation) => annotation.kind)).toEqual(['has_problem']);
    await page.screenshot({ path: path.join(screenshotDir, 'review-auxiliary.png') });

    const approval = await fetchFromPage(page, `/api/review/captures/${capture}/decision`, 'POST', { outcome: 'approved' });
    expect(approval.status).toBe(403);
    expect(approval.body).toContain('needs review.decide');
    expect((await fetchFromPage(page, `/api/review/captures/${capture}/claim`, 'POST')).status).toBe(403);
    expect(await decisionsOn(capture)).toEqual([]);
    await page.context().close();
  });

  it('tells an analyst they may not open captures, and the server serves them no image', async () => {
    const page = await loggedIn('yang', `/review.html?capture=${queueA[2]}`);
    const refusal = page.getByRole('alert').filter({ hasText: 'Not allowed' });
    await expect.poll(() => refusal.textContent()).toContain('needs evidence.view');
    expect(await page.locator('img').count()).toBe(0);
    const [frame] = await database.db
      .select({ sha256: captureMedia.mediaSha256 })
      .from(captureMedia)
      .where(eq(captureMedia.captureId, queueA[2]!));
    expect((await fetchFromPage(page, `/api/review/captures/${queueA[2]}/media/${frame!.sha256}`)).status).toBe(403);
    expect((await fetchFromPage(page, `/api/review/captures/${queueA[2]}?reason=just+curious`)).status).toBe(403);
    await page.screenshot({ path: path.join(screenshotDir, 'review-analyst-refused.png') });
    await page.context().close();
  });

  it('gives one capture to one of two racing reviewers, and records exactly one decision', async () => {
    const contested = await insertReviewableCapture(database.db, store, cameraC);
    const racers = await Promise.all([loggedIn('li', '/'), loggedIn('wang', '/')]);
    // Both ask for the next capture at the same moment: one gets it, the other is told nothing is left.
    await Promise.all(racers.map((page) => page.goto(new URL(`/review.html?deviceId=${cameraC.id}`, baseUrl).toString())));
    await expect.poll(async () => (await Promise.all(racers.map(shown))).filter((id) => id === contested).length).toBe(1);
    await Promise.all(racers.map((page) => page.waitForTimeout(SETTLE_MS)));
    await Promise.all(racers.map((page) => page.keyboard.press('a')));
    await expect.poll(() => stateOf(contested)).toBe('approved');
    expect(await decisionsOn(contested)).toHaveLength(1);

    // Both open the same capture by its address: one claims it, the other may only look.
    const linked = await insertReviewableCapture(database.db, store, cameraC);
    await Promise.all(racers.map((page) => page.goto(new URL(`/review.html?capture=${linked}`, baseUrl).toString())));
    const lookers = await Promise.all(
      racers.map(async (page) => {
        const dialog = page.getByRole('dialog', { name: 'Why do you open this capture?' });
        await expect.poll(async () => (await shown(page)) === linked || (await dialog.isVisible())).toBe(true);
        return (await dialog.isVisible()) ? page : undefined;
      }),
    );
    const looker = lookers.find(Boolean);
    expect(lookers.filter(Boolean)).toHaveLength(1);
    expect(await looker!.locator('#reason-context').textContent()).toMatch(
      /is reviewing this capture\. You can look at it without deciding\./,
    );
    await looker!.getByLabel(/Reason, kept in the audit log/).fill('checking a colleague’s capture');
    await looker!.keyboard.press('Enter');
    await expect.poll(() => shown(looker!)).toBe(linked);
    expect(await looker!.locator('#approve').isVisible()).toBe(false);
    await Promise.all(racers.map((page) => page.waitForTimeout(SETTLE_MS)));
    await Promise.all(racers.map((page) => page.keyboard.press('a')));
    await expect.poll(() => stateOf(linked)).toBe('approved');
    expect(await decisionsOn(linked)).toHaveLength(1);

    // The API itself: both claim and both decide at once. The pages leave the review page first,
    // so that neither claims the new capture in advance by itself while the requests race.
    await Promise.all(racers.map((page) => page.goto(new URL('/', baseUrl).toString())));
    const raced = await insertReviewableCapture(database.db, store, cameraC);
    const claimed = await Promise.all(racers.map((page) => fetchFromPage(page, `/api/review/captures/${raced}/claim`, 'POST')));
    expect(claimed.map((answer) => answer.status).sort(), JSON.stringify(claimed)).toEqual([200, 409]);
    const decided = await Promise.all(
      racers.map((page) => fetchFromPage(page, `/api/review/captures/${raced}/decision`, 'POST', { outcome: 'approved' })),
    );
    expect(decided.map((answer) => answer.status).sort()).toEqual([200, 409]);
    expect(await decisionsOn(raced)).toHaveLength(1);
    await Promise.all(racers.map((page) => page.context().close()));
  });
});
