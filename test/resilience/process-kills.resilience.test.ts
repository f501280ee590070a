import { and, eq, inArray, sql } from 'drizzle-orm';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../core/infrastructure/embedded-redis.js';
import { publishCapture } from '../../device-simulator/device-protocol.js';
import { captureMedia, captures, mediaQuality } from '../../db/schema.js';
import { enrolTestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase, uniqueName, waitFor } from '../support/isolated.js';
import { makeCaptures } from './support/captures.js';
import { startPrivateMosquitto, startPrivateRedis, type PrivateMosquitto, type PrivateRedis } from './support/private-services.js';
import { spawnRole, waitForOutput, type RoleProcess } from './support/role-process.js';

/**
 * Tests 2 and 5 of docs/reliability.md, on a Mosquitto and a Redis of the suite's own.
 * Passing means: workers killed with SIGKILL in the middle of their jobs, and a broker
 * restarted (persistence on) in the middle of a burst, lose no capture and store none twice;
 * every capture still reaches review with its media derived.
 */
describe('killed workers and a restarted broker', () => {
  let broker: PrivateMosquitto;
  let redis: PrivateRedis;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let media: Awaited<ReturnType<typeof createTempDir>>;
  let device: MqttClient;
  let gateway: RoleProcess;
  let workers: RoleProcess;
  const topicRoot = `verity-test/${uniqueName('kills')}/v1`;
  let common: Record<string, string>;

  const startWorkers = async () => {
    const role = spawnRole('workers/main.ts', {
      ...common,
      WORKER_CONCURRENCY: '1',
      JOB_STUCK_AFTER_MS: '5000',
      JOB_RECONCILE_INTERVAL_MS: '1000',
      WORKERS_HEALTH_PORT: String(await freePort()),
    });
    await waitForOutput(role, 'workers started');
    return role;
  };

  beforeAll(async () => {
    [broker, redis, database, media] = await Promise.all([
      startPrivateMosquitto(),
      startPrivateRedis(),
      createTestDatabase('kills'),
      createTempDir('kills-media'),
    ]);
    common = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      MEDIA_DIR: media.dir,
      SIGNING_KEY_FILE: `${media.dir}/server-signing.pem`,
      GATEWAY_SIGNING_KEY_FILE: `${media.dir}/gateway-signing.pem`,
    };
    gateway = spawnRole('ingest/main.ts', {
      ...common,
      MQTT_URL: broker.url,
      MQTT_TOPIC_ROOT: topicRoot,
      MQTT_CLIENT_ID: uniqueName('kills-gateway'),
      INGEST_HEALTH_PORT: String(await freePort()),
    });
    await waitForOutput(gateway, 'ingest gateway started');
    workers = await startWorkers();
    // A persistent session, as devices keep one: what the broker had not acknowledged is resent after a reconnect.
    device = await mqtt.connectAsync(broker.url, { clientId: uniqueName('kills-device'), clean: false, reconnectPeriod: 500 });
  });

  afterAll(async () => {
    device?.end(true);
    await Promise.all([gateway?.stop(), workers?.stop()]);
    await Promise.all([broker?.remove(), redis?.remove(), database?.drop(), media?.remove()]);
  });

  async function settled(ids: string[]) {
    const rows = await database.db
      .select({
        deviceCaptureId: captures.deviceCaptureId,
        state: captures.state,
        unmeasured: sql<number>`count(*) filter (where ${mediaQuality.sha256} is null)::int`,
      })
      .from(captures)
      .innerJoin(captureMedia, eq(captureMedia.captureId, captures.id))
      .leftJoin(mediaQuality, eq(mediaQuality.sha256, captureMedia.mediaSha256))
      .where(and(inArray(captures.deviceCaptureId, ids)))
      .groupBy(captures.id, captures.deviceCaptureId, captures.state);
    return { rows: rows.length, inReview: rows.filter((row) => row.state === 'awaiting_review' && Number(row.unmeasured) === 0).length };
  }

  it('loses nothing when the workers are killed with SIGKILL mid-job', async () => {
    const camera = await enrolTestDevice(database.db);
    const batch = await makeCaptures(camera, 20);
    const ids = batch.map((capture) => capture.manifest.captureId);
    await Promise.all(batch.map((capture) => publishCapture(device, topicRoot, capture)));
    await waitFor('a first capture to reach review', async () => ((await settled(ids)).inReview >= 1 ? true : undefined), 60_000);
    workers.child.kill('SIGKILL');
    await workers.exited;
    expect((await settled(ids)).inReview).toBeLessThan(ids.length);
    workers = await startWorkers();
    await waitFor('every capture to reach review', async () => ((await settled(ids)).inReview === ids.length ? true : undefined), 120_000);
    expect((await settled(ids)).rows).toBe(ids.length);
  });

  it('loses nothing when the broker restarts mid-burst', async () => {
    const camera = await enrolTestDevice(database.db);
    const batch = await makeCaptures(camera, 30);
    const ids = batch.map((capture) => capture.manifest.captureId);
    const publishing = (async () => {
      for (const capture of batch) await publishCapture(device, topicRoot, capture);
    })();
    await waitFor('a first part to be stored', async () => ((await settled(ids)).rows >= 5 ? true : undefined), 60_000);
    await broker.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await broker.start();
    await publishing;
    await waitFor('every capture to reach review', async () => ((await settled(ids)).inReview === ids.length ? true : undefined), 120_000);
    expect((await settled(ids)).rows).toBe(ids.length);
    expect(gateway.alive() && workers.alive()).toBe(true);
  });
});
