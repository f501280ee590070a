import { and, asc, desc, eq, isNull } from 'drizzle-orm';
import { appendAudit } from './audit-log.js';
import type { Db } from './client.js';
import { rejectReasons } from './schema.js';

/** The reasons a reviewer may give now: statutory erasure cases first. */
export function currentRejectReasons(db: Db) {
  return db
    .select()
    .from(rejectReasons)
    .where(isNull(rejectReasons.retiredAt))
    .orderBy(desc(rejectReasons.statutory), asc(rejectReasons.label));
}

/** Adds a reason with its audit entry; undefined when the code exists. */
export function addRejectReason(db: Db, actor: string, reason: { code: string; label: string }) {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(rejectReasons).values(reason).onConflictDoNothing().returning();
    if (row) {
      await appendAudit(tx, {
        actor,
        action: 'reject_reason.added',
        subjectType: 'reject_reason',
        subjectId: row.code,
        details: { label: row.label },
      });
    }
    return row;
  });
}

/**
 * Retires a current reason with its audit entry: 'statutory' for the law's own erasure cases,
 * which cannot be retired; undefined when there is no current reason with that code.
 */
export function retireRejectReason(db: Db, actor: string, code: string) {
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select({ statutory: rejectReasons.statutory })
      .from(rejectReasons)
      .where(and(eq(rejectReasons.code, code), isNull(rejectReasons.retiredAt)));
    if (current?.statutory) return 'statutory' as const;
    const [row] = await tx
      .update(rejectReasons)
      .set({ retiredAt: new Date() })
      .where(and(eq(rejectReasons.code, code), isNull(rejectReasons.retiredAt)))
      .returning();
    if (row)
      await appendAudit(tx, { actor, action: 'reject_reason.retired', subjectType: 'reject_reason', subjectId: row.code, details: {} });
    return row;
  });
}
