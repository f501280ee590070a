/**
 * Review keypress benchmark: the time from a reviewer pressing A (approve) to the next capture's
 * picture painted on screen, in headless Chromium against a real review server and Postgres.
 * See bench/README.md.
 *
 *   npx tsx bench/review-keypress.ts [--decisions N] [--mode warm|cold] [--think-ms MS] [--scenes S]
 *                                    [--quiet-wait S] [--no-derive] [--no-readme]
 *
 * warm: the page prefetches as it does for reviewers (the next capture claimed, fetched and decoded
 * while the current one is looked at). cold: the same page with prefetching off (?prefetch=off), so
 * every decision waits for the next claim, its details and its pictures.
 */
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { and, count, eq } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { captures, reviewDecisions } from '../db/schema.js';
import { createPerson } from '../review-ui/people/people.js';
import { launchBrowser, logInThroughPage } from '../test/support/browser.js';
import { enrolTestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { buildTestReviewServer } from '../test/support/review-server.js';
import { CLOCK_TICKS_PER_SECOND, cpuBetween, snapshotCpu, waitForQuiet, type CpuSnapshot } from './cpu-accounting.js';
import { machineDescription, percentile } from './run-model.js';
import { updateReviewReadme, type ReviewResult } from './review-report.js';
import { scenePool, seedCaptures } from './review-seed.js';

const MODES = ['warm', 'cold'] as const;
type Mode = (typeof MODES)[number];
/** The page ignores a decision key pressed sooner than 300 ms after a capture appears. */
const MIN_THINK_MS = 350;
/** No healthy keypress takes this long; one that does fails the run. */
const KEYPRESS_TIMEOUT_MS = 30_000;
const REVIEWER = { username: 'bench-reviewer', password: 'bench reviewer password' };

function readArguments() {
  const { values } = parseArgs({
    options: {
      decisions: { type: 'string', default: '100' },
      mode: { type: 'string', multiple: true },
      'think-ms': { type: 'string', default: '1000' },
      'quiet-wait': { type: 'string', default: '120' },
      scenes: { type: 'string', default: '8' },
      'no-derive': { type: 'boolean', default: false },
      'no-readme': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npx tsx bench/review-keypress.ts [--decisions N] [--mode warm|cold] [--think-ms MS] [--scenes S] [--quiet-wait S]\n' +
        '                                     [--no-derive] [--no-readme]',
    );
    process.exit(0);
  }
  const integer = (name: string, value: string, min: number) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) throw new Error(`--${name} must be an integer ≥ ${min}, not ${value}`);
    return parsed;
  };
  const modes = (values.mode ?? [...MODES]).flatMap((value) => value.split(',')).map((value) => value.trim());
  for (const mode of modes) if (!(MODES as readonly string[]).includes(mode)) throw new Error(`--mode must be warm or cold, not ${mode}`);
  return {
    decisions: integer('decisions', values.decisions, 1),
    modes: [...new Set(modes)] as Mode[],
    thinkMs: integer('think-ms', values['think-ms'], MIN_THINK_MS),
    quietWaitMs: integer('quiet-wait', values['quiet-wait'], 0) * 1000,
    scenes: integer('scenes', values.scenes, 1),
    derive: !values['no-derive'],
    readme: !values['no-readme'],
  };
}

const entries = (page: Page, name: string) =>
  page.evaluate<number[]>(`performance.getEntriesByName(${JSON.stringify(name)}).map((entry) => entry.duration)`);

/** Presses A `decisions` times, each after the reviewer has looked for `thinkMs`, and reads the page's own timings. */
async function pressThrough(page: Page, mode: Mode, decisions: number, thinkMs: number): Promise<{ total: number[]; decision: number[] }> {
  await page.locator('#capture-pane[data-capture-id]').waitFor({ timeout: KEYPRESS_TIMEOUT_MS });
  for (let index = 0; index < decisions; index++) {
    await page.waitForTimeout(thinkMs);
    if (mode === 'warm') {
      // A reviewer who looked this long finds the next capture ready; the bench makes sure of it rather than assume it.
      await page.waitForFunction(`['ready', 'none'].includes(document.getElementById('capture-pane').dataset.upcoming)`, undefined, {
        timeout: KEYPRESS_TIMEOUT_MS,
      });
    }
    await page.keyboard.press('a');
    await page.waitForFunction(`performance.getEntriesByName('review:key-to-next').length > ${index}`, undefined, {
      timeout: KEYPRESS_TIMEOUT_MS,
      polling: 5,
    });
  }
  return { total: await entries(page, 'review:key-to-next'), decision: await entries(page, 'review:decision') };
}

