import { sql } from 'drizzle-orm';
import { appendAudit } from './audit-log.js';
import type { Db } from './client.js';
import { rowsOf } from './rows.js';

/** One chunk set (a file sent in one chunk size by one device) the gateway gave up on. */
export interface ExpiredChunkSet {
  deviceId: string;
  sha256: string;
  chunkCount: number;
  chunksReceived: number;
  lastReceivedAt: Date;
}

const SETS_PER_PASS = 500;

/**
 * Deletes the chunk sets whose newest chunk arrived before `cutoff`, so a device still
 * repairing or resending a file keeps it alive, and audits each set with what had arrived.
 * `for update skip locked` lets several gateways sweep at once without expiring a set twice.
 */
export async function expireStagedChunks(db: Db, cutoff: Date, actor: string): Promise<ExpiredChunkSet[]> {
  return db.transaction(async (tx) => {
    const expired = rowsOf<{ device_id: string; sha256: string; chunk_count: number; chunks_received: number; last_received_at: Date }>(
      await tx.execute(sql`
        with stale as (
          select device_id, sha256, chunk_count
          from media_chunks
          group by device_id, sha256, chunk_count
          having max(received_at) < ${cutoff}
          limit ${SETS_PER_PASS}
        ),
        locked as (
          select c.ctid as row_id from media_chunks c
          join stale using (device_id, sha256, chunk_count)
          for update of c skip locked
        ),
        gone as (
          delete from media_chunks where ctid in (select row_id from locked)
          returning device_id, sha256, chunk_count, received_at
        )
        select device_id, sha256, chunk_count, count(*)::int as chunks_received, max(received_at) as last_received_at
        from gone group by device_id, sha256, chunk_count`),
    );
    const sets = expired.map((row) => ({
      deviceId: row.device_id,
      sha256: row.sha256,
      chunkCount: row.chunk_count,
      chunksReceived: row.chunks_received,
      lastReceivedAt: new Date(row.last_received_at),
    }));
    for (const set of sets) {
      await appendAudit(tx, {
        actor,
        action: 'media.chunks_expired',
        subjectType: 'device',
        subjectId: set.deviceId,
        details: { sha256: set.sha256, chunkCount: set.chunkCount, chunksReceived: set.chunksReceived, lastReceivedAt: set.lastReceivedAt },
      });
    }
    return sets;
  });
}
