import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The audit log's hashing, apart from the database code that appends to it, so an offline
 * verifier can recompute a row's hash without a database driver.
 */
export interface AuditEvent {
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
}

/** The first link's predecessor: 64 zeros, so every row has a previous hash to check. */
export const GENESIS_HASH = '0'.repeat(64);

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
