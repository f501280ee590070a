import { z } from 'zod';

/**
 * A range of the audit log as a file an auditor keeps outside Verity and checks offline with
 * `npm run audit:verify -- --export FILE`: the entries exactly as stored (their hashes
 * included) and the signed heads among them, with the key that signed them.
 */
export const AUDIT_EXPORT_FORMAT = 'verity-audit-export/1';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
/** As `Date.prototype.toISOString` writes it: the exact text each hash and signature covers. */
const moment = z.iso.datetime({ precision: 3 });
const seq = z.number().int().positive();

export const auditExportEntrySchema = z.strictObject({
  seq,
  recordedAt: moment,
  actor: z.string(),
  action: z.string(),
  subjectType: z.string(),
  subjectId: z.string(),
  details: z.record(z.string(), z.unknown()),
  previousHash: sha256Hex,
  hash: sha256Hex,
});

export const auditExportCheckpointSchema = z.strictObject({
  seq,
  hash: sha256Hex,
  signedAt: moment,
  keyFingerprint: sha256Hex,
  signature: z.string(),
});

export const auditExportSchema = z.strictObject({
  format: z.literal(AUDIT_EXPORT_FORMAT),
  exportedAt: moment,
  exportedBy: z.string(),
  range: z.strictObject({ fromSeq: seq, toSeq: seq }),
  /** The key this server signs heads with now; a verifier should be given the key it already trusts instead. */
  signingKey: z.strictObject({ fingerprint: sha256Hex, publicKeyPem: z.string() }),
  entries: z.array(auditExportEntrySchema),
  checkpoints: z.array(auditExportCheckpointSchema),
});

export type AuditExport = z.infer<typeof auditExportSchema>;
