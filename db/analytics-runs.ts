import { randomUUID } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { jobIdFor } from '../core/domain/jobs.js';
import { appendAudit } from './audit-log.js';
import type { Db } from './client.js';
import { outbox } from './schema.js';

/** Arbitrary but fixed: serialises run requests, so simultaneous ones agree on a single pending job. */
const RUN_REQUEST_LOCK = 7_351_015;

/**
 * An analyst's "run now": queues a screening through the outbox, in the transaction that
 * writes the audit row naming who asked. Requests while one is still waiting to be handed
 * to the queue join it (each is still audited): a screening reads everything there is, so a
 * second one queued behind it would compute the same run again.
 */
export async function requestScreening(db: Db, actor: string): Promise<{ jobId: string; joined: boolean }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${RUN_REQUEST_LOCK})`);
    const [pending] = await tx
      .select({ jobId: outbox.jobId })
      .from(outbox)
      .where(and(eq(outbox.queue, 'analytics'), eq(outbox.jobName, 'screen-hotspots'), isNull(outbox.dispatchedAt)))
      .limit(1);
    const jobId = pending?.jobId ?? jobIdFor('screen-hotspots', `manual-${randomUUID()}`);
    if (!pending) await tx.insert(outbox).values({ queue: 'analytics', jobName: 'screen-hotspots', jobId, payload: {} });
    await appendAudit(tx, {
      actor,
      action: 'analytics.run_requested',
      subjectType: 'analytics_job',
      subjectId: jobId,
      details: { joined: pending !== undefined },
    });
    return { jobId, joined: pending !== undefined };
  });
}
