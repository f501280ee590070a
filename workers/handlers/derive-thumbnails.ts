import { and, eq } from 'drizzle-orm';
import type { MediaStore } from '../../core/media-store.js';
import type { Database } from '../../db/client.js';
import { captureMedia, media, mediaDerivatives } from '../../db/schema.js';
import { renderJpeg } from '../media.js';

export const THUMBNAIL_WIDTH = 480;

/** Makes a thumbnail for every image of a capture; re-running it finds the work done. */
export async function deriveThumbnails(
  deps: { database: Database; store: MediaStore },
  payload: { captureId: string },
): Promise<{ created: number }> {
  const { db } = deps.database;
  const images = await db
    .select({ sha256: media.sha256 })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .where(and(eq(captureMedia.captureId, payload.captureId), eq(media.contentType, 'image/jpeg')));
  let created = 0;
  for (const image of images) {
    const [existing] = await db
      .select()
      .from(mediaDerivatives)
      .where(and(eq(mediaDerivatives.sourceSha256, image.sha256), eq(mediaDerivatives.kind, 'thumbnail')));
    if (existing) continue;
    const thumbnail = await renderJpeg(await deps.store.get(image.sha256), THUMBNAIL_WIDTH);
    const sha256 = await deps.store.put(thumbnail.bytes);
    await db.transaction(async (tx) => {
      await tx
        .insert(media)
        .values({
          sha256,
          sizeBytes: thumbnail.bytes.length,
          contentType: thumbnail.contentType,
          width: thumbnail.width,
          height: thumbnail.height,
        })
        .onConflictDoNothing();
      await tx
        .insert(mediaDerivatives)
        .values({ sourceSha256: image.sha256, kind: 'thumbnail', derivedSha256: sha256 })
        .onConflictDoNothing();
    });
    created++;
  }
  return { created };
}
