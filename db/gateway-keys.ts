import { desc, sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { gatewayKeys } from './schema.js';

export interface PublishedGatewayKey {
  fingerprint: string;
  publicKeyPem: string;
  firstUsedAt: Date;
}

/** Called by a gateway at start: its key becomes the current one, and keys it replaced stay listed. */
export async function recordGatewayKey(executor: Executor, key: { fingerprint: string; publicKeyPem: string }): Promise<void> {
  await executor
    .insert(gatewayKeys)
    .values({ fingerprint: key.fingerprint, publicKeyPem: key.publicKeyPem })
    .onConflictDoUpdate({ target: gatewayKeys.fingerprint, set: { lastStartedAt: sql`now()` } });
}

/** Every key a gateway has signed with, the current one first. */
export async function listGatewayKeys(executor: Executor): Promise<PublishedGatewayKey[]> {
  return executor
    .select({ fingerprint: gatewayKeys.fingerprint, publicKeyPem: gatewayKeys.publicKeyPem, firstUsedAt: gatewayKeys.firstUsedAt })
    .from(gatewayKeys)
    .orderBy(desc(gatewayKeys.lastStartedAt), desc(gatewayKeys.firstUsedAt));
}
