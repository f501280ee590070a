import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { outbox } from '../../db/schema.js';
import { screenCaptures } from '../../workers/handlers/screen-captures.js';

/** Runs the screenings the outbox holds, as the screening worker would, and marks them sent. */
export async function runQueuedScreenings(database: Database): Promise<void> {
  const queued = await database.db
    .select()
    .from(outbox)
    .where(and(eq(outbox.jobName, 'screen-captures'), isNull(outbox.dispatchedAt)));
  for (const job of queued) {
    await screenCaptures({ database, incidentWindowMs: 30 * 60_000 }, job.payload as { deviceId: string; from: string; to: string | null });
    await database.db.update(outbox).set({ dispatchedAt: new Date() }).where(eq(outbox.id, job.id));
  }
}
