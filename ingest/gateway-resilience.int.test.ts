import { spawn, type ChildProcess } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import type { Acknowledgement } from '../core/domain/protocol.js';
import { buildManifest, publishCapture, signManifest, type SignedCapture } from '../device-simulator/device-protocol.js';
import { captures, outbox } from '../db/schema.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { openAck, testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { reconcile } from '../review-ui/review/capture-listing.js';
import { startIngestRole, type IngestRole } from './service.js';

const log = pino({ level: 'silent' });

async function makeCaptures(device: TestDevice, count: number): Promise<SignedCapture[]> {
  const made: SignedCapture[] = [];
  for (let index = 0; index < count; index++) {
    const capturedAt = new Date();
    const media = await testMedia(capturedAt);
    const manifest = buildManifest({
      deviceId: device.id,
      capturedAt,
      clockOffsetMs: 3,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 80 + index, limitKmh: 60 },
      media,
    });
    made.push(signManifest(manifest, device.privateKey, media));
  }
  return made;
}

describe('gateway resilience against the real broker', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let device: MqttClient;
  let camera: TestDevice;
  const spawned: ChildProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('resilience');
    redis = createTestRedis('resilience');
    mediaDir = await createTempDir('resilience-media');
    camera = await enrolTestDevice(database.db);
    device = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('device') });
  });

  afterAll(async () => {
    // A test that failed or timed out midway must not leave a gateway process running.
    for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await device?.endAsync();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  const countByState = async (deviceCaptureIds: string[]) => {
    const rows = await database.db
      .select({ id: captures.deviceCaptureId, state: captures.state })
      .from(captures)
      .where(eq(captures.deviceId, camera.id));
    return rows.filter((row) => row.id !== null && deviceCaptureIds.includes(row.id));
  };

  it('loses nothing and stores nothing twice when the gateway is killed with SIGKILL mid-ingest', async () => {
    const topicRoot = `verity-test/${uniqueName('crash')}/v1`;
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: database.url,
      REDIS_URL: testServices.redisUrl,
      QUEUE_PREFIX: redis.prefix,
      MQTT_URL: testServices.mqttUrl,
      MQTT_TOPIC_ROOT: topicRoot,
      MQTT_CLIENT_ID: uniqueName('crash-gateway'),
      MEDIA_DIR: mediaDir.dir,
      GATEWAY_SIGNING_KEY_FILE: path.join(mediaDir.dir, 'gateway-signing.pem'),
      INGEST_HEALTH_PORT: '0',
      LOG_LEVEL: 'info',
    };
    const startGateway = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      spawned.push(child);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitFor('the gateway to subscribe', async () => {
        if (child.exitCode !== null) throw new Error(`gateway exited: ${output}`);
        return output.includes('ingest gateway started') ? true : undefined;
      });
      return child;
    };

    const batch = await makeCaptures(camera, 24);
    const ids = batch.map((capture) => capture.manifest.captureId);
    let gateway = await startGateway();
    const publishing = Promise.all(batch.map((capture) => publishCapture(device, topicRoot, capture)));
    await waitFor('a few captures to be committed', async () => ((await countByState(ids)).length >= 3 ? true : undefined));
    gateway.kill('SIGKILL');
    await once(gateway, 'exit');
    const committedBeforeRestart = (await countByState(ids)).length;
    expect(committedBeforeRestart).toBeLessThan(ids.length);
    await publishing;

    gateway = await startGateway();
    try {
      const settled = await waitFor(
        'every capture to be verified after the restart',
        async () => {
          const rows = await countByState(ids);
          return rows.length === ids.length && rows.every((row) => row.state === 'verified') ? rows : undefined;
        },
        60_000,
      );
      expect(new Set(settled.map((row) => row.id)).size).toBe(ids.length);
      // Every verified capture queued its thumbnail and screening jobs through the outbox, lost in-flight ones included.
      await waitFor('the outbox to drain', async () => {
        const [left] = await database.db
          .select({ count: sql<number>`count(*)::int` })
          .from(outbox)
          .where(sql`${outbox.dispatchedAt} IS NULL`);
        return left?.count === 0 ? true : undefined;
      });
      const [jobs] = await database.db.select({ count: sql<number>`count(*)::int` }).from(outbox);
      expect(jobs?.count).toBe(2 * ids.length);
    } finally {
      gateway.kill('SIGTERM');
      await once(gateway, 'exit');
    }
  });

  it('splits captures between two gateways on a shared subscription, each stored once', async () => {
    const topicRoot = `verity-test/${uniqueName('shared')}/v1`;
    const sharedGroup = uniqueName('group');
    const store = new FilesystemMediaStore(mediaDir.dir);
    const gateways: IngestRole[] = [];
    // Each gateway signs with its own key, as separate containers would; a device knows both.
    const keys = [testGatewayKey(), testGatewayKey()];
    for (const [index, name] of ['a', 'b'].entries()) {
      gateways.push(
        await startIngestRole({
          gatewayKey: keys[index]!,
          database,
          store,
          redis: redis.redis,
          queuePrefix: redis.prefix,
          mqttUrl: testServices.mqttUrl,
          topicRoot,
          sharedGroup,
          clientId: uniqueName(`shared-${name}`),
          connections: 2,
          log,
        }),
      );
    }
    const finalAcks = new Map<string, number>();
    const listener = mqtt.connect(testServices.mqttUrl, { clientId: uniqueName('ack-listener') });
    await once(listener as unknown as EventEmitter, 'connect');
    await listener.subscribeAsync(`${topicRoot}/devices/+/acks`, { qos: 1 });
    listener.on('message', (topic, payload) => {
      const ack = openAck(topic, payload, keys) as Acknowledgement;
      if (ack.status !== 'pending' && ack.captureId) finalAcks.set(ack.captureId, (finalAcks.get(ack.captureId) ?? 0) + 1);
    });
    try {
      const batch = await makeCaptures(camera, 20);
      const ids = batch.map((capture) => capture.manifest.captureId);
      await Promise.all(batch.map((capture) => publishCapture(device, topicRoot, capture)));
      const rows = await waitFor('all shared captures to be verified', async () => {
        const found = await countByState(ids);
        return found.length === ids.length && found.every((row) => row.state === 'verified') ? found : undefined;
      });
      expect(rows).toHaveLength(20);
      const [first, second] = gateways.map((gateway) => gateway.gateway.counters);
      expect(first!.captureMessages + second!.captureMessages).toBe(20);
      expect(first!.captureMessages).toBeGreaterThan(0);
      expect(second!.captureMessages).toBeGreaterThan(0);
      expect(first!.duplicates + second!.duplicates).toBe(0);
      const tally = await reconcile(database.db, 300_000);
      expect([tally.inFlight, tally.quarantined, tally.stagedChunks]).toEqual([0, 0, 0]);
      // Past a sweep of received captures: a completion raced by two paths must answer once.
      await sleep(6000);
      expect(ids.map((id) => finalAcks.get(id))).toEqual(ids.map(() => 1));
    } finally {
      await listener.endAsync();
      await Promise.all(gateways.map((gateway) => gateway.stop()));
    }
  });
});
