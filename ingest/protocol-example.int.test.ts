import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTIFICATION_KINDS } from '../core/domain/certification.js';
import { enrolmentSchema } from '../core/domain/device-registration.js';
import { FilesystemMediaStore, sha256Hex } from '../core/infrastructure/media-store.js';
import { MAX_CHUNK_BYTES, topics, type Acknowledgement, type Manifest } from '../core/domain/protocol.js';
import { signAcknowledgement } from '../core/domain/signed-ack.js';
import { listGatewayKeys } from '../db/gateway-keys.js';
import { captures, mediaChunks } from '../db/schema.js';
import { chunkMedia } from '../device-simulator/device-protocol.js';
import { renderScene } from '../device-simulator/scene.js';
import { addCertification, enrolDevice } from '../review-ui/devices/device-registry.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { openAck, testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { startIngestRole, type IngestRole } from './service.js';

/**
 * Runs docs/examples/publish-capture.sh, the openssl + mosquitto_pub worked example in
 * docs/protocol.md, exactly as a device maker would, against a real gateway and Mosquitto.
 */

const execFileAsync = promisify(execFile);
const log = pino({ level: 'silent' });
const DAY = 24 * 3600 * 1000;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const scriptPath = path.join(repoRoot, 'docs/examples/publish-capture.sh');
const verifyScriptPath = path.join(repoRoot, 'docs/examples/verify-ack.sh');
const protocolDocPath = path.join(repoRoot, 'docs/protocol.md');
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('the openssl + mosquitto_pub worked example in docs/protocol.md', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let workDir: Awaited<ReturnType<typeof createTempDir>>;
  let ingest: IngestRole;
  let listener: MqttClient;
  let privateKeyPath: string;
  const topicRoot = `verity-test/${uniqueName('example')}/v1`;
  const deviceId = uniqueName('dev').replaceAll('_', '-').slice(0, 60);
  const acks: Acknowledgement[] = [];
  const payloads = new Map<Acknowledgement, Buffer>();
  const gatewayKey = testGatewayKey();
  let frameSeed = 0;

  beforeAll(async () => {
    database = await createTestDatabase('example');
    redis = createTestRedis('example');
    mediaDir = await createTempDir('example-media');
    workDir = await createTempDir('example-device');
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
      completenessTimeoutMs: 5000,
    });

    // The key is made the way the document says, with openssl, and its public half enrolled as printed.
    privateKeyPath = path.join(workDir.dir, 'device-key.pem');
    await execFileAsync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', privateKeyPath]);
    const { stdout: publicKeyPem } = await execFileAsync('openssl', ['pkey', '-in', privateKeyPath, '-pubout']);
    const enrolment = enrolmentSchema.parse({
      kind: 'traffic_camera',
      model: 'Shell Cam',
      serial: deviceId,
      agency: 'Test Agency',
      publicKeyPem,
      road: 'Test Road',
      direction: 'northbound',
      latitude: 22.5,
      longitude: 114.05,
    });
    expect(await enrolDevice(database.db, 'test', deviceId, enrolment)).toBe('enrolled');
    for (const kind of CERTIFICATION_KINDS) {
      const certified = await addCertification(database.db, 'test', deviceId, {
        kind,
        reference: `T-${kind}`,
        validFrom: new Date(Date.now() - 30 * DAY).toISOString(),
        validTo: new Date(Date.now() + 30 * DAY).toISOString(),
      });
      expect(certified).toBeDefined();
    }

    listener = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('listener') });
    await listener.subscribeAsync(topics.ack(topicRoot, deviceId), { qos: 1 });
    listener.on('message', (topic, payload) => {
      const ack = openAck(topic, payload, gatewayKey) as Acknowledgement;
      acks.push(ack);
      payloads.set(ack, payload);
    });
  });

  afterAll(async () => {
    await listener?.endAsync();
    await ingest?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
    await workDir?.remove();
  });

  /** A fresh, real JPEG frame on disk: the first frame of each capture is large enough to need two chunks. */
  async function frameFile(width: number, height: number): Promise<{ path: string; bytes: Buffer }> {
    frameSeed += 1;
    const bytes = await renderScene({
      deviceId,
      capturedAt: new Date(),
      place: 'Test Road northbound',
      plate: `SH ${1000 + frameSeed}`,
      seed: frameSeed,
      width,
      height,
    });
    const file = path.join(workDir.dir, `frame-${frameSeed}.jpg`);
    await writeFile(file, bytes);
    return { path: file, bytes };
  }

  async function framePair() {
    const first = await frameFile(2560, 1440);
    const second = await frameFile(1280, 720);
    expect(chunkMedia(first.bytes).length).toBeGreaterThan(1);
    return [first, second] as const;
  }

  /** Runs the script unmodified, with nothing but environment variables, and returns the captureId it prints. */
  async function runExample(env: { FRAME1: string; FRAME2: string; MQTT_VERSION?: string }): Promise<string> {
    const broker = new URL(testServices.mqttUrl);
    const { stdout } = await execFileAsync('bash', [scriptPath], {
      cwd: workDir.dir,
      env: {
        ...process.env,
        BROKER_HOST: broker.hostname,
        BROKER_PORT: broker.port || '1883',
        TOPIC_ROOT: topicRoot,
        DEVICE_ID: deviceId,
        PRIVATE_KEY: privateKeyPath,
        ...env,
      },
    });
    const captureId = stdout.trim();
    expect(captureId).toMatch(uuidPattern);
    return captureId;
  }

  const settledCapture = (captureId: string) =>
    waitFor(`capture ${captureId} to leave 'received'`, async () => {
      const [row] = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, captureId));
      return row && row.state !== 'received' ? row : undefined;
    });

  const ackFor = (captureId: string) =>
    waitFor(`the acknowledgement of ${captureId}`, async () => acks.find((ack) => ack.captureId === captureId && ack.status !== 'pending'));

  it('publishes a capture over MQTT 3.1.1 that the gateway verifies', async () => {
    const [first, second] = await framePair();
    const captureId = await runExample({ FRAME1: first.path, FRAME2: second.path });

    const row = await settledCapture(captureId);
    expect(row.state).toBe('verified');
    expect(row.quarantineReasons).toBeNull();
    expect(row.deviceId).toBe(deviceId);
    const manifest = row.manifest as Manifest;
    expect(manifest.clockOffsetMs).toBe(0);
    expect(Math.abs(Date.parse(manifest.capturedAt) - Date.now())).toBeLessThan(30_000);
    expect(manifest.media.map((item) => [item.name, item.sha256, item.sizeBytes])).toEqual([
      ['frame-1.jpg', sha256Hex(first.bytes), first.bytes.length],
      ['frame-2.jpg', sha256Hex(second.bytes), second.bytes.length],
    ]);
    expect(new Set(manifest.media.map((item) => item.capturedAt)).size).toBe(2);
    // What was signed is exactly what was sent: one line of JSON, no trailing newline.
    const manifestBytes = Buffer.from((JSON.parse(row.rawMessage.toString()) as { manifest: string }).manifest, 'base64');
    expect(manifestBytes.toString()).not.toMatch(/\s$/);

    const ack = await ackFor(captureId);
    expect(ack.status).toBe('accepted');
    expect(ack.messageSha256).toBe(sha256Hex(row.rawMessage));
  });

  it('is verified when damaged copies of frame-1 were staged before the script sent its own: the last copy of a chunk wins', async () => {
    // Damage "in transit": before the script runs, flipped bytes are staged under the ORIGINAL
    // frame-1's hash. The script's correct chunks arrive later and replace them, and the signed
    // hash confirms the repaired file (a file never repaired is quarantined: chunk-repair.int.test.ts).
    const [first, second] = await framePair();
    const claimedSha256 = sha256Hex(first.bytes);
    const flipped = Buffer.from(first.bytes);
    flipped[999]! ^= 0xff;
    const flippedChunks = chunkMedia(flipped, MAX_CHUNK_BYTES);
    for (const [index, chunk] of flippedChunks.entries()) {
      await listener.publishAsync(topics.mediaChunk(topicRoot, deviceId, claimedSha256, index, flippedChunks.length), chunk, { qos: 1 });
    }
    await waitFor('the flipped chunks to be staged', async () => {
      const staged = await database.db.select().from(mediaChunks).where(eq(mediaChunks.sha256, claimedSha256));
      return staged.length === flippedChunks.length ? staged : undefined;
    });

    const captureId = await runExample({ FRAME1: first.path, FRAME2: second.path });
    const row = await settledCapture(captureId);
    expect({ state: row.state, reasons: row.quarantineReasons }).toEqual({ state: 'verified', reasons: null });
    expect((await ackFor(captureId)).status).toBe('accepted');
  });

  it('publishes a capture over MQTT 5 that the gateway verifies', async () => {
    const [first, second] = await framePair();
    const captureId = await runExample({ FRAME1: first.path, FRAME2: second.path, MQTT_VERSION: 'mqttv5' });
    const row = await settledCapture(captureId);
    expect(row.state).toBe('verified');
    expect((await ackFor(captureId)).status).toBe('accepted');
  });

  /** Runs verify-ack.sh unmodified on one payload; its exit code and what it printed. */
  async function verifyWithOpenssl(payload: Buffer, options: { deviceId?: string } = {}) {
    const ackFile = path.join(workDir.dir, 'ack.json');
    const gatewayPem = path.join(workDir.dir, 'gateway.pem');
    // The key as the gateway published it for the review server to serve, not the test's copy.
    const [published] = await listGatewayKeys(database.db);
    await writeFile(gatewayPem, published!.publicKeyPem);
    await writeFile(ackFile, payload);
    const env = { ...process.env, ACK_FILE: ackFile, GATEWAY_KEY: gatewayPem, DEVICE_ID: options.deviceId ?? deviceId };
    try {
      const { stdout } = await execFileAsync('bash', [verifyScriptPath], { cwd: workDir.dir, env });
      return { code: 0, stdout, stderr: '' };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  it('signs the answer, which verify-ack.sh verifies with openssl, and refuses forged or altered answers', async () => {
    const [first, second] = await framePair();
    const captureId = await runExample({ FRAME1: first.path, FRAME2: second.path });
    const ack = await ackFor(captureId);
    const genuine = payloads.get(ack)!;
    const verified = await verifyWithOpenssl(genuine);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toEqual(ack);
    expect(ack).toMatchObject({ status: 'accepted', deviceId, gatewayKey: gatewayKey.fingerprint });

    const { ack: ackBase64, signature } = JSON.parse(genuine.toString()) as { ack: string; signature: string };
    const altered = Buffer.from(ackBase64, 'base64');
    altered[altered.indexOf('accepted')]! ^= 0x01;
    const attacker = generateKeyPairSync('ed25519').privateKey;
    const forgeries = {
      'a plain v1 answer': Buffer.from(
        JSON.stringify({ about: 'capture', captureId, messageSha256: ack.messageSha256, status: 'accepted', reasons: [] }),
      ),
      'an altered answer': Buffer.from(JSON.stringify({ ack: altered.toString('base64'), signature })),
      'an answer signed by another key': signAcknowledgement(
        { about: 'capture', captureId, messageSha256: ack.messageSha256, status: 'accepted', reasons: [] },
        { deviceId, issuedAt: new Date() },
        { privateKey: attacker, fingerprint: gatewayKey.fingerprint },
      ),
    };
    for (const [what, forged] of Object.entries(forgeries)) {
      const refused = await verifyWithOpenssl(forged);
      expect({ what, code: refused.code, stdout: refused.stdout }).toEqual({ what, code: 1, stdout: '' });
      expect(refused.stderr).toMatch(/^refused: /);
    }
    const misdirected = await verifyWithOpenssl(genuine, { deviceId: 'CAM-0002' });
    expect([misdirected.code, misdirected.stderr.trim()]).toEqual([1, 'refused: not addressed to CAM-0002']);
  });

  it('shows in docs/protocol.md exactly the verify-ack.sh that these tests run', async () => {
    const [doc, script] = await Promise.all([readFile(protocolDocPath, 'utf8'), readFile(verifyScriptPath, 'utf8')]);
    const start = doc.indexOf('\n## Acknowledgements\n');
    expect(start).toBeGreaterThanOrEqual(0);
    const section = doc.slice(start, doc.indexOf('\n## ', start + 5));
    const shown = [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
    expect(shown).toEqual([script]);
  });

  it('shows in docs/protocol.md exactly the script that these tests run', async () => {
    const [doc, script] = await Promise.all([readFile(protocolDocPath, 'utf8'), readFile(scriptPath, 'utf8')]);
    const heading = '## Worked example: a capture with openssl and mosquitto_pub';
    const start = doc.indexOf(`\n${heading}\n`);
    expect(start).toBeGreaterThanOrEqual(0);
    const next = doc.indexOf('\n## ', start + heading.length);
    const section = doc.slice(start, next === -1 ? undefined : next);
    const blocks = [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
    const shown = blocks.filter((block) => block?.startsWith('#!/usr/bin/env bash\n'));
    expect(shown).toHaveLength(1);
    expect(shown[0]).toBe(script);
  });
});
