import { readRefusal } from '../../core/domain/review-policy.js';
import { mayUse } from '../../core/domain/roles.js';
import type { Db } from '../../db/client.js';
import { devicesBehind, type ReadTarget } from '../../db/capture-reads.js';
import type { Principal } from '../people/authentication.js';
import { administeredDevices } from '../people/people.js';
import type { QueueViewer } from '../../db/review-queue.js';

/** The person asking, with what separation of duties needs to know about them. */
export async function readerOf(db: Db, principal: Principal, now = new Date()): Promise<QueueViewer> {
  return {
    id: principal.id,
    actor: principal.actor,
    administeredDeviceIds: principal.kind === 'person' ? await administeredDevices(db, principal.id) : [],
    mayDecideEscalated: mayUse(principal, 'review.decide_escalated', now),
  };
}

export type { ReadTarget };

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
  return readRefusal(await devicesBehind(db, target), reader);
}
