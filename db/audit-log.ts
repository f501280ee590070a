import { desc, sql } from 'drizzle-orm';
import { auditHash, GENESIS_HASH, type AuditEvent } from '../core/domain/audit-hash.js';
import type { Tx } from './client.js';
import { auditLog } from './schema.js';

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
