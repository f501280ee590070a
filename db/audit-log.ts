import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import { auditHash, GENESIS_HASH, type AuditEvent } from '../core/domain/audit-hash.js';
import type { Executor, Tx } from './client.js';
import { auditCheckpoints, auditLog } from './schema.js';

export { auditHash, GENESIS_HASH, type AuditEvent };

/** Arbitrary but fixed: serialises appends so the chain never forks. */
const AUDIT_CHAIN_LOCK = 7_351_001;

/** Appends one event inside the caller's transaction, so the log and the change commit together. */
export async function appendAudit(tx: Tx, event: AuditEvent): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
  const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  const previousHash = last?.hash ?? GENESIS_HASH;
  // A JS Date has millisecond precision, which timestamptz keeps exactly: the stored time is the hashed time.
  const recordedAt = new Date();
  // Round-trip details through JSON so the hash covers exactly what jsonb will hold.
  const details = JSON.parse(JSON.stringify(event.details)) as Record<string, unknown>;
  await tx.insert(auditLog).values({
    ...event,
    details,
    recordedAt,
    previousHash,
    hash: auditHash(previousHash, recordedAt, { ...event, details }),
  });
}

export type AuditEntry = typeof auditLog.$inferSelect;
export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/** Which entries to list: every given field must match; `beforeSeq` pages back from an earlier answer. */
export interface AuditEntryFilter {
  subjectType?: string;
  subjectId?: string;
  actor?: string;
  action?: string;
  beforeSeq?: number;
  limit: number;
}

/** Matching entries, newest first. */
export async function listAuditEntries(db: Executor, filter: AuditEntryFilter): Promise<AuditEntry[]> {
  const conditions: SQL[] = [];
  if (filter.subjectType) conditions.push(eq(auditLog.subjectType, filter.subjectType));
  if (filter.subjectId) conditions.push(eq(auditLog.subjectId, filter.subjectId));
  if (filter.actor) conditions.push(eq(auditLog.actor, filter.actor));
  if (filter.action) conditions.push(eq(auditLog.action, filter.action));
  if (filter.beforeSeq) conditions.push(lt(auditLog.seq, filter.beforeSeq));
  return db
    .select()
    .from(auditLog)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(auditLog.seq))
    .limit(filter.limit);
}

/** The latest signed chain heads, newest first. */
export async function listAuditCheckpoints(db: Executor, limit: number): Promise<AuditCheckpoint[]> {
  return db.select().from(auditCheckpoints).orderBy(desc(auditCheckpoints.seq)).limit(limit);
}
