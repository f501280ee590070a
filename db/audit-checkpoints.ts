import canonicalize from 'canonicalize';
import { desc, eq } from 'drizzle-orm';
import { signBytes, type ServerSigningKey } from '../core/infrastructure/signing-key.js';
import type { Db } from './client.js';
import { auditCheckpoints, auditLog } from './schema.js';

export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/**
 * The bytes a checkpoint's signature covers: RFC 8785 canonical JSON of
 * `{"hash":…,"seq":…,"signedAt":"<ISO 8601, milliseconds, Z>"}`, UTF-8. The key fingerprint is
 * deliberately outside them: it only says which key to try, and the signature itself proves it.
 */
export function checkpointBytes(checkpoint: { seq: number; hash: string; signedAt: Date }): Buffer {
  const body = canonicalize({ seq: checkpoint.seq, hash: checkpoint.hash, signedAt: checkpoint.signedAt.toISOString() });
  if (body === undefined) throw new Error('checkpoint cannot be serialised');
  return Buffer.from(body, 'utf8');
}

/**
 * Signs the audit chain's last row unless it is signed already, and returns that row's
 * checkpoint and whether this call made it (null while the log is empty). Signing an unchanged head again would only add
 * noise, so an idle system adds no checkpoints.
 *
 * The signing is not itself written to the audit log: that event would become the new head,
 * so the head just signed would never be the head, and every run would find one more unsigned
 * row (its own previous event) to sign, growing the log forever on an idle system. The
 * checkpoint table is append-only and every row in it is self-authenticating, which is the
 * record the audit event would have given.
 */
export async function signChainHead(
  db: Db,
  key: ServerSigningKey,
  now = new Date(),
): Promise<{ checkpoint: AuditCheckpoint; created: boolean } | null> {
  // Appends are serialised by their own lock and commit in seq order, so the last visible row
  // is a settled head; later appends simply wait for the next checkpoint.
  const [head] = await db.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  if (!head) return null;
  const signed = { seq: head.seq, hash: head.hash, signedAt: now };
  // Two workers may sign the same head at once; the first insert wins and both return it.
  const [inserted] = await db
    .insert(auditCheckpoints)
    .values({ ...signed, keyFingerprint: key.fingerprint, signature: signBytes(key, checkpointBytes(signed)) })
    .onConflictDoNothing()
    .returning();
  if (inserted) return { checkpoint: inserted, created: true };
  const [existing] = await db.select().from(auditCheckpoints).where(eq(auditCheckpoints.seq, head.seq));
  if (!existing) throw new Error(`checkpoint for audit row ${head.seq} vanished after a conflicting insert`);
  return { checkpoint: existing, created: false };
}
