import { AUDIT_EXPORT_FORMAT, type AuditExport } from '../../core/domain/audit-export.js';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import {
  appendAudit,
  auditSeqBounds,
  captureCustody,
  incidentCustody,
  listAuditCheckpoints,
  listAuditCheckpointsInRange,
  listAuditEntries,
  listAuditRange,
  type AuditEntryFilter,
} from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';

/** One file stays small enough to build in memory and open in a text editor (about 50 MB). */
export const MAX_EXPORT_ENTRIES = 100_000;
export const MAX_CUSTODY_ENTRIES = 2_000;

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

export type AuditExportOutcome = { kind: 'exported'; exported: AuditExport } | { kind: 'empty' } | { kind: 'too_large'; count: number };

/**
 * The entries recorded in [from, until) and the signed heads among them, as the export file.
 * The export is audited after it is read, so it never contains its own record.
 */
export async function auditExport(
  db: Db,
  signingKey: ServerSigningKey,
  actor: string,
  range: { from?: Date; until?: Date },
): Promise<AuditExportOutcome> {
  const bounds = await auditSeqBounds(db, range);
  if (!bounds) return { kind: 'empty' };
  const entries = await listAuditRange(db, bounds.fromSeq, bounds.toSeq, MAX_EXPORT_ENTRIES + 1);
  if (entries.length > MAX_EXPORT_ENTRIES) return { kind: 'too_large', count: bounds.toSeq - bounds.fromSeq + 1 };
  const checkpoints = await listAuditCheckpointsInRange(db, bounds.fromSeq, bounds.toSeq);
  const exportedAt = new Date();
  await db.transaction((tx) =>
    appendAudit(tx, {
      actor,
      action: 'audit.exported',
      subjectType: 'audit_log',
      subjectId: `${bounds.fromSeq}-${bounds.toSeq}`,
      details: {
        ...bounds,
        entries: entries.length,
        checkpoints: checkpoints.length,
        from: range.from ?? null,
        until: range.until ?? null,
      },
    }),
  );
  return {
    kind: 'exported',
    exported: {
      format: AUDIT_EXPORT_FORMAT,
      exportedAt: exportedAt.toISOString(),
      exportedBy: actor,
      range: bounds,
      signingKey: { fingerprint: signingKey.fingerprint, publicKeyPem: signingKey.publicKeyPem },
      entries: entries.map((entry) => ({
        ...entry,
        recordedAt: entry.recordedAt.toISOString(),
        details: entry.details as Record<string, unknown>,
      })),
      checkpoints: checkpoints.map((checkpoint) => ({ ...checkpoint, signedAt: checkpoint.signedAt.toISOString() })),
    },
  };
}

/** A capture's or incident's custody, oldest first, and whether the list was cut at its limit. */
export async function auditCustody(db: Db, subject: { subjectType: 'capture' | 'incident'; subjectId: string }) {
  const read = subject.subjectType === 'capture' ? captureCustody : incidentCustody;
  const entries = await read(db, subject.subjectId, MAX_CUSTODY_ENTRIES + 1);
  return { entries: entries.slice(0, MAX_CUSTODY_ENTRIES), truncated: entries.length > MAX_CUSTODY_ENTRIES };
}
