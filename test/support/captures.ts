import { randomUUID } from 'node:crypto';
import { sha256Hex, type MediaStore } from '../../core/infrastructure/media-store.js';
import type { Db } from '../../db/client.js';
import { captureMedia, captures, media } from '../../db/schema.js';
import sharp from 'sharp';
import { buildManifest, signManifest, type MediaFile } from '../../device-simulator/device-protocol.js';
import { testMedia, type TestDevice } from './devices.js';

/**
 * A signed capture with real media, stored as the gateway would leave it, waiting for review.
 * Review tests start here rather than at MQTT: the gateway has tests of its own.
 */
export async function insertReviewableCapture(
  db: Db,
  store: MediaStore,
  device: TestDevice,
  options: { capturedAt?: Date; violationType?: string; readings?: Record<string, number | string | boolean>; files?: MediaFile[] } = {},
): Promise<string> {
  const capturedAt = options.capturedAt ?? new Date(Date.now() - 10 * 60_000);
  const files = options.files ?? (await testMedia(capturedAt));
  const violationType = options.violationType ?? 'speeding';
  const plate = `T-${randomUUID().slice(0, 6)}`;
  // Readings the gateway would accept for the type (docs/protocol.md, Readings).
  const readings =
    options.readings ??
    (violationType === 'speeding'
      ? { speedKmh: 75, limitKmh: 60, plate }
      : violationType === 'red_light'
        ? { redForMs: 1800, plate }
        : { plate });
  const manifest = buildManifest({
    deviceId: device.id,
    capturedAt,
    clockOffsetMs: 12,
    location: { latitude: 22.5, longitude: 114.05 },
    violationType,
    readings,
    media: files,
  });
  const signed = signManifest(manifest, device.privateKey, files);
  for (const [index, file] of files.entries()) {
    const sha256 = await store.put(file.bytes);
    const { width, height } = await sharp(file.bytes).metadata();
    await db
      .insert(media)
      .values({ sha256, sizeBytes: file.bytes.length, contentType: file.contentType, width: width ?? null, height: height ?? null })
      .onConflictDoNothing();
    manifest.media[index]!.sha256 = sha256;
  }
  const [row] = await db
    .insert(captures)
    .values({
      messageSha256: sha256Hex(signed.envelope),
      deviceId: device.id,
      deviceCaptureId: manifest.captureId,
      state: 'awaiting_review',
      violationType: manifest.violationType,
      capturedAt,
      latitude: manifest.location.latitude,
      longitude: manifest.location.longitude,
      manifest,
      rawMessage: signed.envelope,
      reviewRound: 1,
    })
    .returning({ id: captures.id });
  if (!row) throw new Error('capture insert returned nothing');
  await db.insert(captureMedia).values(manifest.media.map((item) => ({ captureId: row.id, mediaSha256: item.sha256, name: item.name })));
  return row.id;
}
