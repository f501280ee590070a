import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { desc, sql } from 'drizzle-orm';
import type { Tx } from './client.js';
import { auditLog } from './schema.js';

export interface AuditEvent {
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
}

/** The first link's predecessor: 64 zeros, so every row has a previous hash to check. */
export const GENESIS_HASH = '0'.repeat(64);

/** Arbitrary but fixed: serialises appends so the chain never forks. */
const AUDIT_CHAIN_LOCK = 7_351_001;

/** The bytes a row's hash covers: its predecessor and its content, as RFC 8785 canonical JSON. */
export function auditHash(previousHash: string, recordedAt: Date, event: AuditEvent): string {
  const body = canonicalize({
    previousHash,
    recordedAt: recordedAt.toISOString(),
    actor: event.actor,
    action: event.action,
    subjectType: event.subjectType,
    subjectId: event.subjectId,
    details: event.details,
  });
  if (body === undefined) throw new Error('audit event cannot be serialised');
  return createHash('sha256').update(body).digest('hex');
}

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
