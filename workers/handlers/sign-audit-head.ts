import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { signChainHead } from '../../db/audit-checkpoints.js';
import type { Database } from '../../db/client.js';

/**
 * Signs the audit chain's last row with the server key, so a later rewrite of the log that
 * keeps the chain consistent still fails verification. A head already signed is left alone.
 */
export async function signAuditHead(deps: {
  database: Database;
  signingKey: ServerSigningKey;
}): Promise<{ seq: number; hash: string; created: boolean } | { seq: null }> {
  const signed = await signChainHead(deps.database.db, deps.signingKey);
  if (!signed) return { seq: null };
  return { seq: signed.checkpoint.seq, hash: signed.checkpoint.hash, created: signed.created };
}
