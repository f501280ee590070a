import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  logIn,
  openSession,
  startAllInOne,
  waitForThumbnailedCapture,
  type AllInOneProcess,
  type HttpSession,
} from './support/all-in-one-process.js';
import { createTempDir, waitFor } from './support/isolated.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('all-in-one mode on its embedded defaults', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;

  beforeAll(async () => {
    dataDir = await createTempDir('all-in-one');
    // Malfunctions every second: their minutes-long waits must not hold up Ctrl-C.
    system = await startAllInOne({
      DATA_DIR: dataDir.dir,
      SIMULATOR_DEVICES: '2',
      SIMULATOR_INTERVAL_MS: '1500',
      SIMULATOR_FAULT_EVERY_MS: '1000',
    });
  });

  afterAll(async () => {
    await system?.kill();
    await dataDir?.remove();
  });

  it('starts with no DATABASE_URL, MQTT_URL or REDIS_URL, shows simulated captures with thumbnails, and stops cleanly', async () => {
    const { reviewUrl } = system!;
    const health = await fetch(new URL('/health', reviewUrl));
    expect(health.status).toBe(200);

    // The demo logins it printed work, and nothing is listed without one.
    const reviewer = await system!.demoAccount('reviewer1');
    expect(system!.output()).toContain(reviewer.password);
    expect((await fetch(new URL('/api/captures', reviewUrl))).status).toBe(401);
    const list = await waitForThumbnailedCapture(reviewUrl, await logIn(reviewUrl, reviewer));
    expect(list.captures[0]?.deviceId).toMatch(/^SIM-CAM-/);
    // One /metrics for the one process: every role's series beside the server's own.
    const metrics = await (await fetch(new URL('/metrics', reviewUrl))).text();
    const value = (series: string) =>
      Number(
        metrics
          .split('\n')
          .find((line) => line.startsWith(`${series} `))
          ?.split(' ')[1],
      );
    expect(value('verity_ingest_accepted_total')).toBeGreaterThan(0);
    // Each capture message timed by how it ended; a scrape can fall between a message's count and its timing.
    const timed = value('verity_ingest_latency_seconds_count{outcome="accepted"}');
    expect(timed).toBeGreaterThan(0);
    expect(timed).toBeLessThanOrEqual(value('verity_ingest_capture_messages_total'));
    expect(value('verity_ingest_latency_seconds_sum{outcome="accepted"}') / timed).toBeLessThan(5);
    expect(metrics).toMatch(/^verity_queue_jobs\{queue="media",state="completed"\} [1-9]\d*$/m);
    // The queues are counted once although ingest and workers both enqueue.
    expect(metrics.match(/^# TYPE verity_queue_jobs gauge$/gm)).toHaveLength(1);
    expect(value('verity_job_duration_seconds_count{queue="media",job="derive-thumbnails",outcome="completed"}')).toBeGreaterThan(0);
    expect(metrics).toMatch(/^# TYPE verity_job_failures_total counter$/m);
    // Every lifecycle state, zero or not, read from the database at the scrape.
    const byState = [...metrics.matchAll(/^verity_captures\{state="(\w+)"\} (\d+)$/gm)];
    expect(byState).toHaveLength(9);
    expect(byState.reduce((sum, [, , count]) => sum + Number(count), 0)).toBeGreaterThan(0);
    expect(value('verity_captures_stranded{need="media"}')).toBe(0);
    expect(value('verity_captures_stranded_oldest_age_seconds{need="screening"}')).toBe(0);
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    const redisPid = Number(/redis-server \(pid (\d+)\)/.exec(system!.output())?.[1]);
    expect(isRunning(redisPid)).toBe(true);
    // The private broker speaks MQTT 5, which the embedded one refused.
    const mosquittoPid = Number(/private mosquitto \(pid (\d+), MQTT 5 and 3\.1\.1\)/.exec(system!.output())?.[1]);
    expect(isRunning(mosquittoPid)).toBe(true);

    // A fault's 90-second wait still holding up shutdown would outlast this test's timeout.
    expect(await system!.interrupt()).toBe(0);
    await waitFor('the embedded redis-server to exit', async () => (isRunning(redisPid) ? undefined : true), 5000);
    await waitFor('the private mosquitto to exit', async () => (isRunning(mosquittoPid) ? undefined : true), 5000);
  });

  it('takes its redis-server and mosquitto down with it even when killed outright', async () => {
    const killedDir = await createTempDir('all-in-one-killed');
    const killed = await startAllInOne({ DATA_DIR: killedDir.dir, SIMULATOR_DEVICES: '0' });
    try {
      const redisPid = Number(/redis-server \(pid (\d+)\)/.exec(killed.output())?.[1]);
      const mosquittoPid = Number(/mosquitto \(pid (\d+)/.exec(killed.output())?.[1]);
      expect(isRunning(redisPid)).toBe(true);
      expect(isRunning(mosquittoPid)).toBe(true);
      killed.child.kill('SIGKILL');
      await waitFor('the orphaned redis-server to exit', async () => (isRunning(redisPid) ? undefined : true), 5000);
      await waitFor('the orphaned mosquitto to exit', async () => (isRunning(mosquittoPid) ? undefined : true), 5000);
    } finally {
      await killed.kill();
      await killedDir.remove();
    }
  });
});

interface NextCapture {
  claim: { captureId: string };
  detail: { capture: { id: string; twoPersonRule: boolean } };
}

describe('all-in-one mode: the main job, decided over HTTP as the demo reviewers', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;

  beforeAll(async () => {
    dataDir = await createTempDir('all-in-one-decisions');
    // Many devices and a short interval, so captures needing one and two approvals both arrive soon.
    system = await startAllInOne({ DATA_DIR: dataDir.dir, SIMULATOR_DEVICES: '3', SIMULATOR_INTERVAL_MS: '700' });
  });

  afterAll(async () => {
    await system?.kill();
    await dataDir?.remove();
  });

  it(
    'approves, rejects with a reason and takes a two-person approval, each answered within seconds, on PGlite',
    { timeout: 150_000 },
    async () => {
      const { reviewUrl } = system!;
      const first = await openSession(reviewUrl, await system!.demoAccount('reviewer1'));
      const second = await openSession(reviewUrl, await system!.demoAccount('reviewer2'));
      await waitForThumbnailedCapture(reviewUrl, first.cookie);

      const done = { approved: false, rejected: false, twoPerson: false };
      const claimNext = async (who: HttpSession, skip: string[]) => {
        const next = await callApi(reviewUrl, who, 'POST', '/api/review/next', { skip });
        return next.status === 200 ? (next.json as NextCapture) : undefined;
      };
      const skipped: string[] = [];
      // Errors are not retried: a decision that hangs or fails ends the test at once with its cause.
      const deadline = Date.now() + 60_000;
      while (!(done.approved && done.rejected && done.twoPerson)) {
        if (Date.now() > deadline) throw new Error(`no capture for every kind of decision within 60 s: ${JSON.stringify(done)}`);
        const next = await claimNext(first, skipped.slice(-20));
        if (!next) {
          await sleep(500);
          continue;
        }
        const id = next.detail.capture.id;
        const decision = (body: unknown, who = first) => callApi(reviewUrl, who, 'POST', `/api/review/captures/${id}/decision`, body);
        if (next.detail.capture.twoPersonRule && !done.twoPerson) {
          const firstStep = await decision({ outcome: 'approved' });
          expect(firstStep).toMatchObject({ status: 200, json: { state: 'awaiting_second_review', step: 'first' } });
          expect((await callApi(reviewUrl, second, 'POST', `/api/review/captures/${id}/claim`)).status).toBe(200);
          const secondStep = await decision({ outcome: 'approved' }, second);
          expect(secondStep).toMatchObject({ status: 200, json: { state: 'approved', step: 'second' } });
          expect((secondStep.json as { incidentId: unknown }).incidentId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
          done.twoPerson = true;
        } else if (!next.detail.capture.twoPersonRule && !done.approved) {
          expect(await decision({ outcome: 'approved' })).toMatchObject({ status: 200, json: { state: 'approved' } });
          done.approved = true;
        } else if (!done.rejected) {
          const rejected = await decision({ outcome: 'rejected', reasonCode: 'unclear_record', note: 'plate not legible' });
          expect(rejected).toMatchObject({ status: 200, json: { state: 'rejected' } });
          done.rejected = true;
        } else {
          expect((await callApi(reviewUrl, first, 'DELETE', `/api/review/captures/${id}/claim`)).status).toBe(204);
          skipped.push(id);
        }
      }
      const health = await fetch(new URL('/health', reviewUrl), { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      // The decisions just taken, on the one /metrics: two first approvals, one second, one rejection, each timed.
      const metrics = await (await fetch(new URL('/metrics', reviewUrl), { signal: AbortSignal.timeout(5000) })).text();
      const value = (series: string) =>
        Number(
          metrics
            .split('\n')
            .find((line) => line.startsWith(`${series} `))
            ?.split(' ')[1] ?? 0,
        );
      for (const [labels, count] of [
        ['outcome="approved",step="first"', 2],
        ['outcome="approved",step="second"', 1],
        ['outcome="rejected",step="first"', 1],
      ] as const) {
        expect(value(`verity_review_decisions_total{${labels}}`)).toBe(count);
        expect(value(`verity_review_latency_seconds_count{${labels}}`)).toBe(count);
        // Simulated captures are seconds old when decided.
        expect(value(`verity_review_latency_seconds_sum{${labels}}`)).toBeGreaterThan(0);
        expect(value(`verity_review_latency_seconds_sum{${labels}}`) / count).toBeLessThan(300);
      }
    },
  );
});
