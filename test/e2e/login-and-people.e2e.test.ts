import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { LOGIN_LIMITS } from '../../review-ui/people/login-throttle.js';
import { startAllInOne, type AllInOneProcess } from '../support/all-in-one-process.js';
import { axeViolations } from '../support/axe.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { createTempDir } from '../support/isolated.js';

const screenshotDir = path.resolve('test-results');
const INSPECTOR = { username: 'inspector', password: 'correct horse battery staple' };

describe('logins and people administration in Chromium', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;
  let browser: Browser | undefined;
  const remoteRequests: string[] = [];

  beforeAll(async () => {
    dataDir = await createTempDir('e2e-people');
    system = await startAllInOne({ DATA_DIR: dataDir.dir, SIMULATOR_DEVICES: '2', SIMULATOR_INTERVAL_MS: '1000' });
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.kill();
    await dataDir?.remove();
  });

  /** A fresh browser context, so each person starts with no session cookie. */
  async function open(route: string): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    const origin = new URL(system!.reviewUrl).origin;
    page.on('request', (request) => {
      if (new URL(request.url()).origin !== origin) remoteRequests.push(request.url());
    });
    await page.goto(new URL(route, system!.reviewUrl).toString());
    return page;
  }

  const pageLinks = (page: Page) => page.getByRole('navigation', { name: 'Pages' }).getByRole('link').allTextContents();

  // Every test logs in its own people in contexts of their own, so they share the one server at once.
  it.concurrent('refuses a wrong password with a clear message and keeps the person on the form', async ({ expect }) => {
    const page = await open('/login.html');
    expect(await page.evaluate('document.activeElement.id')).toBe('username');
    await page.screenshot({ path: path.join(screenshotDir, 'login-page.png') });

    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    // Enter submits, as in any form.
    await page.getByLabel('Password').press('Enter');
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toBe('Wrong username or password.');
    expect(new URL(page.url()).pathname).toBe('/login.html');
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    expect(await page.getByLabel('Username').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: path.join(screenshotDir, 'login-page-refused.png') });
    await page.close();
  });

  it.concurrent('lets a system admin create a certified reviewer, who then sees only the pages a reviewer may open', async ({ expect }) => {
    // A `next` pointing off-site is ignored: the admin lands on their own page instead.
    const admin = await open('/login.html?next=//elsewhere.example/steal');
    await logInThroughPage(admin, await system!.demoAccount('admin'));
    expect(new URL(admin.url()).pathname).toBe('/people.html');
    await expect
      .poll(() => pageLinks(admin), { timeout: 10_000 })
      .toEqual(['Devices', 'People', 'Audit log', 'Job queues', 'Public device list']);
    const rows = admin.locator('#people tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(8);
    expect(await admin.locator('tr[data-username="reviewer1"]').textContent()).toMatch(/DEMO-ENF-0001.*expires in 36[45] days/);

    const form = admin.locator('#create-form');
    const certificateNumber = form.getByLabel('Certificate number');
    expect(await certificateNumber.isVisible()).toBe(false);
    await form.getByLabel('Username').fill(INSPECTOR.username);
    await form.getByLabel('Full name').fill('Ma Lin');
    await form.getByLabel('First password').fill(INSPECTOR.password);
    await form.getByRole('checkbox', { name: /^Reviewer/ }).check();
    expect(await certificateNumber.isVisible()).toBe(true);
    await certificateNumber.fill('ENF-2027-0042');
    const inTwoHundredDays = new Date(Date.now() + 200 * 24 * 3600 * 1000);
    await form.getByLabel('Valid until').fill(inTwoHundredDays.toLocaleDateString('sv'));
    await form.getByRole('checkbox', { name: 'SIM-CAM-0002' }).check();
    await form.getByRole('button', { name: 'Add person' }).click();

    const created = admin.locator('tr[data-username="inspector"]');
    await expect.poll(() => created.count(), { timeout: 10_000 }).toBe(1);
    expect(await created.textContent()).toMatch(/Ma Lin.*Reviewer.*ENF-2027-0042.*expires in 20[01] days.*SIM-CAM-0002.*active/);
    expect(await admin.locator('#status').textContent()).toBe('inspector added; they can log in now');
    await admin.evaluate('scrollTo(0, 0)');
    await admin.screenshot({ path: path.join(screenshotDir, 'people-page.png'), fullPage: true });

    await created.getByRole('button', { name: 'Edit inspector' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Edit inspector' });
    expect(await dialog.getByLabel('Certificate number').inputValue()).toBe('ENF-2027-0042');
    expect(await dialog.getByRole('checkbox', { name: 'SIM-CAM-0002' }).isChecked()).toBe(true);
    await admin.screenshot({ path: path.join(screenshotDir, 'people-edit-dialog.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await admin.close();

    const reviewer = await open('/login.html');
    await logInThroughPage(reviewer, INSPECTOR);
    expect(new URL(reviewer.url()).pathname).toBe('/review.html');
    await reviewer.goto(new URL('/', system!.reviewUrl).toString());
    await expect
      .poll(() => pageLinks(reviewer), { timeout: 10_000 })
      .toEqual(['Captures', 'Review', 'Device health', 'Public device list']);
    expect(await reviewer.locator('#who').textContent()).toContain('Ma Lin');
    expect(await reviewer.locator('#who').textContent()).toContain('reviewer');
    await reviewer.close();
  });

  it.concurrent('shows an analyst that the capture list is not theirs to see, without a single image', async ({ expect }) => {
    const page = await open('/');
    await logInThroughPage(page, await system!.demoAccount('analyst'));
    expect(new URL(page.url()).pathname).toBe('/');
    const refusal = page.getByRole('alert');
    await expect.poll(() => refusal.textContent(), { timeout: 10_000 }).toContain('Not allowed');
    expect(await refusal.textContent()).toContain('needs captures.list');
    expect(await page.locator('.capture').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    await expect.poll(() => pageLinks(page), { timeout: 10_000 }).toEqual(['Devices', 'Analytics', 'Public device list']);
    await page.screenshot({ path: path.join(screenshotDir, 'capture-list-refused.png') });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((url) => url.pathname === '/login.html');
    expect(await page.evaluate(`fetch('/api/session').then((response) => response.status)`)).toBe(401);
    expect(await page.evaluate(`fetch('/api/devices').then((response) => response.status)`)).toBe(401);
    expect(remoteRequests).toEqual([]);
    await page.close();
  });

  it.concurrent('shows an auditor the record of what people did, filtered by action, with the signed heads to copy', async ({ expect }) => {
    const page = await open('/audit.html');
    await logInThroughPage(page, await system!.demoAccount('auditor'));
    expect(new URL(page.url()).pathname).toBe('/audit.html');
    const rows = page.locator('#entries tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBeGreaterThan(5);
    // Entries and signed heads load side by side: wait for the heads too.
    await expect.poll(() => page.locator('#key-fingerprint').textContent(), { timeout: 10_000 }).toMatch(/^[0-9a-f]{64}$/);

    // A refused login whose username carries a right-to-left override: the record shows the
    // override as a marker instead of reading `exe.txt` for what is stored as `txt.exe`.
    const spoof = `mallory\u202Etxt.exe`;
    const refused = await fetch(new URL('/api/session', system!.reviewUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: spoof, password: 'not the password' }),
    });
    expect(refused.status).toBe(401);
    await page.getByLabel('Action').fill('session.refused');
    await page.getByRole('button', { name: 'Filter' }).click();
    const spoofed = rows.filter({ hasText: 'mallory' }).first();
    await expect.poll(() => spoofed.locator('td:nth-child(5)').innerText(), { timeout: 10_000 }).toBe('username malloryU+202Etxt.exe');
    expect(await spoofed.locator('td:nth-child(5) .control-char').count()).toBe(1);
    expect(await page.evaluate(`getComputedStyle(document.querySelector('#entries tbody td:nth-child(5)')).unicodeBidi`)).toBe('isolate');

    await page.getByLabel('Action').fill('session.started');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(async () => new Set(await rows.locator('td:nth-child(4)').allTextContents()), { timeout: 10_000 })
      .toEqual(new Set(['session.started']));
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toContain('person:auditor');
    await page.screenshot({ path: path.join(screenshotDir, 'audit-page.png'), fullPage: true });
    await page.close();
  });

  it.concurrent(
    'disables a login only after the admin confirms it with a reason, by keyboard, and the audit log keeps the reason',
    async ({ expect }) => {
      const assistant = await open('/login.html');
      await logInThroughPage(assistant, await system!.demoAccount('assistant'));
      const sessionStatus = () => assistant.evaluate<number>(`fetch('/api/session').then((response) => response.status)`);
      expect(await sessionStatus()).toBe(200);

      const admin = await open('/login.html');
      await logInThroughPage(admin, await system!.demoAccount('admin'));
      const row = admin.locator('tr[data-username="assistant"]');
      await row.getByRole('button', { name: 'Disable assistant' }).focus();
      await admin.keyboard.press('Enter');
      const dialog = admin.getByRole('dialog', { name: 'Disable assistant?' });
      await expect.poll(() => dialog.isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await dialog.textContent()).toContain('every session they have open ends now');
      expect(await admin.evaluate('document.activeElement.id')).toBe('login-reason');
      await admin.screenshot({ path: path.join(screenshotDir, 'people-disable-dialog.png') });

      // Without a reason the form does not go: the login stays as it was.
      await admin.keyboard.press('Tab');
      await admin.keyboard.press('Tab');
      expect(await admin.evaluate('document.activeElement.textContent')).toBe('Disable login');
      await admin.keyboard.press('Enter');
      expect(await dialog.isVisible()).toBe(true);
      expect(await row.textContent()).toContain('active');

      // Escape backs out without a change.
      await admin.keyboard.press('Escape');
      expect(await dialog.isVisible()).toBe(false);
      expect(await sessionStatus()).toBe(200);

      await row.getByRole('button', { name: 'Disable assistant' }).focus();
      await admin.keyboard.press('Enter');
      await admin.keyboard.type('moved to another unit on 1 Dec');
      await admin.keyboard.press('Tab');
      await admin.keyboard.press('Tab');
      await admin.keyboard.press('Enter');
      await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('disabled');
      expect(await admin.locator('#status').textContent()).toBe('assistant is disabled and can no longer log in');
      expect(await admin.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Enable assistant');
      expect(await sessionStatus()).toBe(401);

      const recorded = await admin.evaluate<{ entries: { actor: string; details: { disabled?: boolean; reason?: string } }[] }>(
        `fetch('/api/audit/entries?action=person.changed').then((response) => response.json())`,
      );
      const disabling = recorded.entries.find((entry) => entry.details.disabled === true);
      expect(disabling?.actor).toBe('person:admin');
      expect(disabling?.details.reason).toBe('moved to another unit on 1 Dec');
      await admin.close();
      await assistant.close();
    },
  );

  it.concurrent(
    'shows an admin the login that wrong passwords locked, until when, and clears it by keyboard with a reason',
    async ({ expect }) => {
      const devices = await system!.demoAccount('devices');
      const logInByApi = (password: string) =>
        fetch(new URL('/api/session', system!.reviewUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: devices.username, password }),
        }).then((response) => response.status);
      for (let miss = 0; miss < LOGIN_LIMITS.perUsernameAndAddress.attempts; miss += 1) {
        expect(await logInByApi('not the password')).toBe(401);
      }
      expect(await logInByApi(devices.password)).toBe(429);

      const admin = await open('/login.html');
      await logInThroughPage(admin, await system!.demoAccount('admin'));
      const row = admin.locator('tr[data-username="devices"]');
      const badge = row.locator('.badge.locked');
      await expect.poll(() => badge.textContent(), { timeout: 10_000 }).toMatch(/^Locked until \d\d:\d\d$/);
      expect(await row.textContent()).toContain('at 1 address');
      // Only the locked login offers to clear a lock.
      expect(await admin.getByRole('button', { name: /^Clear lock/ }).count()).toBe(1);
      expect(await axeViolations(admin)).toEqual([]);

      const clearButton = row.getByRole('button', { name: 'Clear lock of devices' });
      await clearButton.focus();
      await admin.keyboard.press('Enter');
      const dialog = admin.getByRole('dialog', { name: 'Clear the login lock of devices?' });
      await expect.poll(() => dialog.isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await dialog.textContent()).toContain('Wrong passwords locked this login at 1 address until');
      expect(await admin.evaluate('document.activeElement.id')).toBe('login-reason');
      expect(await axeViolations(admin)).toEqual([]);
      await admin.screenshot({ path: path.join(screenshotDir, 'people-clear-lock-dialog.png') });

      // Escape backs out, and focus is back on the button that opened the dialog.
      await admin.keyboard.press('Escape');
      expect(await dialog.isVisible()).toBe(false);
      expect(await admin.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Clear lock of devices');
      expect(await logInByApi(devices.password)).toBe(429);

      await admin.keyboard.press('Enter');
      await expect.poll(() => dialog.isVisible(), { timeout: 10_000 }).toBe(true);
      // Without a reason the form does not go, and the browser takes the admin back to the reason.
      await admin.keyboard.press('Tab');
      await admin.keyboard.press('Tab');
      expect(await admin.evaluate('document.activeElement.textContent')).toBe('Clear lock');
      await admin.keyboard.press('Enter');
      expect(await dialog.isVisible()).toBe(true);
      expect(await admin.evaluate('document.activeElement.id')).toBe('login-reason');

      await admin.keyboard.type('called the desk from his own phone');
      await admin.keyboard.press('Tab');
      await admin.keyboard.press('Tab');
      await admin.keyboard.press('Enter');
      await expect.poll(() => badge.count(), { timeout: 10_000 }).toBe(0);
      expect(await dialog.isVisible()).toBe(false);
      expect(await admin.locator('#status').textContent()).toBe('devices may log in again at once');
      expect(await admin.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Edit devices');
      expect(await logInByApi(devices.password)).toBe(200);

      const recorded = await admin.evaluate<{ entries: { actor: string; details: { reason?: string; username?: string } }[] }>(
        `fetch('/api/audit/entries?action=person.login_lock_cleared').then((response) => response.json())`,
      );
      expect(recorded.entries).toHaveLength(1);
      expect(recorded.entries[0]).toMatchObject({
        actor: 'person:admin',
        details: { username: 'devices', reason: 'called the desk from his own phone' },
      });
      await admin.close();
    },
  );
});
