import { and, eq } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { assertTransition, type CaptureState, type LifecycleActor } from '../core/domain/capture-lifecycle.js';
import type { Executor } from './client.js';
import { captures } from './schema.js';

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
