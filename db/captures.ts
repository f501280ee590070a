import { and, eq, isNull, ne } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { CaptureJob } from '../core/domain/capture-jobs.js';
import { assertTransition, type CaptureState, type LifecycleActor } from '../core/domain/capture-lifecycle.js';
import type { Executor, Tx } from './client.js';
import { captures, outbox } from './schema.js';

type CaptureRow = typeof captures.$inferSelect;
type CaptureInsert = typeof captures.$inferInsert;
/** Columns that may change together with the state; the state itself only through this module. */
type StateChangeColumns = Omit<PgUpdateSetSource<typeof captures>, 'id' | 'state'>;

/**
 * The one place a capture's state changes: the change must be in the lifecycle table, and it
 * happens only if the row is still in `from` (another writer in between wins). Returns the
 * changed row, or undefined when the row had moved on.
 */
export async function changeCaptureState(
  executor: Executor,
  captureId: string,
  change: { from: CaptureState; to: CaptureState; by: LifecycleActor; set?: StateChangeColumns },
): Promise<CaptureRow | undefined> {
  assertTransition(change.from, change.to, change.by);
  const [changed] = await executor
    .update(captures)
    .set({ ...change.set, state: change.to })
    .where(and(eq(captures.id, captureId), eq(captures.state, change.from)))
    .returning();
  return changed;
}

/** The values of a new capture row, its initial state checked against the lifecycle table. */
export function newCapture<T extends CaptureInsert>(values: T, by: LifecycleActor): T {
  assertTransition(null, values.state, by);
  return values;
}

/** A device's quarantined captures, locked until the transaction ends so nothing else moves them meanwhile. */
export async function lockQuarantinedCapturesOf(tx: Tx, deviceId: string): Promise<CaptureRow[]> {
  return tx
    .select()
    .from(captures)
    .where(and(eq(captures.deviceId, deviceId), eq(captures.state, 'quarantined'), isNull(captures.purgedAt)))
    .for('update');
}

/** The id of a copy of this device capture that was not quarantined, if the device sent one. */
export async function acceptedCopyOf(executor: Executor, deviceId: string, deviceCaptureId: string): Promise<string | undefined> {
  const [accepted] = await executor
    .select({ id: captures.id })
    .from(captures)
    .where(and(eq(captures.deviceId, deviceId), eq(captures.deviceCaptureId, deviceCaptureId), ne(captures.state, 'quarantined')));
  return accepted?.id;
}

/** Hands capture jobs to the outbox in the caller's transaction, so they go out only if it commits. */
export async function queueCaptureJobs(tx: Tx, jobs: readonly CaptureJob[]): Promise<void> {
  await tx.insert(outbox).values(jobs.map((job) => ({ queue: job.queue, jobName: job.name, jobId: job.jobId, payload: job.payload })));
}
