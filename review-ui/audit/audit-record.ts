import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { listAuditCheckpoints, listAuditEntries, type AuditEntryFilter } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';

/** One page of matching entries, newest first, and where the next page starts (null on the last). */
export async function auditEntries(db: Db, filter: AuditEntryFilter) {
  const entries = await listAuditEntries(db, filter);
  return { entries, nextBeforeSeq: entries.length === filter.limit ? (entries.at(-1)?.seq ?? null) : null };
}

/** The signed chain heads with the key that signed them, so copies kept elsewhere can be checked. */
export async function auditCheckpoints(db: Db, signingKey: ServerSigningKey, limit: number) {
  return {
    publicKeyPem: signingKey.publicKeyPem,
    keyFingerprint: signingKey.fingerprint,
    checkpoints: await listAuditCheckpoints(db, limit),
  };
}
