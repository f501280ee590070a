import { generateKeyPairSync } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTIFICATION_KINDS } from '../core/domain/certification.js';
import { topics, type Acknowledgement } from '../core/domain/protocol.js';
import { signAcknowledgement } from '../core/domain/signed-ack.js';
import { FilesystemMediaStore, sha256Hex } from '../core/infrastructure/media-store.js';
import { publicKeyFingerprint } from '../core/infrastructure/signing-key.js';
import { startIngestRole, type IngestRole } from '../ingest/service.js';
import { addCertification, enrolDevice } from '../review-ui/devices/device-registry.js';
import { openAck, testGatewayKey } from '../test/support/acks.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { testServices } from '../test/support/services.js';
import { loadFleet, type SimulatedDevice } from './fleet.js';
import { runFleet } from './runner.js';

const log = pino({ level: 'silent' });
const DAY = 24 * 3600 * 1000;

/**
 * Issue 13: a third client on the broker published `{"status":"accepted",…}` on a device's acks
 * topic and the device took it for the gateway's answer, so it could delete a capture the
 * gateway never received. The reference device must refuse every such ack and keep resending.
 */
describe('a forged acknowledgement on a simulated device acks topic', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let keysDir: Awaited<ReturnType<typeof createTempDir>>;
  let device: SimulatedDevice;
  let forger: MqttClient;
  let ingest: IngestRole | undefined;
  const fleets: Awaited<ReturnType<typeof runFleet>>[] = [];
  const topicRoot = `verity-test/${uniqueName('forged')}/v1`;

  /** A simulated camera under an id of its own, so no other run's simulator shares its MQTT client id. */
  async function simulatedDevice(): Promise<SimulatedDevice> {
    const [simulated] = await loadFleet(1, keysDir.dir);
    const id = uniqueName('sim').replaceAll('_', '-').slice(0, 60);
    return { ...simulated!, id, enrolment: { ...simulated!.enrolment, serial: `SC-${id}` } };
  }
  const gatewayKey = testGatewayKey();
  const sent: { captureId: string; payload: Buffer }[] = [];
  const genuine: Acknowledgement[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('forged');
    redis = createTestRedis('forged');
    mediaDir = await createTempDir('forged-media');
    keysDir = await createTempDir('forged-keys');
    device = await simulatedDevice();
    expect(await enrolDevice(database.db, 'test', device.id, device.enrolment)).toBe('enrolled');
    for (const kind of CERTIFICATION_KINDS) {
      await addCertification(database.db, 'test', device.id, {
        kind,
        reference: `T-${kind}`,
        validFrom: new Date(Date.now() - 30 * DAY).toISOString(),
        validTo: new Date(Date.now() + 30 * DAY).toISOString(),
      });
    }
    forger = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('forger') });
    await forger.subscribeAsync([topics.capture(topicRoot, device.id), topics.ack(topicRoot, device.id)], { qos: 1 });
    forger.on('message', (topic, payload) => {
      if (topic === topics.capture(topicRoot, device.id)) {
        const { manifest } = JSON.parse(payload.toString()) as { manifest: string };
        const { captureId } = JSON.parse(Buffer.from(manifest, 'base64').toString()) as { captureId: string };
        sent.push({ captureId, payload });
      } else if (ingest) {
        genuine.push(openAck(topic, payload, gatewayKey) as Acknowledgement);
      }
    });
  });

  afterAll(async () => {
    for (const fleet of fleets) await fleet.stop();
    await forger?.endAsync();
    await ingest?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
    await keysDir?.remove();
  });

  it('refuses forged and misdirected acks, keeps resending the capture, and takes the gateway signed answer', async () => {
    const fleet = await runFleet([device], {
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      intervalMs: 3600_000,
      heartbeatEveryMs: 3600_000,
      faultEveryMs: 0,
      resendAfterMs: 1000,
      gatewayKeys: [gatewayKey],
      log,
    });
    fleets.push(fleet);
    // No gateway runs yet: whatever answer the device gets now, the gateway did not give.
    const [first] = await waitFor('the capture on the broker', async () => (sent.length > 0 ? sent : undefined));
    const outcome: Acknowledgement = {
      about: 'capture',
      captureId: first!.captureId,
      messageSha256: sha256Hex(first!.payload),
      status: 'accepted',
      reasons: [],
    };
    const attackerKey = generateKeyPairSync('ed25519').privateKey;
    const forgeries = [
      // What issue 13's attacker sent: the plain v1 form.
      Buffer.from(JSON.stringify(outcome)),
      // The v2 form, naming the real gateway key but signed with the attacker's own.
      signAcknowledgement(
        outcome,
        { deviceId: device.id, issuedAt: new Date() },
        { privateKey: attackerKey, fingerprint: gatewayKey.fingerprint },
      ),
      // A genuine gateway ack, addressed to another device and copied onto this one's topic.
      signAcknowledgement(outcome, { deviceId: 'SIM-CAM-9999', issuedAt: new Date() }, gatewayKey),
    ];
    for (const forged of forgeries) await forger.publishAsync(topics.ack(topicRoot, device.id), forged, { qos: 1 });

    await waitFor('the device to refuse all three', async () => (fleet.refusedAcks() === forgeries.length ? true : undefined));
    expect(fleet.unanswered()).toBe(1);
    const resentAfter = sent.length;
    await waitFor('the capture to be sent again', async () =>
      sent.slice(resentAfter).some((message) => message.captureId === first!.captureId) ? true : undefined,
    );

    ingest = await startIngestRole({
      gatewayKey,
      database,
      store: new FilesystemMediaStore(mediaDir.dir),
      redis: redis.redis,
      queuePrefix: redis.prefix,
      log,
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      sharedGroup: undefined,
      clientId: uniqueName('gateway'),
    });
    const answer = await waitFor('the gateway signed acceptance', async () =>
      genuine.find((ack) => ack.captureId === first!.captureId && ack.status === 'accepted'),
    );
    expect(answer).toMatchObject({ protocol: 'verity/2', deviceId: device.id, gatewayKey: publicKeyFingerprint(gatewayKey.publicKeyPem) });
    await waitFor('the device to forget the capture', async () => (fleet.unanswered() === 0 ? true : undefined));
    expect(fleet.refusedAcks()).toBe(forgeries.length);
  });

  it('fetches the key list again for an ack signed with a rotated gateway key, but not for every forgery', async () => {
    const rotatedRoot = `verity-test/${uniqueName('rotated')}/v1`;
    const camera = await simulatedDevice();
    const rotated = testGatewayKey();
    let refreshes = 0;
    const captured: Buffer[] = [];
    const watcher = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('watcher') });
    try {
      await watcher.subscribeAsync(topics.capture(rotatedRoot, camera.id), { qos: 1 });
      watcher.on('message', (_topic, payload) => captured.push(payload));
      const fleet = await runFleet([camera], {
        mqttUrl: testServices.mqttUrl,
        topicRoot: rotatedRoot,
        intervalMs: 3600_000,
        heartbeatEveryMs: 3600_000,
        faultEveryMs: 0,
        resendAfterMs: 1000,
        gatewayKeys: [gatewayKey],
        refreshGatewayKeys: () => {
          refreshes++;
          return Promise.resolve([rotated, gatewayKey]);
        },
        log,
      });
      fleets.push(fleet);
      const [envelope] = await waitFor('the capture on the broker', async () => (captured.length > 0 ? captured : undefined));
      const { manifest } = JSON.parse(envelope!.toString()) as { manifest: string };
      const { captureId } = JSON.parse(Buffer.from(manifest, 'base64').toString()) as { captureId: string };
      const outcome: Acknowledgement = {
        about: 'capture',
        captureId,
        messageSha256: sha256Hex(envelope!),
        status: 'accepted',
        reasons: [],
      };
      const to = { deviceId: camera.id, issuedAt: new Date() };

      await watcher.publishAsync(topics.ack(rotatedRoot, camera.id), signAcknowledgement(outcome, to, rotated), { qos: 1 });
      await waitFor('the device to accept the answer signed with the new key', async () => (fleet.unanswered() === 0 ? true : undefined));
      expect(refreshes).toBe(1);

      const attacker = { privateKey: generateKeyPairSync('ed25519').privateKey, fingerprint: 'f'.repeat(64) };
      for (const fingerprint of ['e'.repeat(64), 'f'.repeat(64)]) {
        await watcher.publishAsync(topics.ack(rotatedRoot, camera.id), signAcknowledgement(outcome, to, { ...attacker, fingerprint }), {
          qos: 1,
        });
      }
      await waitFor('the device to refuse both forgeries', async () => (fleet.refusedAcks() === 2 ? true : undefined));
      expect(refreshes).toBe(1);
    } finally {
      await watcher.endAsync();
    }
  });
});
