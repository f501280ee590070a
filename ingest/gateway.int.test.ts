import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { FilesystemMediaStore, sha256Hex } from '../core/infrastructure/media-store.js';
import { topics, type Acknowledgement, type Manifest } from '../core/domain/protocol.js';
import { buildManifest, chunkMedia, publishCapture, signManifest, type MediaFile } from '../device-simulator/device-protocol.js';
import { auditLog, captures, devices, mediaChunks, mediaDerivatives } from '../db/schema.js';
import { enrolTestDevice, testJpeg, testMedia, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { openAck, testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { buildHealthServer } from '../core/infrastructure/health.js';
import { createMetricsRegistry } from '../core/infrastructure/metrics.js';
import { startWorkersRole } from '../workers/service.js';
import { startIngestRole, type IngestRole } from './service.js';

const log = pino({ level: 'silent' });
/** Workers run in this suite, so an accepted capture may already have been screened into review. */
const PASSED_GATEWAY = /^(verified|awaiting_review)$/;

describe('ingest gateway against Postgres, Redis and Mosquitto', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let ingest: IngestRole;
  let workers: Awaited<ReturnType<typeof startWorkersRole>>;
  let device: MqttClient;
  let camera: TestDevice;
  const topicRoot = `verity-test/${uniqueName('gw')}/v1`;
  const acks: Acknowledgement[] = [];
  const gatewayKey = testGatewayKey();
  const gatewayRegistry = createMetricsRegistry();
  const workersRegistry = createMetricsRegistry();

  beforeAll(async () => {
    database = await createTestDatabase('gateway');
    redis = createTestRedis('gateway');
    mediaDir = await createTempDir('media');
    const store = new FilesystemMediaStore(mediaDir.dir);
    const common = { database, store, redis: redis.redis, queuePrefix: redis.prefix, log };
    ingest = await startIngestRole({
      ...common,
      gatewayKey,
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      sharedGroup: undefined,
      clientId: uniqueName('gateway'),
      completenessTimeoutMs: 1500,
      metrics: gatewayRegistry,
    });
    workers = await startWorkersRole({ ...common, concurrency: 2, metrics: workersRegistry });
    camera = await enrolTestDevice(database.db);
    device = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('device') });
    await device.subscribeAsync(`${topicRoot}/devices/+/acks`, { qos: 1 });
    device.on('message', (topic, payload) => acks.push(openAck(topic, payload, gatewayKey) as Acknowledgement));
  });

  afterAll(async () => {
    await device?.endAsync();
    await ingest?.stop();
    await workers?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  interface DraftOptions {
    deviceId?: string;
    signWith?: TestDevice['privateKey'];
    capturedAt?: Date;
    clockOffsetMs?: number;
    violationType?: string;
    readings?: Manifest['readings'];
    media?: MediaFile[];
    /** Changes the manifest before it is signed, e.g. to misstate a size. */
    editManifest?: (manifest: Manifest) => void;
    /** Changes the media after signing, as an attacker on the wire would. */
    tamper?: (media: MediaFile[]) => MediaFile[];
  }

  /** A capture signed as a device would sign it, not yet published. */
  async function sign(options: DraftOptions = {}) {
    const capturedAt = options.capturedAt ?? new Date();
    const media = options.media ?? (await testMedia(capturedAt));
    const manifest = buildManifest({
      deviceId: options.deviceId ?? camera.id,
      capturedAt,
      clockOffsetMs: options.clockOffsetMs ?? 5,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: options.violationType ?? 'speeding',
      readings: options.readings ?? { speedKmh: 92, limitKmh: 60 },
      media,
    });
    options.editManifest?.(manifest);
    return signManifest(manifest, options.signWith ?? camera.privateKey, options.tamper ? options.tamper(media) : media);
  }

  async function send(options: DraftOptions = {}) {
    const signed = await sign(options);
    await publishCapture(device, topicRoot, signed);
    return signed;
  }

  const captureByDeviceId = (captureId: string) => async () => {
    const [row] = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, captureId));
    return row && row.state !== 'received' ? row : undefined;
  };

  it('verifies a signed, certified capture, stores its media, audits it and derives thumbnails', async () => {
    const signed = await send();
    const row = await waitFor('the capture to be verified', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toMatch(PASSED_GATEWAY);
    expect(row.quarantineReasons).toBeNull();
    const store = new FilesystemMediaStore(mediaDir.dir);
    for (const item of signed.manifest.media) {
      expect(sha256Hex(await store.get(item.sha256))).toBe(item.sha256);
    }
    const thumbnails = await waitFor('both thumbnails', async () => {
      const rows = await database.db.select().from(mediaDerivatives).where(eq(mediaDerivatives.kind, 'thumbnail'));
      const mine = rows.filter((derivative) => signed.manifest.media.some((item) => item.sha256 === derivative.sourceSha256));
      return mine.length === 2 ? mine : undefined;
    });
    expect(new Set(thumbnails.map((thumbnail) => thumbnail.sourceSha256)).size).toBe(2);
    const audit = await database.db.select().from(auditLog).where(eq(auditLog.subjectId, row.id));
    // Screening may already have sent it on to review; receipt and verification come first, in order.
    expect(audit.map((entry) => entry.action).slice(0, 2)).toEqual(['capture.received', 'capture.verified']);
    const ack = await waitFor('an acknowledgement', async () =>
      acks.find((candidate) => candidate.captureId === signed.manifest.captureId),
    );
    expect(ack.status).toBe('accepted');
  });

  it('quarantines a capture with a forged signature', async () => {
    const forger = generateKeyPairSync('ed25519').privateKey;
    const signed = await send({ signWith: forger });
    const row = await waitFor('the forged capture', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toBe('quarantined');
    expect(row.quarantineReasons?.map((reason) => reason.code)).toEqual(['signature_invalid']);
  });

  it('quarantines a capture whose media does not match its signed hash', async () => {
    const signed = await send({
      tamper: (media) =>
        media.map((file, index) => {
          if (index !== 0) return file;
          const bytes = Buffer.from(file.bytes);
          bytes[bytes.length - 10]! ^= 0xff;
          return { ...file, bytes };
        }),
    });
    const row = await waitFor('the tampered capture', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toBe('quarantined');
    expect(row.quarantineReasons?.map((reason) => reason.code)).toEqual(['media_hash_mismatch']);
    expect(row.quarantineReasons?.[0]?.detail).toContain('frame-1.jpg');
  });

  it('quarantines a capture from a device that is not registered', async () => {
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const signed = await send({ deviceId: 'NOT-REGISTERED-1', signWith: stranger });
    const row = await waitFor('the unknown device capture', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toBe('quarantined');
    expect(row.deviceId).toBe('NOT-REGISTERED-1');
    expect(row.quarantineReasons?.map((reason) => reason.code)).toEqual(['device_unknown']);
  });

  it('quarantines a capture taken after the device certification expired', async () => {
    const day = 24 * 3600 * 1000;
    const lapsed = await enrolTestDevice(database.db, {
      certifiedFrom: new Date(Date.now() - 400 * day),
      certifiedTo: new Date(Date.now() - day),
    });
    const signed = await send({ deviceId: lapsed.id, signWith: lapsed.privateKey });
    const row = await waitFor('the uncertified capture', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toBe('quarantined');
    expect(row.quarantineReasons?.map((reason) => reason.code)).toEqual(['not_certified_at_capture']);
    expect(row.quarantineReasons?.[0]?.detail).toContain('metrological_verification expired');
  });

  it('accepts a capture taken while certified even though the certification has expired since', async () => {
    const day = 24 * 3600 * 1000;
    const lapsed = await enrolTestDevice(database.db, {
      certifiedFrom: new Date(Date.now() - 400 * day),
      certifiedTo: new Date(Date.now() - day),
    });
    const signed = await send({ deviceId: lapsed.id, signWith: lapsed.privateKey, capturedAt: new Date(Date.now() - 2 * day) });
    const row = await waitFor('the capture taken while certified', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toMatch(PASSED_GATEWAY);
  });

  it('stores a capture published twice only once', async () => {
    const signed = await send();
    await waitFor('the first copy', captureByDeviceId(signed.manifest.captureId));
    await publishCapture(device, topicRoot, signed);
    await waitFor('the duplicate to be processed', async () => (ingest.gateway.counters.duplicates > 0 ? true : undefined));
    const rows = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, signed.manifest.captureId));
    expect(rows).toHaveLength(1);
  });

  it('quarantines a capture whose media never arrives, once the completeness window passes', async () => {
    const signed = await sign();
    await device.publishAsync(topics.capture(topicRoot, camera.id), signed.envelope, { qos: 1 });
    const row = await waitFor('the incomplete capture', captureByDeviceId(signed.manifest.captureId));
    expect(row.state).toBe('quarantined');
    expect(row.quarantineReasons?.map((reason) => reason.code)).toEqual(['media_incomplete']);
  });

  it('keeps a message that is not a valid envelope in quarantine with its bytes', async () => {
    const garbage = Buffer.from(`not json ${randomUUID()}`);
    await device.publishAsync(topics.capture(topicRoot, camera.id), garbage, { qos: 1 });
    const row = await waitFor('the malformed message', async () => {
      const [found] = await database.db
        .select()
        .from(captures)
        .where(eq(captures.messageSha256, sha256Hex(garbage)));
      return found;
    });
    expect(row.state).toBe('quarantined');
    expect(row.quarantineReasons?.[0]?.code).toBe('message_malformed');
    expect(Buffer.compare(row.rawMessage, garbage)).toBe(0);
  });

  const codesOf = (row: { quarantineReasons: { code: string }[] | null }) => row.quarantineReasons?.map((item) => item.code);

  it('quarantines a capture from a device whose clock was more than 1.0 s off', async () => {
    const signed = await send({ clockOffsetMs: 1500 });
    const row = await waitFor('the clock-skewed capture', captureByDeviceId(signed.manifest.captureId));
    expect(codesOf(row)).toEqual(['clock_offset_exceeded']);
  });

  it('quarantines a capture dated in the future, and one older than the accepted window', async () => {
    const future = await send({ capturedAt: new Date(Date.now() + 60_000) });
    const stale = await send({ capturedAt: new Date(Date.now() - 6 * 24 * 3600 * 1000) });
    expect(codesOf(await waitFor('the future capture', captureByDeviceId(future.manifest.captureId)))).toEqual(['captured_in_future']);
    expect(codesOf(await waitFor('the stale capture', captureByDeviceId(stale.manifest.captureId)))).toEqual(['captured_outside_window']);
  });

  it('quarantines a moving violation without two clear images at different times', async () => {
    const capturedAt = new Date();
    const small = await send({
      media: [
        { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg(640, 360) },
        { name: 'frame-2.jpg', contentType: 'image/jpeg', capturedAt: new Date(capturedAt.getTime() + 500), bytes: await testJpeg() },
      ],
    });
    const single = await send({ media: [{ name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg() }] });
    const smallRow = await waitFor('the capture with a small frame', captureByDeviceId(small.manifest.captureId));
    expect(smallRow.quarantineReasons?.map((item) => item.detail)).toEqual([
      'frame-1.jpg is 640×360, below 1280×720',
      'speeding needs two clear images taken at different times, or one image and a video',
    ]);
    expect(codesOf(await waitFor('the single-frame capture', captureByDeviceId(single.manifest.captureId)))).toEqual([
      'evidence_insufficient',
    ]);
  });

  it('accepts a stationary violation only with frames at least 10 s apart', async () => {
    const capturedAt = new Date(Date.now() - 20_000);
    const frames = async (gapMs: number): Promise<MediaFile[]> => [
      { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg() },
      { name: 'frame-2.jpg', contentType: 'image/jpeg', capturedAt: new Date(capturedAt.getTime() + gapMs), bytes: await testJpeg() },
    ];
    const parking = { violationType: 'illegal_parking', readings: { plate: 'B·12345' }, capturedAt };
    const tooClose = await send({ ...parking, media: await frames(3000) });
    const apart = await send({ ...parking, media: await frames(12_000) });
    expect(codesOf(await waitFor('the close frames', captureByDeviceId(tooClose.manifest.captureId)))).toEqual(['evidence_insufficient']);
    expect((await waitFor('the frames apart', captureByDeviceId(apart.manifest.captureId))).state).toMatch(PASSED_GATEWAY);
  });

  it('quarantines readings the violation type does not name, saying which, and lists them with the other reasons', async () => {
    const misnamed = await send({ readings: { speed_kmh: 92, limitKmh: 60 } });
    const unknownType = await send({ violationType: 'jaywalking', readings: {} });
    const capturedAt = new Date();
    const alsoOneFrame = await send({
      readings: { speedKmh: -3, limitKmh: 60 },
      media: [{ name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg() }],
    });
    const row = await waitFor('the capture with a misnamed reading', captureByDeviceId(misnamed.manifest.captureId));
    expect(row.state).toBe('quarantined');
    expect(row.quarantineReasons).toEqual([
      {
        code: 'readings_invalid',
        detail: 'speeding: unknown reading speed_kmh; missing required reading speedKmh (number in km/h, 0–1000)',
      },
    ]);
    const ack = await waitFor('the acknowledgement', async () =>
      acks.find((candidate) => candidate.captureId === misnamed.manifest.captureId),
    );
    expect(ack).toMatchObject({ status: 'quarantined', reasons: row.quarantineReasons });
    const unknown = await waitFor('the capture of an unknown violation type', captureByDeviceId(unknownType.manifest.captureId));
    expect(unknown.quarantineReasons?.map((item) => item.detail)).toEqual([
      expect.stringMatching(/^jaywalking: no reading schema for violation type jaywalking; known types: speeding, red_light, /),
    ]);
    expect(codesOf(await waitFor('the capture failing readings and media', captureByDeviceId(alsoOneFrame.manifest.captureId)))).toEqual([
      'readings_invalid',
      'evidence_insufficient',
    ]);
  });

  it('quarantines a violation type from a kind of device that does not report it', async () => {
    const noiseSensor = await enrolTestDevice(database.db, { kind: 'noise_sensor' });
    const speeding = await send({ deviceId: noiseSensor.id, signWith: noiseSensor.privateKey });
    const noise = await send({
      deviceId: noiseSensor.id,
      signWith: noiseSensor.privateKey,
      violationType: 'noise_limit',
      readings: { noiseDb: 81.5, limitDb: 70 },
    });
    expect(
      (await waitFor('the speeding capture of a noise sensor', captureByDeviceId(speeding.manifest.captureId))).quarantineReasons,
    ).toEqual([
      { code: 'readings_invalid', detail: 'speeding: a noise_sensor does not report speeding (reported by traffic_camera, speed_radar)' },
    ]);
    expect((await waitFor('the noise capture', captureByDeviceId(noise.manifest.captureId))).state).toMatch(PASSED_GATEWAY);
  });

  it('lists every reason when several checks fail at once', async () => {
    const day = 24 * 3600 * 1000;
    const lapsed = await enrolTestDevice(database.db, {
      certifiedFrom: new Date(Date.now() - 400 * day),
      certifiedTo: new Date(Date.now() - day),
    });
    const capturedAt = new Date();
    const signed = await send({
      deviceId: lapsed.id,
      signWith: lapsed.privateKey,
      clockOffsetMs: -2500,
      media: [{ name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg(800, 600) }],
    });
    const row = await waitFor('the capture failing several checks', captureByDeviceId(signed.manifest.captureId));
    expect(codesOf(row)).toEqual(['clock_offset_exceeded', 'not_certified_at_capture', 'evidence_insufficient', 'evidence_insufficient']);
  });

  it("ignores chunks another client stages under a device's file hash", async () => {
    const capturedAt = new Date();
    const media = await testMedia(capturedAt);
    const target = sha256Hex(media[0]!.bytes);
    const forged = Buffer.from(media[0]!.bytes);
    forged[2000]! ^= 0xff;
    await device.publishAsync(topics.mediaChunk(topicRoot, 'INTRUDER-1', target, 0, 1), forged, { qos: 1 });
    await waitFor('the intruder chunk to be staged', async () => {
      const rows = await database.db.select().from(mediaChunks).where(eq(mediaChunks.sha256, target));
      return rows.length > 0 ? true : undefined;
    });
    const signed = await send({ capturedAt, media });
    expect((await waitFor('the genuine capture', captureByDeviceId(signed.manifest.captureId))).state).toMatch(PASSED_GATEWAY);
  });

  it('assembles a 50 MB video sent in shuffled, duplicated chunks', async () => {
    const capturedAt = new Date();
    const video = randomBytes(50 * 1024 * 1024);
    const media: MediaFile[] = [
      { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg() },
      { name: 'clip.mp4', contentType: 'video/mp4', capturedAt, bytes: video },
    ];
    const signed = await sign({ capturedAt, media });
    const { manifest } = signed;
    const chunkMessages = media.flatMap((file, fileIndex) => {
      const chunks = chunkMedia(file.bytes);
      return chunks.map((chunk, index) => ({
        topic: topics.mediaChunk(topicRoot, camera.id, manifest.media[fileIndex]!.sha256, index, chunks.length),
        chunk,
      }));
    });
    const shuffled = [...chunkMessages, ...chunkMessages.filter((_, index) => index % 7 === 0)].sort(() => Math.random() - 0.5);
    // The envelope goes last: this suite's completeness window (1.5 s) is shorter than the upload.
    for (const message of shuffled) await device.publishAsync(message.topic, message.chunk, { qos: 1 });
    await device.publishAsync(topics.capture(topicRoot, camera.id), signed.envelope, { qos: 1 });
    const row = await waitFor('the video capture', captureByDeviceId(manifest.captureId), 60_000);
    expect(row.state).toMatch(PASSED_GATEWAY);
    const store = new FilesystemMediaStore(mediaDir.dir);
    expect(sha256Hex(await store.get(manifest.media[1]!.sha256))).toBe(sha256Hex(video));
  });

  it('quarantines with the remaining reason codes: schema, device standing, mismatch, size and replay', async () => {
    const badSchema = Buffer.from(
      JSON.stringify({ manifest: Buffer.from('{"protocol":"verity/9"}').toString('base64'), signature: 'AAAA' }),
    );
    await device.publishAsync(topics.capture(topicRoot, camera.id), badSchema, { qos: 1 });

    const disabled = await enrolTestDevice(database.db);
    await database.db.update(devices).set({ status: 'disabled' }).where(eq(devices.id, disabled.id));
    const revoked = await enrolTestDevice(database.db);
    await database.db.update(devices).set({ status: 'revoked' }).where(eq(devices.id, revoked.id));
    const fromDisabled = await send({ deviceId: disabled.id, signWith: disabled.privateKey });
    const fromRevoked = await send({ deviceId: revoked.id, signWith: revoked.privateKey });

    const wrongSize = (
      await send({
        editManifest: (manifest) => {
          manifest.media[1]!.sizeBytes += 1;
        },
      })
    ).manifest;

    const mismatched = await send();
    await waitFor('the first copy', captureByDeviceId(mismatched.manifest.captureId));
    await device.publishAsync(topics.capture(topicRoot, 'SOMEONE-ELSE'), mismatched.envelope, { qos: 1 });
    const replay = signManifest({ ...mismatched.manifest, readings: { speedKmh: 1 } }, camera.privateKey, mismatched.media);
    await device.publishAsync(topics.capture(topicRoot, camera.id), replay.envelope, { qos: 1 });

    const reasonsOf = async (where: ReturnType<typeof eq>) =>
      waitFor('a quarantined message', async () => {
        const rows = await database.db.select().from(captures).where(where);
        const found = rows.find((row) => row.state === 'quarantined');
        return found ? codesOf(found) : undefined;
      });
    expect(await reasonsOf(eq(captures.messageSha256, sha256Hex(badSchema)))).toEqual(['manifest_invalid']);
    expect(codesOf(await waitFor('the disabled device capture', captureByDeviceId(fromDisabled.manifest.captureId)))).toEqual([
      'device_disabled',
    ]);
    expect(codesOf(await waitFor('the revoked device capture', captureByDeviceId(fromRevoked.manifest.captureId)))).toEqual([
      'device_revoked',
    ]);
    expect(codesOf(await waitFor('the wrong-size capture', captureByDeviceId(wrongSize.captureId)))).toEqual(['media_size_mismatch']);
    expect(await reasonsOf(eq(captures.messageSha256, sha256Hex(replay.envelope)))).toEqual(['replayed']);
    const mismatchRows = await waitFor('the capture on another device topic', async () => {
      const rows = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, mismatched.manifest.captureId));
      return rows.length >= 2 ? rows : undefined;
    });
    expect(mismatchRows.map((row) => row.state).sort()).toContain('quarantined');
  });

  it('answers /metrics on the gateway and the workers with its counters and timings, jobs and captures by state, and the process series', async () => {
    // Accepted, quarantined and duplicate captures of its own, so the series it checks are not zero when it runs alone.
    const accepted = await send();
    const forged = await send({ signWith: generateKeyPairSync('ed25519').privateKey });
    await waitFor('both captures', async () =>
      (await captureByDeviceId(accepted.manifest.captureId)()) && (await captureByDeviceId(forged.manifest.captureId)()) ? true : undefined,
    );
    const duplicatesBefore = ingest.gateway.counters.duplicates;
    await publishCapture(device, topicRoot, accepted);
    await waitFor('the duplicate', async () => (ingest.gateway.counters.duplicates > duplicatesBefore ? true : undefined));
    // A job no handler knows fails its one attempt.
    await workers.queues.get('media').add('no-such-job', {}, { attempts: 1 });
    // Verified an hour ago and never screened: stranded past the default five minutes.
    await database.db.insert(captures).values({
      messageSha256: randomBytes(32).toString('hex'),
      deviceId: camera.id,
      deviceCaptureId: randomUUID(),
      state: 'verified',
      capturedAt: new Date(Date.now() - 3600_000),
      receivedAt: new Date(Date.now() - 3600_000),
      manifest: {},
      rawMessage: Buffer.from('stranded'),
    });
    const servers = [buildHealthServer('ingest', [], gatewayRegistry), buildHealthServer('workers', [], workersRegistry)];
    try {
      const scrape = async (index: number) => (await servers[index]!.inject({ method: 'GET', url: '/metrics' })).body;
      const sample = (body: string, series: string) => {
        const escaped = series.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(body)?.[1] ?? 0);
      };
      const completedMedia = 'verity_queue_jobs{queue="media",state="completed"}';
      const failedAttempts = 'verity_job_failures_total{queue="media",job="no-such-job"}';
      // The job counts as completed a moment after its thumbnails are written: wait for the queue to say so.
      await waitFor('a completed and a failed media job', async () => {
        const body = await scrape(1);
        return sample(body, completedMedia) > 0 && sample(body, failedAttempts) > 0 ? true : undefined;
      });
      const [gateway, queues] = await Promise.all(servers.map((server) => server.inject({ method: 'GET', url: '/metrics' })));
      for (const response of [gateway!, queues!]) {
        expect(response.statusCode).toBe(200);
        expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
        expect(response.body).toMatch(/^process_cpu_seconds_total \d/m);
        expect(response.body).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
        // Both roles count the queues, the gateway because it enqueues.
        expect(sample(response.body, completedMedia)).toBeGreaterThan(0);
        expect(response.body).toMatch(/^verity_queue_jobs\{queue="media",state="failed"\} [1-9]\d*$/m);
      }
      const value = (name: string) => sample(gateway!.body, name);
      const counters = ingest.gateway.counters;
      expect(counters.accepted).toBeGreaterThan(0);
      expect(counters.quarantined).toBeGreaterThan(0);
      expect(value('verity_ingest_capture_messages_total')).toBe(counters.captureMessages);
      expect(value('verity_ingest_accepted_total')).toBe(counters.accepted);
      expect(value('verity_ingest_quarantined_total')).toBe(counters.quarantined);
      expect(value('verity_ingest_duplicates_total')).toBe(counters.duplicates);
      expect(value('verity_ingest_media_chunks_total')).toBe(counters.chunks);

      // Every capture message timed once, by how it ended; captures whose media came later answered pending first.
      const timed = (outcome: string) => value(`verity_ingest_latency_seconds_count{outcome="${outcome}"}`);
      expect(timed('duplicate')).toBe(counters.duplicates);
      expect(timed('quarantined')).toBeGreaterThan(0);
      expect(timed('accepted') + timed('pending')).toBeGreaterThan(0);
      expect(timed('accepted') + timed('pending') + timed('quarantined') + timed('duplicate')).toBe(counters.captureMessages);
      const seconds = value('verity_ingest_latency_seconds_sum{outcome="quarantined"}');
      expect(seconds).toBeGreaterThan(0);
      expect(seconds / timed('quarantined')).toBeLessThan(10);
      expect(value('verity_ingest_latency_seconds_bucket{le="+Inf",outcome="quarantined"}')).toBe(timed('quarantined'));

      const jobs = (series: string) => sample(queues!.body, series);
      const derived = 'queue="media",job="derive-thumbnails",outcome="completed"';
      expect(jobs(`verity_job_duration_seconds_count{${derived}}`)).toBeGreaterThan(0);
      expect(jobs(`verity_job_duration_seconds_sum{${derived}}`)).toBeGreaterThan(0);
      expect(jobs(`verity_job_duration_seconds_sum{${derived}}`) / jobs(`verity_job_duration_seconds_count{${derived}}`)).toBeLessThan(60);
      expect(jobs(failedAttempts)).toBe(1);
      expect(jobs('verity_job_duration_seconds_count{queue="media",job="no-such-job",outcome="failed"}')).toBe(1);

      // Screening may still move a capture on between the scrape and this count, but never adds or quarantines one.
      const stored = await database.db.select({ state: captures.state }).from(captures);
      const byState = captures.state.enumValues.map((state) => jobs(`verity_captures{state="${state}"}`));
      expect(byState.reduce((sum, count) => sum + count, 0)).toBe(stored.length);
      expect(jobs('verity_captures{state="quarantined"}')).toBe(stored.filter((row) => row.state === 'quarantined').length);
      expect(jobs('verity_captures{state="quarantined"}')).toBeGreaterThan(0);
      expect(jobs('verity_captures_stranded{need="screening"}')).toBe(1);
      expect(jobs('verity_captures_stranded_oldest_age_seconds{need="screening"}')).toBeGreaterThanOrEqual(3599);
      expect(queues!.body).toMatch(/^verity_captures_stranded\{need="media"\} \d+$/m);
      expect(queues!.body).toMatch(/^verity_captures_stranded_oldest_age_seconds\{need="media"\} \d+$/m);
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });
});
