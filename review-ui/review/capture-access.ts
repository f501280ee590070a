import { eq, inArray, or, sql } from 'drizzle-orm';
import { readRefusal } from '../../core/domain/review-policy.js';
import { mayUse } from '../../core/domain/roles.js';
import type { Db } from '../../db/client.js';
import { captureMedia, captures, mediaDerivatives } from '../../db/schema.js';
import type { Principal } from '../people/authentication.js';
import { administeredDevices } from '../people/people.js';
import type { QueueViewer } from './review-queue.js';

/** The person asking, with what separation of duties needs to know about them. */
export async function readerOf(db: Db, principal: Principal, now = new Date()): Promise<QueueViewer> {
  return {
    id: principal.id,
    actor: principal.actor,
    administeredDeviceIds: principal.kind === 'person' ? await administeredDevices(db, principal.id) : [],
    mayDecideEscalated: mayUse(principal, 'review.decide_escalated', now),
  };
}

/** What is being read: one capture, a stored file (original or thumbnail), or an incident with its captures. */
export type ReadTarget = { captureId: string } | { mediaSha256: string } | { incidentId: string };

/**
 * Why this person may not read the target, or undefined: the devices behind it go through the
 * one rule in core/domain/review-policy.ts, so detail, media, thumbnails and evidence refuse alike.
 */
export async function refusalToRead(
  db: Db,
  reader: Pick<QueueViewer, 'administeredDeviceIds'>,
  target: ReadTarget,
): Promise<string | undefined> {
  if (reader.administeredDeviceIds.length === 0) return undefined;
  const deviceOf = db.selectDistinct({ deviceId: captures.deviceId }).from(captures);
  const rows =
    'captureId' in target
      ? await deviceOf.where(eq(captures.id, target.captureId))
      : 'incidentId' in target
        ? await deviceOf.where(eq(captures.incidentId, target.incidentId))
        : await deviceOf.where(
            inArray(
              captures.id,
              db
                .select({ id: captureMedia.captureId })
                .from(captureMedia)
                .where(
                  or(
                    eq(captureMedia.mediaSha256, target.mediaSha256),
                    sql`${captureMedia.mediaSha256} IN (SELECT ${mediaDerivatives.sourceSha256} FROM ${mediaDerivatives} WHERE ${mediaDerivatives.derivedSha256} = ${target.mediaSha256})`,
                  ),
                ),
            ),
          );
  return readRefusal(
    rows.flatMap((row) => (row.deviceId ? [row.deviceId] : [])),
    reader,
  );
}
