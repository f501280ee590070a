import { and, eq, inArray, sql } from 'drizzle-orm';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../core/infrastructure/embedded-redis.js';
import { publishCapture } from '../../device-simulator/device-protocol.js';
import { auditLog, captureMedia, captures, mediaQuality } from '../../db/schema.js';
import { enrolTestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase, uniqueName, waitFor } from '../support/isolated.js';
import { testServices } from '../support/services.js';
import { makeCaptures } from './support/captures.js';
import { startPrivateRedis, type PrivateRedis } from './support/private-services.js';
import { health, spawnRole, waitForOutput, type RoleProcess } from './support/role-process.js';

const STUCK_AFTER_MS = 5000;
const RECONCILE_EVERY_MS = 1000;

/**
 * Test 3 of docs/reliability.md. Passing means: with the gateway and workers running, a
 * FLUSHALL (and, separately, a restart of a Redis without persistence) in the middle of a
 * burst strands no capture: every one reaches review with its media measured and derived,
 * within the configured stuck time plus a reconciliation pass and the work itself, with no
 * process restarted; each re-sent job is audited and the workers' job schedules come back.
 */
describe('Redis loses its jobs while workers run', () => {
  let redis: PrivateRedis;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let media: Awaited<ReturnType<typeof createTempDir>>;
  let device: MqttClient;
  let gateway: RoleProcess;
  let workers: RoleProcess;
  let workersHealth: number;
  const topicRoot = `verity-test/${uniqueName('redisloss')}/v1`;

  beforeAll(async () => {
    [redis, database, media] = await Promise.all([startPrivateRedis(), createTestDatabase('redisloss'), createTempDir('redisloss-media')]);
    workersHealth = await freePort();
    const common = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'verity',
      MEDIA_DIR: media.dir,
      SIGNING_KEY_FILE: `${media.dir}/server-signing.pem`,
      GATEWAY_SIGNING_KEY_FILE: `${media.dir}/gateway-signing.pem`,
    };
    gateway = spawnRole('ingest/main.ts', {
      ...common,
      MQTT_URL: testServices.mqttUrl,
      MQTT_TOPIC_ROOT: topicRoot,
      MQTT_CLIENT_ID: uniqueName('redisloss-gateway'),
      INGEST_HEALTH_PORT: String(await freePort()),
    });
    workers = spawnRole('workers/main.ts', {
      ...common,
      WORKER_CONCURRENCY: '1',
      JOB_STUCK_AFTER_MS: String(STUCK_AFTER_MS),
      JOB_RECONCILE_INTERVAL_MS: String(RECONCILE_EVERY_MS),
      WORKERS_HEALTH_PORT: String(workersHealth),
    });
    await Promise.all([waitForOutput(gateway, 'ingest gateway started'), waitForOutput(workers, 'workers started')]);
    device = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('redisloss-device') });
  });

  afterAll(async () => {
    await device?.endAsync();
    await Promise.all([gateway?.stop(), workers?.stop()]);
    await Promise.all([redis?.remove(), database?.drop(), media?.remove()]);
  });

  /** Captures of these ids in review with every medium measured, out of all of them. */
  async function inReview(ids: string[]): Promise<number> {
    const rows = await database.db
      .select({
        id: captures.id,
        state: captures.state,
        unmeasured: sql<number>`count(*) filter (where ${mediaQuality.sha256} is null)::int`,
      })
      .from(captures)
      .innerJoin(captureMedia, eq(captureMedia.captureId, captures.id))
      .leftJoin(mediaQuality, eq(mediaQuality.sha256, captureMedia.mediaSha256))
      .where(inArray(captures.deviceCaptureId, ids))
      .groupBy(captures.id, captures.state);
    return rows.filter((row) => row.state === 'awaiting_review' && Number(row.unmeasured) === 0).length;
  }

  async function requeuedFor(ids: string[]): Promise<number> {
    const rows = await database.db
      .select({ count: sql<number>`count(*)::int` })
      .from(auditLog)
      .innerJoin(captures, sql`${captures.id}::text = ${auditLog.subjectId}`)
      .where(and(eq(auditLog.action, 'capture.job_requeued'), inArray(captures.deviceCaptureId, ids)));
    return Number(rows[0]?.count ?? 0);
  }

  /** Publishes a burst, breaks Redis once a few captures reached review, and waits for every one to reach review. */
  async function burstThrough(breakRedis: () => Promise<void>) {
    const camera = await enrolTestDevice(database.db);
    const batch = await makeCaptures(camera, 30);
    const ids = batch.map((capture) => capture.manifest.captureId);
    const publishing = Promise.all(batch.map((capture) => publishCapture(device, topicRoot, capture)));
    await waitFor('a few captures to reach review', async () => ((await inReview(ids)) >= 3 ? true : undefined), 60_000);
    const reviewedBefore = await inReview(ids);
    await breakRedis();
    const brokeAt = Date.now();
    await publishing;
    await waitFor('every capture to reach review', async () => ((await inReview(ids)) === ids.length ? true : undefined), 120_000);
    return { ids, reviewedBefore, healedInMs: Date.now() - brokeAt };
  }

  it('strands nothing after a FLUSHALL: every capture reaches review, without a restart', async () => {
    const outcome = await burstThrough(async () => {
      await redis.admin.flushall();
    });
    console.log(`FLUSHALL with ${outcome.reviewedBefore}/30 in review: all 30 in review ${outcome.healedInMs} ms later`);
    expect(outcome.reviewedBefore).toBeLessThan(outcome.ids.length);
    expect(await requeuedFor(outcome.ids)).toBeGreaterThan(0);
    // The flush took the workers' schedules too; the reconciler put them back.
    const schedulers = await redis.admin.keys('verity:*:repeat*');
    expect(schedulers.length).toBeGreaterThan(0);
    expect(gateway.alive() && workers.alive()).toBe(true);
    await waitFor('the workers to report ok again', async () => ((await health(workersHealth))?.body.status === 'ok' ? true : undefined));
  });

  it('strands nothing after a restart of a Redis without persistence', async () => {
    const outcome = await burstThrough(async () => {
      await redis.stop();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await redis.start();
    });
    console.log(`Redis restart with ${outcome.reviewedBefore}/30 in review: all 30 in review ${outcome.healedInMs} ms later`);
    expect(outcome.reviewedBefore).toBeLessThan(outcome.ids.length);
    expect(gateway.alive() && workers.alive()).toBe(true);
    await waitFor('the workers to report ok again', async () => ((await health(workersHealth))?.body.status === 'ok' ? true : undefined));
  });
});