/** Cores used by processes named chromium between two snapshots: the page under test, and any other Chromium on the machine. */
function chromiumCores(before: CpuSnapshot, after: CpuSnapshot): number {
  let ticks = 0;
  for (const [pid, { name, ticks: now }] of after.processes) {
    if (name.startsWith('chrom')) ticks += now - (before.processes.get(pid)?.ticks ?? 0);
  }
  return ticks / CLOCK_TICKS_PER_SECOND / ((after.at - before.at) / 1000);
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
  };
}

async function main(): Promise<void> {
  const options = readArguments();
  const command = `npx tsx bench/review-keypress.ts ${process.argv.slice(2).join(' ')}`.trim();
  const database = await createTestDatabase('bench_review');
  const mediaDir = await createTempDir('bench-review-media');
  const store = new FilesystemMediaStore(mediaDir.dir);
  const app = await buildTestReviewServer({ db: database.db, store });
  const browser = await launchBrowser();
  const results: ReviewResult[] = [];
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createPerson(database.db, 'bench', {
      ...REVIEWER,
      displayName: 'Bench Reviewer',
      roles: ['reviewer'],
      certificate: { number: 'ENF-BENCH', expiresAt: new Date(Date.now() + 365 * 24 * 3600_000).toISOString() },
    });
    if (!created.ok) throw new Error(created.error);

    console.error(`rendering ${options.scenes} road scenes…`);
    const pool = await scenePool(options.scenes);
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await page.goto(new URL('/review.html', baseUrl).toString());
    await logInThroughPage(page, REVIEWER);

    for (const mode of options.modes) {
      const device = await enrolTestDevice(database.db);
      // One more than the decisions: the last decision must have a next capture to show.
      console.error(`${mode}: seeding ${options.decisions + 1} captures${options.derive ? ' and deriving their review copies' : ''}…`);
      const ids = await seedCaptures(database, store, device, {
        count: options.decisions + 1,
        frames: pool.frames,
        derive: options.derive,
      });
      await page.goto(new URL(`/review.html?deviceId=${device.id}${mode === 'cold' ? '&prefetch=off' : ''}`, baseUrl).toString());
      await waitForQuiet(options.quietWaitMs);
      console.error(`${mode}: ${options.decisions} decisions…`);
      const before = await snapshotCpu();
      const timings = await pressThrough(page, mode, options.decisions, options.thinkMs);
      const after = await snapshotCpu();
      const cpu = cpuBetween(before, after, undefined);
      const chromium = before && after ? chromiumCores(before, after) : 0;
      const [approved] = await database.db
        .select({ decisions: count() })
        .from(reviewDecisions)
        .innerJoin(captures, eq(captures.id, reviewDecisions.captureId))
        .where(and(eq(captures.deviceId, device.id), eq(reviewDecisions.outcome, 'approved')));
      if (approved?.decisions !== options.decisions || timings.total.length !== options.decisions) {
        throw new Error(
          `${mode}: expected ${options.decisions} decisions, the database holds ${approved?.decisions}, the page timed ${timings.total.length}`,
        );
      }
      if (ids.length !== options.decisions + 1) throw new Error('seeding lost captures');
      results.push({
        mode,
        decisions: options.decisions,
        frameKb: Math.round(pool.meanBytes / 1000),
        reviewCopies: options.derive,
        thinkMs: options.thinkMs,
        total: summary(timings.total),
        decision: summary(timings.decision),
        cpu: cpu && {
          server: cpu.loadGenerator,
          postgres: cpu.postgres,
          chromium,
          other: Math.max(0, cpu.other - chromium),
          machine: cpu.machine,
        },
        date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
        machine: `${machineDescription()}, Chromium headless`,
        command,
      });
    }
  } finally {
    await browser.close();
    await app.close();
    await database.drop();
    await mediaDir.remove();
  }
  console.log(`machine: ${machineDescription()}, ${os.platform()} ${os.release()}`);
  console.table(
    results.map((result) => ({
      mode: result.mode,
      decisions: result.decisions,
      'p50 ms': result.total.p50.toFixed(1),
      'p95 ms': result.total.p95.toFixed(1),
      'max ms': result.total.max.toFixed(1),
      'mean ms': result.total.mean.toFixed(1),
      'decision p50 ms': result.decision.p50.toFixed(1),
    })),
  );
  if (options.readme) await updateReviewReadme(results);
}

await main();
