import type { Clock } from '../../core/domain/clock.js';
import type { RetentionSettings } from '../../core/domain/retention.js';
import type { Logger } from '../../core/infrastructure/logger.js';
import type { MediaStore } from '../../core/infrastructure/media-store.js';
import type { Database } from '../../db/client.js';
import { dueCaptures, overdueErasures, purgeCapture } from '../../db/retention.js';

export interface PurgeCounts {
  retention: number;
  erasure: number;
  evidence_retention: number;
  mediaFilesDeleted: number;
  /** Statutory rejections past their erasure deadline that a hold still keeps. */
  overdueErasures: number;
}

const BATCH = 200;

/**
 * Purges every capture whose retention or erasure clock has run out (docs/party.md), each in
 * its own transaction so one failure costs one capture, and warns of erasures a hold keeps past
 * their deadline. Safe to run many times at once: each capture is purged, and audited, once.
 */
export async function purgeCaptures(deps: {
  database: Database;
  store: MediaStore;
  settings: RetentionSettings;
  clock: Clock;
  log: Logger;
}): Promise<PurgeCounts> {
  const now = deps.clock.now();
  const counts: PurgeCounts = { retention: 0, erasure: 0, evidence_retention: 0, mediaFilesDeleted: 0, overdueErasures: 0 };
  // Captures another run holds, or that failed, come back in the next batch; a batch with nothing new ends the run.
  const seen = new Set<string>();
  let comeBack = 0;
  const failed: string[] = [];
  for (;;) {
    const batch = (await dueCaptures(deps.database.db, deps.settings, now, { limit: BATCH + comeBack })).filter(
      (capture) => !seen.has(capture.id),
    );
    if (batch.length === 0) break;
    for (const capture of batch) {
      seen.add(capture.id);
      try {
        const outcome = await purgeCapture(deps.database.db, deps.store, capture.id, deps.settings, now);
        if (!outcome) {
          comeBack++;
          continue;
        }
        counts[outcome.reason]++;
        counts.mediaFilesDeleted += outcome.deletedSha256s.length;
      } catch (error) {
        deps.log.error({ err: error, captureId: capture.id }, 'purging a capture failed; it stays due for the next try');
        failed.push(capture.id);
        comeBack++;
      }
    }
  }
  counts.overdueErasures = await overdueErasures(deps.database.db, deps.settings, now);
  if (counts.overdueErasures > 0) {
    deps.log.warn(
      { overdueErasures: counts.overdueErasures },
      'records confirmed wrong are past their erasure deadline: a tampering finding or open case holds them',
    );
  }
  // Failing the job after purging the rest gets the failures retried and seen, without holding up the others.
  if (failed.length > 0)
    throw new Error(`purging failed for ${failed.length} captures (${failed.slice(0, 5).join(', ')}); the rest were purged`);
  return counts;
}
