import { and, eq, isNull } from 'drizzle-orm';
import type { WindowSource } from '../core/domain/fault-window.js';
import { jobIdFor } from '../core/domain/jobs.js';
import { appendAudit } from './audit-log.js';
import type { Tx } from './client.js';
import { malfunctionWindows, outbox } from './schema.js';

export type WindowRow = typeof malfunctionWindows.$inferSelect;

/**
 * Every change to a window queues a re-screening of the device's captures over the affected
 * period, in the same transaction, so exclusion follows a late fault report without fail.
 */
async function queueRescreen(tx: Tx, deviceId: string, from: Date, to: Date | null, trigger: string): Promise<void> {
  const payload = { deviceId, from: from.toISOString(), to: to?.toISOString() ?? null };
  await tx.insert(outbox).values({ queue: 'screening', jobName: 'screen-captures', jobId: jobIdFor('screen-captures', trigger), payload });
}

export interface NewWindow {
  deviceId: string;
  source: WindowSource;
  startsAt: Date;
  endsAt: Date | null;
  reason: string;
  detail?: Record<string, unknown>;
  recordedBy: string;
}

export async function openWindow(tx: Tx, window: NewWindow): Promise<WindowRow> {
  const [row] = await tx
    .insert(malfunctionWindows)
    .values({ ...window, detail: window.detail ?? {} })
    .returning();
  if (!row) throw new Error('window insert returned nothing');
  await appendAudit(tx, {
    actor: window.recordedBy,
    action: 'malfunction_window.opened',
    subjectType: 'device',
    subjectId: window.deviceId,
    details: {
      windowId: row.id,
      source: row.source,
      startsAt: row.startsAt.toISOString(),
      endsAt: row.endsAt?.toISOString() ?? null,
      reason: row.reason,
    },
  });
  await queueRescreen(tx, row.deviceId, row.startsAt, row.endsAt, `${row.id}.opened`);
  return row;
}

/** Ends an open window (the fault is over); captures after the end return to review. */
export async function closeWindow(tx: Tx, window: WindowRow, endsAt: Date, by: string, reason: string): Promise<WindowRow | undefined> {
  if (endsAt.getTime() <= window.startsAt.getTime()) throw new RangeError('a window must end after it starts');
  const [row] = await tx
    .update(malfunctionWindows)
    .set({ endsAt })
    .where(and(eq(malfunctionWindows.id, window.id), isNull(malfunctionWindows.endsAt)))
    .returning();
  if (!row) return undefined;
  await appendAudit(tx, {
    actor: by,
    action: 'malfunction_window.closed',
    subjectType: 'device',
    subjectId: row.deviceId,
    details: { windowId: row.id, endsAt: endsAt.toISOString(), reason },
  });
  await queueRescreen(tx, row.deviceId, endsAt, null, `${row.id}.closed`);
  return row;
}

/** Withdraws a window found to be a false alarm: it stays on record but excludes nothing. */
export async function withdrawWindow(tx: Tx, windowId: string, by: string, reason: string): Promise<WindowRow | undefined> {
  const [row] = await tx
    .update(malfunctionWindows)
    .set({ withdrawnAt: new Date(), withdrawnBy: by, withdrawalReason: reason })
    .where(and(eq(malfunctionWindows.id, windowId), isNull(malfunctionWindows.withdrawnAt)))
    .returning();
  if (!row) return undefined;
  await appendAudit(tx, {
    actor: by,
    action: 'malfunction_window.withdrawn',
    subjectType: 'device',
    subjectId: row.deviceId,
    details: { windowId: row.id, reason },
  });
  await queueRescreen(tx, row.deviceId, row.startsAt, row.endsAt, `${row.id}.withdrawn`);
  return row;
}

/** The open window of one source for a device, if any (a device has at most one per source). */
export async function openWindowOf(tx: Tx, deviceId: string, source: WindowSource): Promise<WindowRow | undefined> {
  const [row] = await tx
    .select()
    .from(malfunctionWindows)
    .where(
      and(
        eq(malfunctionWindows.deviceId, deviceId),
        eq(malfunctionWindows.source, source),
        isNull(malfunctionWindows.endsAt),
        isNull(malfunctionWindows.withdrawnAt),
      ),
    );
  return row;
}

/** One window, locked until the transaction ends so a close and a withdrawal cannot both apply. */
export async function lockWindow(tx: Tx, windowId: string): Promise<WindowRow | undefined> {
  const [row] = await tx.select().from(malfunctionWindows).where(eq(malfunctionWindows.id, windowId)).for('update');
  return row;
}

/** A device's windows of one source that were not withdrawn, open or closed. */
export async function unwithdrawnWindowsOf(tx: Tx, deviceId: string, source: WindowSource): Promise<WindowRow[]> {
  return tx
    .select()
    .from(malfunctionWindows)
    .where(and(eq(malfunctionWindows.deviceId, deviceId), eq(malfunctionWindows.source, source), isNull(malfunctionWindows.withdrawnAt)));
}
