import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { eq } from 'drizzle-orm';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { captures } from '../../db/schema.js';
import { buildManifest, signManifest, type MediaFile, type SignedCapture } from '../../device-simulator/device-protocol.js';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { startIngestRole, type IngestRole } from '../../ingest/service.js';
import { testGatewayKey } from './acks.js';
import { testMedia, type TestDevice } from './devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName } from './isolated.js';
import { testServices } from './services.js';

/** An in-process gateway on the shared services, with its own database, queue prefix and topic root. */
export interface TestGateway {
  database: Awaited<ReturnType<typeof createTestDatabase>>;
  store: FilesystemMediaStore;
  mediaDir: string;
  ingest: IngestRole;
  /** The key its acknowledgements are signed with; open them with acks.ts's openAck. */
  gatewayKey: ServerSigningKey;
  topicRoot: string;
  /** Opens another broker client: a device, or anyone else on the broker. */
  connect(label: string): Promise<MqttClient>;
  stop(): Promise<void>;
}

export async function startTestGateway(label: string, options: { completenessTimeoutMs?: number } = {}): Promise<TestGateway> {
  const database = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const mediaDir = await createTempDir(`${label}-media`);
  const store = new FilesystemMediaStore(mediaDir.dir);
  const topicRoot = `verity-test/${uniqueName(label)}/v1`;
  const gatewayKey = testGatewayKey();
  const ingest = await startIngestRole({
    gatewayKey,
    database,
    store,
    redis: redis.redis,
    queuePrefix: redis.prefix,
    log: pino({ level: 'silent' }),
    mqttUrl: testServices.mqttUrl,
    topicRoot,
    sharedGroup: undefined,
    clientId: uniqueName(`${label}-gw`),
    ...options,
  });
  const clients: MqttClient[] = [];
  return {
    database,
    store,
    mediaDir: mediaDir.dir,
    ingest,
    gatewayKey,
    topicRoot,
    connect: async (name) => {
      const client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName(name) });
      clients.push(client);
      return client;
    },
    stop: async () => {
      await Promise.all(clients.map((client) => client.endAsync()));
      await ingest.stop();
      await redis.cleanup();
      await database.drop();
      await mediaDir.remove();
    },
  };
}

/** A signed speeding capture of `device` with two evidence-sized frames, not yet published. */
export async function signedCapture(
  device: TestDevice,
  options: { capturedAt?: Date; media?: MediaFile[]; clockOffsetMs?: number } = {},
): Promise<SignedCapture> {
  const capturedAt = options.capturedAt ?? new Date();
  const media = options.media ?? (await testMedia(capturedAt));
  const manifest = buildManifest({
    deviceId: device.id,
    capturedAt,
    clockOffsetMs: options.clockOffsetMs ?? 4,
    location: { latitude: 22.5, longitude: 114.05 },
    violationType: 'speeding',
    readings: { speedKmh: 72, limitKmh: 60 },
    media,
  });
  return signManifest(manifest, device.privateKey, media);
}

/** Every capture row holding this device capture id. */
export function rowsOfCapture(gateway: TestGateway, deviceCaptureId: string) {
  return gateway.database.db.select().from(captures).where(eq(captures.deviceCaptureId, deviceCaptureId));
}
