import { and, desc, eq } from 'drizzle-orm';
import type { Site } from './analytics-counts.js';
import type { Executor, Tx } from './client.js';
import { remediationCases } from './schema.js';

/** A remediation case (law L6: fix the cause, not fine forever). */
export type RemediationCase = typeof remediationCases.$inferSelect;
export type RemediationCause = RemediationCase['suspectedCause'];
type CaseInsert = typeof remediationCases.$inferInsert;

/** Newest opened first; every status when none is given. */
export async function listCases(executor: Executor, status: RemediationCase['status'] | undefined): Promise<RemediationCase[]> {
  return executor
    .select()
    .from(remediationCases)
    .where(status ? eq(remediationCases.status, status) : undefined)
    .orderBy(desc(remediationCases.openedAt));
}

export async function findCase(executor: Executor, id: string): Promise<RemediationCase | null> {
  const [found] = await executor.select().from(remediationCases).where(eq(remediationCases.id, id));
  return found ?? null;
}

/** The id of the case still open for this site and violation type, if any: there is at most one. */
export async function openCaseIdOf(executor: Executor, site: Site & { violationType: string }): Promise<string | undefined> {
  const [existing] = await executor
    .select({ id: remediationCases.id })
    .from(remediationCases)
    .where(
      and(
        eq(remediationCases.scope, site.scope),
        eq(remediationCases.siteId, site.siteId),
        eq(remediationCases.violationType, site.violationType),
        eq(remediationCases.status, 'open'),
      ),
    );
  return existing?.id;
}

export async function insertCase(tx: Tx, values: CaseInsert): Promise<RemediationCase> {
  const [opened] = await tx.insert(remediationCases).values(values).returning();
  if (!opened) throw new Error('remediation case insert returned nothing');
  return opened;
}

/** One case, locked until the transaction ends, so two changes to it cannot both see it open. */
export async function lockCase(tx: Tx, id: string): Promise<RemediationCase | undefined> {
  const [current] = await tx.select().from(remediationCases).where(eq(remediationCases.id, id)).for('update');
  return current;
}

export async function updateCase(
  tx: Tx,
  id: string,
  changes: Partial<Omit<CaseInsert, 'id' | 'scope' | 'siteId' | 'violationType' | 'openedBy' | 'openedAt'>>,
): Promise<RemediationCase | undefined> {
  const [updated] = await tx.update(remediationCases).set(changes).where(eq(remediationCases.id, id)).returning();
  return updated;
}
