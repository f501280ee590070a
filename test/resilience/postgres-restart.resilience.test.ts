import { eq } from 'drizzle-orm';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../core/infrastructure/embedded-redis.js';
import { publishCapture } from '../../device-simulator/device-protocol.js';
import { openDatabase, type Database } from '../../db/client.js';
import { captures } from '../../db/schema.js';
import { enrolTestDevice, type TestDevice } from '../support/devices.js';
import { createTempDir, uniqueName, waitFor } from '../support/isolated.js';
import { testServices } from '../support/services.js';
import { makeCaptures } from './support/captures.js';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './support/private-services.js';
import { health, spawnRole, waitForOutput, type RoleProcess } from './support/role-process.js';

/**
 * Test 4 of docs/reliability.md. Passing means: Postgres restarted in the middle of a burst
 * neither ends the gateway process nor loses or doubles a capture; the gateway's /health says
 * 503 while the database is away and 200 again once it is back, with no restart of ours.
 */
describe('Postgres restart mid-burst', () => {
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let database: Database;
  let media: Awaited<ReturnType<typeof createTempDir>>;
  let camera: TestDevice;
  let device: MqttClient;
  let gateway: RoleProcess | undefined;

  beforeAll(async () => {
    [postgres, redis, media] = await Promise.all([startPrivatePostgres(), startPrivateRedis(), createTempDir('pg-restart-media')]);
    const url = await postgres.createDatabase('verity_resilience');
    database = await openDatabase({ url, pgliteDir: '', poolSize: 3 });
    await database.migrate();
    camera = await enrolTestDevice(database.db);
    device = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('pg-device') });
  });

  afterAll(async () => {
    await gateway?.stop();
    await device?.endAsync();
    await database?.close();
    await Promise.all([postgres?.remove(), redis?.remove(), media?.remove()]);
  });

  it('keeps the gateway up, answers 503 while the database is away and recovers by itself', async () => {
    const topicRoot = `verity-test/${uniqueName('pgrestart')}/v1`;
    const healthPort = await freePort();
    gateway = spawnRole('ingest/main.ts', {
      DATABASE_URL: postgres.databaseUrl('verity_resilience'),
      DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
      REDIS_URL: redis.url,
      MQTT_URL: testServices.mqttUrl,
      MQTT_TOPIC_ROOT: topicRoot,
      MQTT_SHARED_GROUP: uniqueName('pg-group'),
      MQTT_CLIENT_ID: uniqueName('pg-gateway'),
      INGEST_CONNECTIONS: '4',
      MEDIA_DIR: media.dir,
      INGEST_HEALTH_PORT: String(healthPort),
    });
    await waitForOutput(gateway, 'ingest gateway started');
    expect((await health(healthPort))?.status).toBe(200);

    const batch = await makeCaptures(camera, 60);
    const ids = batch.map((capture) => capture.manifest.captureId);
    const stored = async () =>
      (
        await database.db
          .select({ id: captures.deviceCaptureId, state: captures.state })
          .from(captures)
          .where(eq(captures.deviceId, camera.id))
      ).filter((row) => row.id !== null && ids.includes(row.id));
    // Published in a steady stream, so the restart lands while the gateway holds connections in transactions.
    const publishing = (async () => {
      for (const capture of batch) await publishCapture(device, topicRoot, capture);
    })();
    await waitFor('a first part of the burst to be committed', async () => ((await stored()).length >= 10 ? true : undefined), 60_000);

    await postgres.stop('fast');
    const during = await waitFor('the gateway to report the outage', async () => {
      if (!gateway?.alive()) throw new Error(`the gateway process ended: ${gateway?.output().slice(-3000)}`);
      const answer = await health(healthPort);
      return answer?.status === 503 ? answer : undefined;
    });
    expect(during.body.failing).toContain('database');
    // Long enough for every connection the gateway held to fail and for its retries to back off.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(gateway.alive(), gateway.output()).toBe(true);
    await postgres.start();

    await waitFor(
      'the gateway to report healthy again',
      async () => ((await health(healthPort))?.status === 200 ? true : undefined),
      30_000,
    );
    await publishing;
    const rows = await waitFor(
      'every capture to be verified',
      async () => {
        const found = await stored();
        return found.length === ids.length && found.every((row) => row.state === 'verified') ? found : undefined;
      },
      90_000,
    );
    expect(new Set(rows.map((row) => row.id)).size).toBe(ids.length);
    expect(gateway.alive(), gateway.output()).toBe(true);
  });

  it('has the review server answer 503 with a sentence, not a 500 with the driver message, and recover', async () => {
    const port = await freePort();
    const adminToken = 'resilience-admin-token-0123456789';
    const review = spawnRole('review-ui/main.ts', {
      DATABASE_URL: postgres.databaseUrl('verity_resilience'),
      DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
      ADMIN_TOKEN: adminToken,
      REVIEW_PORT: String(port),
      MEDIA_DIR: media.dir,
      SIGNING_KEY_FILE: `${media.dir}/server-signing.pem`,
      GATEWAY_SIGNING_KEY_FILE: `${media.dir}/gateway-signing.pem`,
    });
    try {
      await waitForOutput(review, 'review server started');
      const get = async (url: string) => {
        const response = await fetch(`http://127.0.0.1:${port}${url}`, { headers: { authorization: `Bearer ${adminToken}` } });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      expect((await get('/api/ingest/reconciliation')).status).toBe(200);
      await postgres.stop('fast');
      // Every request while the database is away: the pooled connections die first, then new ones are refused.
      const answers = [];
      for (let attempt = 0; attempt < 5; attempt++) answers.push(await get('/api/ingest/reconciliation'));
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.body.error).toBe('the database is unreachable right now; try again in a moment');
      }
      expect((await health(port))?.status).toBe(503);
      await postgres.start();
      await waitFor('the review server to serve again', async () =>
        (await get('/api/ingest/reconciliation')).status === 200 ? true : undefined,
      );
      expect((await health(port))?.status).toBe(200);
      expect(review.alive(), review.output()).toBe(true);
    } finally {
      await review.stop();
    }
  });
});
