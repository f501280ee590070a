import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import type { Role } from '../../core/domain/roles.js';
import { addCertification } from '../../review-ui/devices/device-registry.js';
import { createPerson } from '../../review-ui/people/people.js';
import { axeViolations } from '../support/axe.js';
import { launchBrowser, logInThroughPage } from '../support/browser.js';
import { enrolTestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase } from '../support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../support/review-server.js';

const screenshotDir = path.resolve('test-results');
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const NARROWEST = { width: 360, height: 740 };
const DAY = 24 * 3600 * 1000;

const newPublicKeyPem = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
// The browser runs in UTC, so a datetime-local value is the ISO instant cut to the minute.
const localInput = (date: Date) => date.toISOString().slice(0, 16);

describe('the device registry page: enrolment, certifications, keys and broker passwords, each audited', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;
  let auditor: LoggedIn;
  const accounts = new Map<string, { username: string; password: string }>();

  beforeAll(async () => {
    database = await createTestDatabase('e2e_device_registry');
    mediaDir = await createTempDir('e2e-device-registry');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const people: [string, Role][] = [
      ['ana', 'device_admin'],
      ['ben', 'device_admin'],
      ['aud', 'auditor'],
    ];
    for (const [username, role] of people) {
      const account = { username, password: `pw-${randomBytes(12).toString('hex')}` };
      const created = await createPerson(database.db, 'test', {
        ...account,
        displayName: `${username} (${role})`,
        roles: [role],
        certificate: null,
      });
      if (!created.ok) throw new Error(created.error);
      accounts.set(username, account);
    }
    auditor = await personLoggedIn(app, database.db, 'audit-reader', ['auditor']);
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function registryAs(username: string, screen: { width: number; height: number }): Promise<Page> {
    const context = await browser.newContext({ viewport: screen, timezoneId: 'UTC' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
    const page = await context.newPage();
    await page.goto(new URL('/devices.html', baseUrl).toString());
    await logInThroughPage(page, accounts.get(username)!);
    // The registry, not the fleet table: an empty table stacked on a phone has no size, so it never counts as visible.
    await page.waitForSelector('#registry', { state: 'visible' });
    return page;
  }

  /** The page as it is now fits the screen and has no serious or critical axe finding. */
  async function expectUsable(page: Page, state: string, width: number): Promise<void> {
    expect(await page.evaluate<number>('document.documentElement.scrollWidth'), `${state}: page width`).toBeLessThanOrEqual(width);
    expect(await axeViolations(page), state).toEqual([]);
  }

  /** The device row that holds keyboard focus, if any. */
  const focusedRow = (page: Page) => page.evaluate<string | undefined>('document.activeElement?.closest("tr")?.dataset.deviceId');
  const focusedName = (page: Page) => page.evaluate<string | null>('document.activeElement?.getAttribute("aria-label")');

  it.each([DESKTOP, PHONE, NARROWEST])(
    'lets two device administrators run the registry at $width px, with focus kept on the row and no serious axe finding',
    async (screen) => {
      const id = `REG-CAM-${screen.width}`;
      const ana = await registryAs('ana', screen);
      const shot = (name: string) =>
        ana.screenshot({ path: path.join(screenshotDir, `device-registry-${screen.width}-${name}.png`), fullPage: true });

      // Enrolment: a wrong key is refused beside its field, then the right one enrols the device.
      const enrol = ana.getByRole('region', { name: 'Enrol a device' });
      await enrol.getByLabel('Device id').fill(id);
      await enrol.getByLabel('Kind').selectOption('speed_radar');
      await enrol.getByLabel('Model').fill('SR-9');
      await enrol.getByLabel('Serial number').fill(`SN-${screen.width}`);
      await enrol.getByLabel('Agency').fill('Shenzhen Traffic Police');
      await enrol.getByLabel('Road').fill('Shennan Boulevard');
      await enrol.getByLabel('Direction').fill('eastbound');
      await enrol.getByLabel('Latitude').fill('22.5431');
      await enrol.getByLabel('Longitude').fill('114.0579');
      const keyField = enrol.getByLabel('Public key');
      await keyField.fill('-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----');
      await enrol.getByRole('button', { name: 'Enrol device' }).click();
      await expect.poll(() => keyField.getAttribute('aria-invalid')).toBe('true');
      expect(await ana.locator('#enrol-publicKeyPem-error').textContent()).toContain('Ed25519');
      expect(await keyField.getAttribute('aria-describedby')).toContain('enrol-publicKeyPem-error');
      expect(await ana.evaluate('document.activeElement.id')).toBe('enrol-publicKeyPem');
      await expectUsable(ana, 'enrolment refused', screen.width);

      await keyField.fill(newPublicKeyPem());
      await enrol.getByRole('button', { name: 'Enrol device' }).click();
      const secret = ana.getByRole('dialog', { name: `Broker login for ${id}` });
      await secret.waitFor();
      expect(await secret.textContent()).toContain('will not show it again');
      expect(await secret.getByLabel('Broker username').inputValue()).toBe(id);
      const firstPassword = await secret.getByLabel('Broker password').inputValue();
      expect(firstPassword.length).toBeGreaterThanOrEqual(16);
      expect(await keyField.getAttribute('aria-invalid')).toBeNull();
      await expectUsable(ana, 'one-time broker password', screen.width);
      await shot('password');
      await secret.getByRole('button', { name: 'Copy password' }).click();
      await expect.poll(() => secret.getByRole('status').textContent()).toContain('Copied');
      expect(await ana.evaluate('navigator.clipboard.readText()')).toBe(firstPassword);
      await secret.getByRole('button', { name: 'I have stored it' }).click();
      expect(await secret.isVisible()).toBe(false);
      // Shown once: closing the dialog leaves it nowhere on the page.
      expect(await ana.locator('#secret-password').inputValue()).toBe('');
      await expect.poll(() => focusedRow(ana)).toBe(id);
      const row = ana.locator(`#fleet tr[data-device-id="${id}"]`);
      expect(await row.textContent()).toContain('not certified');

      // A certification: an end before its start is refused beside the field, then recorded.
      const now = Date.now();
      await row.getByRole('button', { name: `Record certification for ${id}` }).click();
      const certify = ana.getByRole('dialog', { name: `Record a certification for ${id}` });
      await certify.getByLabel('Certification').selectOption('metrological_verification');
      await certify.getByLabel('Reference').fill(`MV-${screen.width}-1`);
      await certify.getByLabel('Valid from').fill(localInput(new Date(now + DAY)));
      const validUntil = certify.getByLabel('Valid until');
      await validUntil.fill(localInput(new Date(now - DAY)));
      await certify.getByRole('button', { name: 'Record certification' }).click();
      await expect.poll(() => validUntil.getAttribute('aria-invalid')).toBe('true');
      expect(await ana.locator('#certify-validTo-error').textContent()).toContain('validTo must be after validFrom');
      await expectUsable(ana, 'certification refused', screen.width);
      const lapsesAt = new Date(now + 20 * DAY);
      await validUntil.fill(localInput(lapsesAt));
      await certify.getByRole('button', { name: 'Record certification' }).click();
      await expect.poll(() => ana.locator('#status').textContent()).toBe(`MV-${screen.width}-1 recorded for ${id}`);
      expect(await certify.isVisible()).toBe(false);
      await expect.poll(() => focusedName(ana)).toBe(`Record certification for ${id}`);

      // It lapses within 30 days with no successor, so it is listed, and renewed from the list.
      const renew = ana.getByRole('button', { name: `Renew metrological verification of ${id}` });
      await renew.click();
      const renewal = ana.getByRole('dialog', { name: `Renew metrological verification MV-${screen.width}-1 of ${id}` });
      expect(await renewal.getByLabel('Certification').inputValue()).toBe('metrological_verification');
      expect(await renewal.getByLabel('Valid from').inputValue()).toBe(localInput(lapsesAt));
      expect(await ana.evaluate('document.activeElement.id')).toBe('certify-reference');
      await expectUsable(ana, 'renewal', screen.width);
      await renewal.getByLabel('Reference').fill(`MV-${screen.width}-2`);
      await renewal.getByRole('button', { name: 'Record certification' }).click();
      await expect.poll(() => renew.count()).toBe(0);
      expect(await ana.locator('#status').textContent()).toBe(`MV-${screen.width}-2 recorded for ${id}`);
      await expect.poll(() => focusedRow(ana)).toBe(id);

      // Back-dated: it waits for a second person, and its recorder may not be that person.
      await row.getByRole('button', { name: `Record certification for ${id}` }).click();
      await certify.getByLabel('Certification').selectOption('legal_review');
      await certify.getByLabel('Reference').fill(`LR-${screen.width}`);
      await certify.getByLabel('Valid from').fill(localInput(new Date(now - 2 * DAY)));
      await certify.getByLabel('Valid until').fill(localInput(new Date(now + 365 * DAY)));
      await certify.getByRole('button', { name: 'Record certification' }).click();
      await expect.poll(() => ana.locator('#status').textContent()).toContain("awaits a second person's confirmation");
      const pendingRow = ana.locator('#pending tbody tr', { hasText: `LR-${screen.width}` });
      expect(await pendingRow.textContent()).toContain('person:ana');
      await expectUsable(ana, 'awaiting confirmation', screen.width);
      await pendingRow.getByRole('button', { name: `Confirm LR-${screen.width} of ${id}` }).click();
      const ownConfirmation = ana.getByRole('dialog', { name: `Confirm LR-${screen.width} of ${id}` });
      await ownConfirmation.getByRole('button', { name: 'Confirm certification' }).click();
      await expect.poll(() => ownConfirmation.getByRole('alert').textContent()).toContain('a second person must confirm it');
      await expectUsable(ana, 'own confirmation refused', screen.width);
      await shot('own-confirmation');
      await ana.keyboard.press('Escape');
      await expect.poll(() => focusedName(ana)).toBe(`Confirm LR-${screen.width} of ${id}`);

      const ben = await registryAs('ben', screen);
      const bensRow = ben.locator('#pending tbody tr', { hasText: `LR-${screen.width}` });
      await bensRow.getByRole('button', { name: `Confirm LR-${screen.width} of ${id}` }).click();
      await ben
        .getByRole('dialog', { name: `Confirm LR-${screen.width} of ${id}` })
        .getByRole('button', { name: 'Confirm certification' })
        .click();
      await expect.poll(() => bensRow.count()).toBe(0);
      expect(await ben.locator('#status').textContent()).toContain(`LR-${screen.width} of ${id} confirmed`);
      await expect.poll(() => focusedRow(ben)).toBe(id);
      await ben.context().close();

      // Key rotation, by keyboard alone: the dialog opens on the key field, and Tab reaches the reason and the button.
      const fingerprint = row.locator('code');
      await fingerprint.waitFor();
      const oldFingerprint = await fingerprint.getAttribute('title');
      await row.getByRole('button', { name: `Rotate key of ${id}` }).focus();
      await ana.keyboard.press('Enter');
      const rotation = ana.getByRole('dialog', { name: `Rotate key of ${id}` });
      await rotation.waitFor();
      expect(await ana.evaluate('document.activeElement.id')).toBe('key-publicKeyPem');
      await ana.keyboard.insertText(newPublicKeyPem());
      await ana.keyboard.press('Tab');
      await ana.keyboard.insertText('key material exposed during the workshop repair');
      await ana.keyboard.press('Tab');
      await ana.keyboard.press('Tab');
      await ana.keyboard.press('Enter');
      await expect.poll(() => fingerprint.getAttribute('title')).not.toBe(oldFingerprint);
      expect(await rotation.isVisible()).toBe(false);
      await expect.poll(() => focusedName(ana)).toBe(`Rotate key of ${id}`);

      // A new broker password replaces the first, shown once again.
      await row.getByRole('button', { name: `New broker password for ${id}` }).click();
      await ana
        .getByRole('dialog', { name: `New broker password for ${id}` })
        .getByRole('button', { name: 'Issue new password' })
        .click();
      await secret.waitFor();
      const secondPassword = await secret.getByLabel('Broker password').inputValue();
      expect(secondPassword).not.toBe(firstPassword);
      await expectUsable(ana, 'new broker password', screen.width);
      await ana.keyboard.press('Escape');
      expect(await ana.locator('#secret-password').inputValue()).toBe('');
      await expect.poll(() => focusedName(ana)).toBe(`New broker password for ${id}`);
      await expectUsable(ana, 'after every change', screen.width);
      await shot('registry');
      await ana.context().close();

      // Every change reached the audit log, under the person who made it.
      const trail = await app.inject({
        method: 'GET',
        url: `/api/audit/entries?subjectType=device&subjectId=${id}&limit=50`,
        headers: auditor.headers,
      });
      expect(trail.statusCode, trail.body).toBe(200);
      const entries = trail
        .json<{ entries: { actor: string; action: string; details: Record<string, unknown> }[] }>()
        .entries.map(({ actor, action, details }) => ({ actor, action, details }))
        .reverse();
      expect(entries.map(({ actor, action }) => `${actor} ${action}`)).toEqual([
        'person:ana device.enrolled',
        'person:ana device.certification_added',
        'person:ana device.certification_added',
        'person:ana device.certification_added',
        'person:ben device.certification_confirmed',
        'person:ana device.key_rotated',
        'person:ana device.broker_password_issued',
      ]);
      expect(entries[0]?.details).toMatchObject({ kind: 'speed_radar', road: 'Shennan Boulevard', latitude: 22.5431 });
      expect(entries[3]?.details).toMatchObject({ reference: `LR-${screen.width}`, needsConfirmation: true });
      expect(entries[5]?.details).toMatchObject({ reason: 'key material exposed during the workshop repair' });
    },
  );

  it('keeps keyboard focus on the device row after a revocation by keyboard alone, where no button is left', async () => {
    const device = await enrolTestDevice(database.db);
    const page = await registryAs('ana', DESKTOP);
    await page.waitForSelector(`#fleet tr[data-device-id="${device.id}"]`);
    await page.getByRole('button', { name: `Revoke ${device.id}` }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate<string>('document.activeElement.id')).toBe('action-reason');
    await page.keyboard.type('stolen from its mast');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator(`#fleet tr[data-device-id="${device.id}"]`).textContent()).toContain('revocation is final');
    await expect.poll(() => focusedRow(page)).toBe(device.id);
    expect(await page.evaluate<string>('document.activeElement.tagName')).toBe('TH');
    await page.context().close();
  });

  it('shows an auditor the registry, a back-dated record awaiting confirmation included, without a way to change it', async () => {
    const device = await enrolTestDevice(database.db);
    await addCertification(database.db, 'person:ana', device.id, {
      kind: 'signage',
      reference: 'SIGN-LATE',
      validFrom: new Date(Date.now() - DAY).toISOString(),
      validTo: new Date(Date.now() + 365 * DAY).toISOString(),
    });
    const page = await registryAs('aud', DESKTOP);
    await page.waitForSelector(`#fleet tr[data-device-id="${device.id}"]`);
    expect(await page.locator('#pending tbody tr', { hasText: 'SIGN-LATE' }).isVisible()).toBe(true);
    expect(await page.getByRole('region', { name: 'Enrol a device' }).count()).toBe(0);
    expect(
      await page
        .getByRole('button', { name: /Enable|Disable|Revoke|Record certification|Rotate key|New broker password|Confirm|Renew/ })
        .count(),
    ).toBe(0);
    await expectUsable(page, 'read only', DESKTOP.width);
    await page.context().close();
  });
});
