import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditExport } from '../../core/domain/audit-export.js';
import { runAuditCli } from '../../review-ui/cli/audit.js';
import { startAllInOne, type AllInOneProcess } from '../support/all-in-one-process.js';
import { axeViolations } from '../support/axe.js';
import { launchBrowser, logInThroughPage, watchContentSecurity } from '../support/browser.js';
import { createTempDir, createTestDatabase, waitFor } from '../support/isolated.js';

const screenshotDir = path.resolve('test-results');

/**
 * The audit page as an auditor uses it, on a system whose database a superuser can reach
 * behind Verity's back: the page must show what was changed, not trust the server that sends it.
 */
describe('the audit page in Chromium', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let superuser: pg.Client;
  let system: AllInOneProcess | undefined;
  let browser: Browser | undefined;
  const violationLists: string[][] = [];

  beforeAll(async () => {
    dataDir = await createTempDir('e2e-audit');
    database = await createTestDatabase('e2e_audit');
    system = await startAllInOne({
      DATA_DIR: dataDir.dir,
      DATABASE_URL: database.url,
      SIMULATOR_DEVICES: '1',
      SIMULATOR_INTERVAL_MS: '2000',
      AUDIT_SIGN_INTERVAL_MS: '1000',
    });
    superuser = new pg.Client({ connectionString: database.url });
    await superuser.connect();
    browser = await launchBrowser();
    await mkdir(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.kill();
    await superuser?.end();
    await database?.drop();
    await dataDir?.remove();
  });

  async function auditor(route = '/audit.html', viewport = { width: 1366, height: 768 }): Promise<Page> {
    const context = await browser!.newContext({ viewport, acceptDownloads: true });
    violationLists.push(await watchContentSecurity(context));
    const page = await context.newPage();
    await page.goto(new URL(route, system!.reviewUrl).toString());
    await logInThroughPage(page, await system!.demoAccount('auditor'));
    await page.waitForSelector('#entries tbody tr .entry-check span');
    await page.waitForSelector('#heads tbody tr .head-check span');
    return page;
  }

  const checks = (page: Page, table: string) => page.locator(`${table} tbody tr .entry-check`).allTextContents();

  /** `session_replication_role = replica` switches off the triggers that refuse edits to anyone but a superuser. */
  async function asSuperuser(statement: string, values: unknown[] = []) {
    await superuser.query('set session_replication_role = replica');
    try {
      await superuser.query(statement, values);
    } finally {
      await superuser.query('set session_replication_role = origin');
    }
  }

  it('verifies every entry shown and every signed head in the browser, with the key and signatures in view', async () => {
    await waitFor('a signed head', async () => {
      const { rows } = await superuser.query<{ count: number }>('select count(*)::int as count from audit_checkpoints');
      return (rows[0]?.count ?? 0) > 0 ? true : undefined;
    });
    const page = await auditor();
    expect(new Set(await checks(page, '#entries'))).toEqual(new Set(['intact']));
    await expect.poll(() => page.locator('#heads-summary').textContent()).toMatch(/^All \d+ signed heads? shown verify in this browser/);
    expect(await page.locator('#key-check').textContent()).toBe('(matches the public key below)');
    const fingerprint = await page.locator('#key-fingerprint').textContent();
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    await page.getByText('Public key', { exact: true }).click();
    expect(await page.locator('#public-key').textContent()).toContain('-----BEGIN PUBLIC KEY-----');
    expect(await page.locator('#heads tbody tr').first().locator('td').nth(3).textContent()).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: path.join(screenshotDir, 'audit-page-1366.png'), fullPage: true });
    await page.context().close();
  });

  it('filters by part of the actor and by date range from the keyboard, and shows a capture’s chain of custody', async () => {
    const page = await auditor();
    // Part of the actor is enough: no need to know the `person:` prefix.
    await page.getByLabel('Actor').fill('auditor');
    await page.keyboard.press('Enter');
    await expect
      .poll(async () => new Set(await page.locator('#entries tbody tr td:nth-child(3)').allTextContents()))
      .toEqual(new Set(['person:auditor']));
    expect(await page.locator('#entries-summary').textContent()).toMatch(/checked in this browser against its hash: all intact/);

    // A range that ended before anything was recorded holds nothing.
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('#filter').getByLabel('Until').fill('2000-01-01T00:00:00');
    await page.locator('#filter').getByLabel('Until').press('Enter');
    await expect.poll(() => page.locator('#status').textContent()).toBe('no entries match');

    const captureId = await waitFor('a capture in the log', async () => {
      const found = await superuser.query<{ subject_id: string }>(
        "select subject_id from audit_log where subject_type = 'capture' order by seq limit 1",
      );
      return found.rows[0]?.subject_id;
    });
    await page.getByLabel('Capture or incident id').fill(captureId);
    await page.getByLabel('Capture or incident id').press('Enter');
    await expect.poll(() => page.locator('#custody tbody tr').count()).toBeGreaterThan(0);
    const subjects = await page.locator('#custody tbody tr td:nth-child(5)').allTextContents();
    expect(subjects.every((subject) => subject === `capture ${captureId}` || subject.startsWith('incident '))).toBe(true);
    expect(new URL(page.url()).searchParams.get('capture')).toBe(captureId);
    // The address carries the custody asked for, so it can be bookmarked or sent to a colleague.
    const again = await auditor(`/audit.html?capture=${captureId}`);
    await expect.poll(() => again.locator('#custody tbody tr').count()).toBe(subjects.length);
    await again.context().close();
    await page.context().close();
  });

  it('exports a range as a file the offline verifier checks', async () => {
    const page = await auditor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const file = path.join(dataDir.dir, download.suggestedFilename());
    await download.saveAs(file);
    await expect.poll(() => page.locator('#export-summary').textContent()).toMatch(/^Saved verity-audit-\d+-\d+\.json: entries \d+ to \d+/);
    const exported = JSON.parse(await readFile(file, 'utf8')) as AuditExport;
    expect(exported.entries.length).toBeGreaterThan(0);
    const out: string[] = [];
    const code = await runAuditCli(
      ['verify', '--export', file, '--public-key', path.join(dataDir.dir, 'keys', 'server-signing.pem')],
      {},
      { out: (line) => out.push(line), err: (line) => out.push(line), progress: { write: () => true } },
    );
    expect(out.join('\n')).toContain('Audit log intact');
    expect(code).toBe(0);
    await page.context().close();
  });

  it('shows an entry a superuser edited in the database as altered, and a signed head whose entry was rewritten', async () => {
    const { rows } = await superuser.query<{ seq: string }>('select seq from audit_checkpoints order by seq desc limit 1');
    const signedSeq = Number(rows[0]?.seq);
    const editedSeq = signedSeq - 1;
    await asSuperuser(`update audit_log set details = '{"note":"quietly changed"}' where seq = $1`, [editedSeq]);
    // A careful forger re-hashes the signed row too: its content then matches, but not the signed hash.
    await asSuperuser(`update audit_log set hash = repeat('ab', 32) where seq = $1`, [signedSeq]);
    const page = await auditor();
    await page.getByLabel('Text anywhere').fill('quietly changed');
    await page.keyboard.press('Enter');
    await expect.poll(() => checks(page, '#entries')).toEqual(['altered: its content no longer gives its hash']);
    expect(await page.locator('#entries-summary').getAttribute('class')).toBe('bad');
    const head = page.locator('#heads tbody tr', { has: page.locator(`td:first-child:text-is("${signedSeq}")`) });
    expect(await head.locator('.head-check').textContent()).toMatch(
      new RegExp(`^signature valid, but entry ${signedSeq} (was rewritten since|was altered)$`),
    );
    await expect.poll(() => page.locator('#heads-summary').textContent()).toMatch(/do not vouch for the log as it is now/);
    await page.screenshot({ path: path.join(screenshotDir, 'audit-page-tampered.png'), fullPage: true });
    await page.context().close();

    const phone = await auditor('/audit.html', { width: 390, height: 844 });
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await axeViolations(phone)).toEqual([]);
    await phone.screenshot({ path: path.join(screenshotDir, 'audit-page-390.png'), fullPage: true });
    await phone.context().close();
    expect(violationLists.flat()).toEqual([]);
  });
});
