import { eq } from 'drizzle-orm';
import type { MediaStore } from '../../core/infrastructure/media-store.js';
import type { Database } from '../../db/client.js';
import { captureMedia, media, mediaDerivatives, mediaQuality } from '../../db/schema.js';
import { describeJpeg, measureImage, QUALITY_THRESHOLDS, renderJpeg, type QualityFlag, type Rendition } from '../media.js';
import { analyseVideo, DEFAULT_VIDEO_OPTIONS, type VideoOptions } from '../video.js';

export const THUMBNAIL_WIDTH = 480;
export const REVIEW_WIDTH = 1920;
export const REVIEW_QUALITY = 85;

type QualityRow = Omit<typeof mediaQuality.$inferInsert, 'sha256' | 'measuredAt'>;

interface Derived {
  quality: QualityRow;
  derivatives: { kind: string; rendition: Rendition }[];
}

export interface DeriveMediaDeps {
  database: Database;
  store: MediaStore;
  video?: VideoOptions;
}

/**
 * For every image and video of a capture: measures its quality and derives what reviewers look
 * at (thumbnail and review copy; poster, thumbnail and key frames). The quality row is written
 * last, with the derivatives, in one transaction, so its presence means the medium is done and a
 * re-run skips it. A file that cannot be decoded is recorded as `unreadable`; the job still succeeds.
 */
export async function deriveMedia(deps: DeriveMediaDeps, payload: { captureId: string }): Promise<{ measured: number; created: number }> {
  const { db } = deps.database;
  const items = await db
    .select({ sha256: media.sha256, contentType: media.contentType, measuredAt: mediaQuality.measuredAt })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .leftJoin(mediaQuality, eq(mediaQuality.sha256, media.sha256))
    .where(eq(captureMedia.captureId, payload.captureId));
  let measured = 0;
  let created = 0;
  for (const item of items) {
    if (item.measuredAt !== null) continue;
    const kind = item.contentType.startsWith('image/') ? 'image' : item.contentType.startsWith('video/') ? 'video' : undefined;
    if (!kind) continue;
    const bytes = await deps.store.get(item.sha256);
    const derived = kind === 'image' ? await deriveImage(bytes) : await deriveVideo(bytes, deps.video ?? DEFAULT_VIDEO_OPTIONS);
    created += await record(deps, item.sha256, derived);
    measured++;
  }
  return { measured, created };
}

async function deriveImage(bytes: Buffer): Promise<Derived> {
  const { decodeError, ...quality } = await measureImage(bytes);
  // Nothing to show of a file that does not decode; the flag is the finding.
  if (quality.flags.includes('unreadable')) return { quality: { ...quality, probe: { error: decodeError } }, derivatives: [] };
  return {
    quality,
    derivatives: [
      { kind: 'thumbnail', rendition: await renderJpeg(bytes, THUMBNAIL_WIDTH) },
      { kind: 'review', rendition: await renderJpeg(bytes, REVIEW_WIDTH, REVIEW_QUALITY) },
    ],
  };
}

async function deriveVideo(bytes: Buffer, options: VideoOptions): Promise<Derived> {
  const analysis = await analyseVideo(bytes, options);
  if (!analysis.readable) {
    const { probe, error } = analysis;
    const quality = { width: probe?.width, height: probe?.height, durationSeconds: probe?.durationSeconds };
    return { quality: { ...quality, probe: { ...probe, error }, flags: ['unreadable'] }, derivatives: [] };
  }
  const { probe, poster, keyframes } = analysis;
  const flags: QualityFlag[] = [];
  const t = QUALITY_THRESHOLDS;
  if (probe.width !== null && probe.height !== null && (probe.width < t.minimumWidth || probe.height < t.minimumHeight)) {
    flags.push('below_minimum_resolution');
  }
  // The frames are kept as ffmpeg decoded them: re-encoding would only add a generation of loss.
  const derivatives = [
    { kind: 'poster', rendition: await describeJpeg(poster.bytes) },
    { kind: 'thumbnail', rendition: await renderJpeg(poster.bytes, THUMBNAIL_WIDTH) },
  ];
  for (const [index, frame] of keyframes.entries()) {
    derivatives.push({ kind: `keyframe-${index + 1}`, rendition: await describeJpeg(frame.bytes) });
  }
  return {
    quality: {
      width: probe.width,
      height: probe.height,
      durationSeconds: probe.durationSeconds,
      probe: { ...probe, posterSeconds: poster.seconds, keyframeSeconds: keyframes.map((frame) => frame.seconds) },
      flags,
    },
    derivatives,
  };
}

/** Stores the derivatives' bytes, then records them and the quality row together; returns the new derivative rows. */
async function record(deps: DeriveMediaDeps, sourceSha256: string, derived: Derived): Promise<number> {
  const stored: { kind: string; rendition: Rendition; sha256: string }[] = [];
  for (const { kind, rendition } of derived.derivatives) stored.push({ kind, rendition, sha256: await deps.store.put(rendition.bytes) });
  return deps.database.db.transaction(async (tx) => {
    let created = 0;
    for (const { kind, rendition, sha256 } of stored) {
      await tx
        .insert(media)
        .values({
          sha256,
          sizeBytes: rendition.bytes.length,
          contentType: rendition.contentType,
          width: rendition.width,
          height: rendition.height,
        })
        .onConflictDoNothing();
      const inserted = await tx
        .insert(mediaDerivatives)
        .values({ sourceSha256, kind, derivedSha256: sha256 })
        .onConflictDoNothing()
        .returning({ kind: mediaDerivatives.kind });
      created += inserted.length;
    }
    const quality = { ...derived.quality, measuredAt: new Date() };
    await tx
      .insert(mediaQuality)
      .values({ sha256: sourceSha256, ...quality })
      .onConflictDoUpdate({ target: mediaQuality.sha256, set: quality });
    return created;
  });
}
