import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { eq, inArray } from 'drizzle-orm';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdFor } from '../core/domain/jobs.js';
import { FilesystemMediaStore, sha256Hex } from '../core/infrastructure/media-store.js';
import { captureMedia, captures, media, mediaDerivatives, mediaQuality } from '../db/schema.js';
import { renderScene } from '../device-simulator/scene.js';
import { createTempDir, createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { deriveMedia, REVIEW_WIDTH, THUMBNAIL_WIDTH } from './handlers/derive-media.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { startWorkersRole } from './service.js';

const run = promisify(execFile);

interface TestFile {
  name: string;
  contentType: 'image/jpeg' | 'video/mp4';
  bytes: Buffer;
}

describe('derive-thumbnails job over real Postgres and Redis', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let workDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let seed = 0;

  beforeAll(async () => {
    database = await createTestDatabase('derive_media');
    mediaDir = await createTempDir('media');
    workDir = await createTempDir('videos');
    store = new FilesystemMediaStore(mediaDir.dir);
  });

  afterAll(async () => {
    await database?.drop();
    await mediaDir?.remove();
    await workDir?.remove();
  });

  const deps = () => ({ database, store });

  /** Each call's scene differs, so no two tests share content-addressed media. */
  const sceneJpeg = (width = 1920, height = 1080) =>
    renderScene({ deviceId: 'CAM-T', capturedAt: new Date(), place: 'test road', plate: 'T1234', seed: ++seed, width, height });

  /** ffmpeg's test pattern, tagged with a fresh comment so its bytes are new each time. */
  async function testMp4(size = '1280x720', duration = 3): Promise<Buffer> {
    const file = path.join(workDir.dir, `${randomUUID()}.mp4`);
    const source = `testsrc=duration=${duration}:size=${size}:rate=25`;
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', source, '-pix_fmt', 'yuv420p', '-metadata', `comment=${randomUUID()}`, file]);
    return readFile(file);
  }

  /** Stores the files and records a verified capture with them, as the gateway does. */
  async function verifiedCapture(files: TestFile[]): Promise<{ captureId: string; sha256s: string[] }> {
    const sha256s: string[] = [];
    for (const file of files) {
      const sha256 = await store.put(file.bytes);
      const size = file.contentType.startsWith('image/')
        ? await sharp(file.bytes)
            .metadata()
            .catch(() => undefined)
        : undefined;
      await database.db
        .insert(media)
        .values({ sha256, sizeBytes: file.bytes.length, contentType: file.contentType, width: size?.width, height: size?.height })
        .onConflictDoNothing();
      sha256s.push(sha256);
    }
    const deviceCaptureId = randomUUID();
    const manifest = { captureId: deviceCaptureId, media: files.map((file, i) => ({ name: file.name, sha256: sha256s[i] })) };
    const [capture] = await database.db
      .insert(captures)
      .values({
        messageSha256: sha256Hex(Buffer.from(deviceCaptureId)),
        deviceId: 'CAM-T',
        deviceCaptureId,
        state: 'verified',
        capturedAt: new Date(),
        manifest,
        rawMessage: Buffer.from(JSON.stringify(manifest)),
      })
      .returning({ id: captures.id });
    await database.db
      .insert(captureMedia)
      .values(files.map((file, i) => ({ captureId: capture!.id, mediaSha256: sha256s[i]!, name: file.name })));
    return { captureId: capture!.id, sha256s };
  }

  const qualityOf = async (sha256: string) => (await database.db.select().from(mediaQuality).where(eq(mediaQuality.sha256, sha256)))[0];

  async function derivativesOf(sha256: string) {
    const rows = await database.db
      .select({
        kind: mediaDerivatives.kind,
        sha256: media.sha256,
        width: media.width,
        height: media.height,
        contentType: media.contentType,
      })
      .from(mediaDerivatives)
      .innerJoin(media, eq(media.sha256, mediaDerivatives.derivedSha256))
      .where(eq(mediaDerivatives.sourceSha256, sha256));
    return new Map(rows.map((row) => [row.kind, row]));
  }

  it('gives a JPEG a thumbnail, a review copy and its quality, leaving the original as it was', async () => {
    const bytes = await sceneJpeg();
    const { captureId, sha256s } = await verifiedCapture([{ name: 'frame-1.jpg', contentType: 'image/jpeg', bytes }]);
    const sha256 = sha256s[0]!;

    expect(await deriveMedia(deps(), { captureId })).toEqual({ measured: 1, created: 2 });

    const derivatives = await derivativesOf(sha256);
    expect([...derivatives.keys()].sort()).toEqual(['review', 'thumbnail']);
    expect(derivatives.get('thumbnail')).toMatchObject({ width: THUMBNAIL_WIDTH, height: 270, contentType: 'image/jpeg' });
    expect(derivatives.get('review')).toMatchObject({ width: REVIEW_WIDTH, height: 1080, contentType: 'image/jpeg' });
    for (const derivative of derivatives.values()) expect(sha256Hex(await store.get(derivative.sha256))).toBe(derivative.sha256);
    expect(sha256Hex(await store.get(sha256))).toBe(sha256);

    const quality = await qualityOf(sha256);
    expect(quality).toMatchObject({ width: 1920, height: 1080, flags: [], durationSeconds: null, probe: null });
    expect(quality!.sharpness).toBeGreaterThan(100);
    expect(quality!.meanLuminance).toBeGreaterThan(50);
    expect(quality!.darkClippedFraction).toBeLessThan(0.05);
    expect(quality!.brightClippedFraction).toBeLessThan(0.05);
  });

  it('flags corrupt JPEGs unreadable and still completes the job', async () => {
    const good = await sceneJpeg();
    const truncated = good.subarray(0, Math.floor(good.length / 2));
    const garbled = Buffer.concat([(await sceneJpeg()).subarray(0, 600), Buffer.alloc(40_000, 0x5a)]);
    const { captureId, sha256s } = await verifiedCapture([
      { name: 'frame-1.jpg', contentType: 'image/jpeg', bytes: truncated },
      { name: 'frame-2.jpg', contentType: 'image/jpeg', bytes: garbled },
    ]);

    await expect(deriveMedia(deps(), { captureId })).resolves.toEqual({ measured: 2, created: 0 });

    for (const sha256 of sha256s) {
      const quality = await qualityOf(sha256);
      expect(quality?.flags).toEqual(['unreadable']);
      expect(quality?.sharpness).toBeNull();
      expect(quality?.probe).toMatchObject({ error: expect.stringMatching(/premature end/i) as unknown });
      expect((await derivativesOf(sha256)).size).toBe(0);
    }
  });

  it('gives an MP4 its probe, a poster, a thumbnail and four key frames', async () => {
    const { captureId, sha256s } = await verifiedCapture([{ name: 'clip.mp4', contentType: 'video/mp4', bytes: await testMp4() }]);
    const sha256 = sha256s[0]!;

    expect(await deriveMedia(deps(), { captureId })).toEqual({ measured: 1, created: 6 });

    const derivatives = await derivativesOf(sha256);
    expect([...derivatives.keys()].sort()).toEqual(['keyframe-1', 'keyframe-2', 'keyframe-3', 'keyframe-4', 'poster', 'thumbnail']);
    expect(derivatives.get('poster')).toMatchObject({ width: 1280, height: 720, contentType: 'image/jpeg' });
    expect(derivatives.get('thumbnail')).toMatchObject({ width: THUMBNAIL_WIDTH, height: 270 });
    // The test pattern's clock moves, so frames from different instants differ.
    const frames = ['keyframe-1', 'keyframe-2', 'keyframe-3', 'keyframe-4'].map((kind) => derivatives.get(kind)!.sha256);
    expect(new Set(frames).size).toBe(4);

    const quality = await qualityOf(sha256);
    expect(quality).toMatchObject({ width: 1280, height: 720, flags: [], sharpness: null });
    expect(quality!.durationSeconds).toBeCloseTo(3, 1);
    expect(quality!.probe).toMatchObject({ codec: 'h264', width: 1280, height: 720, frameRate: 25, posterSeconds: 0.3 });
    expect((quality!.probe as { keyframeSeconds: number[] }).keyframeSeconds).toEqual([0.6, 1.2, 1.8, 2.4]);
  });

  it('flags a video ffprobe cannot read unreadable, and a small one below the minimum', async () => {
    const { captureId, sha256s } = await verifiedCapture([
      { name: 'broken.mp4', contentType: 'video/mp4', bytes: Buffer.from(`not a video ${randomUUID()}`) },
      { name: 'small.mp4', contentType: 'video/mp4', bytes: await testMp4('640x360', 1) },
    ]);

    await expect(deriveMedia(deps(), { captureId })).resolves.toMatchObject({ measured: 2 });

    const broken = await qualityOf(sha256s[0]!);
    expect(broken?.flags).toEqual(['unreadable']);
    expect(broken?.probe).toMatchObject({ error: expect.stringMatching(/^ffprobe exited/) as unknown });
    expect((await derivativesOf(sha256s[0]!)).size).toBe(0);
    expect((await qualityOf(sha256s[1]!))?.flags).toEqual(['below_minimum_resolution']);
    expect((await derivativesOf(sha256s[1]!)).has('poster')).toBe(true);
  });

  it('finds its work done when run again, and creates nothing new', async () => {
    const { captureId, sha256s } = await verifiedCapture([
      { name: 'frame-1.jpg', contentType: 'image/jpeg', bytes: await sceneJpeg() },
      { name: 'clip.mp4', contentType: 'video/mp4', bytes: await testMp4() },
    ]);
    const first = await deriveMedia(deps(), { captureId });
    expect(first).toEqual({ measured: 2, created: 8 });
    const snapshot = async () => ({
      derivatives: await database.db.select().from(mediaDerivatives).where(inArray(mediaDerivatives.sourceSha256, sha256s)),
      quality: await database.db.select().from(mediaQuality).where(inArray(mediaQuality.sha256, sha256s)),
      media: (await database.db.select({ sha256: media.sha256 }).from(media)).length,
    });
    const before = await snapshot();

    expect(await deriveMedia(deps(), { captureId })).toEqual({ measured: 0, created: 0 });
    expect(await snapshot()).toEqual(before);
  });

  it("runs as the derive-thumbnails job of the media queue, with libvips's cache off", async () => {
    const redis = createTestRedis('derive_media');
    const workers = await startWorkersRole({
      database,
      store,
      redis: redis.redis,
      queuePrefix: redis.prefix,
      concurrency: 1,
      log: pino({ level: 'silent' }),
    });
    // Every job reads new files, so libvips's cache would only hold earlier jobs' pixels (workers/memory-settings.ts).
    expect(sharp.cache().items.max).toBe(0);
    const queues = new QueueRegistry(redis.redis, redis.prefix);
    try {
      const { captureId, sha256s } = await verifiedCapture([{ name: 'frame-1.jpg', contentType: 'image/jpeg', bytes: await sceneJpeg() }]);
      await queues.enqueue('media', 'derive-thumbnails', { captureId }, jobIdFor('derive-thumbnails', captureId));
      const quality = await waitFor('the quality row', () => qualityOf(sha256s[0]!));
      expect(quality.flags).toEqual([]);
      expect([...(await derivativesOf(sha256s[0]!)).keys()].sort()).toEqual(['review', 'thumbnail']);
    } finally {
      await queues.close();
      await workers.stop();
      await redis.cleanup();
    }
  });
});
