import { eq, sql } from 'drizzle-orm';
import type { CaptureState } from '../core/domain/capture-lifecycle.js';
import { purgeCutoffs, type PurgeReason, type RetentionSettings } from '../core/domain/retention.js';
import type { MediaStore } from '../core/infrastructure/media-store.js';
import { appendAudit } from './audit-log.js';
import type { Db, Executor, Tx } from './client.js';
import { rowsOf } from './rows.js';
import { captureMedia, captures, captureTombstones, incidents, media, mediaDerivatives, mediaQuality } from './schema.js';

const RETENTION_ACTOR = 'system:retention';

/** A capture whose personal data is due to go, and the clock that ran out. */
export interface DueCapture {
  id: string;
  state: CaptureState;
  reason: PurgeReason;
  clockStartedAt: Date;
  rejectReasonCode: string | null;
}

/**
 * Captures due for a purge at `now`, oldest clock first. Each clock starts where the capture
 * stopped being (or became) evidence: the deciding review decision for rejected and approved
 * captures, the exclusion (the later of receipt and the excluding window's record) for excluded
 * ones, receipt for quarantined ones. Nothing is due while a tampering finding names the capture
 * or an open remediation case covers its device or cell and violation type: those may still
 * need the footage.
 */
export async function dueCaptures(
  executor: Executor,
  settings: RetentionSettings,
  now: Date,
  options: { only?: string; limit: number },
): Promise<DueCapture[]> {
  const cutoffs = purgeCutoffs(settings, now);
  const rows = rowsOf<{
    id: string;
    state: CaptureState;
    reason: PurgeReason;
    clock_started_at: Date | string;
    reason_code: string | null;
  }>(
    await executor.execute(sql`
      select * from (
        select c.id, c.state::text as state,
          case when c.state = 'rejected' and rr.statutory then 'erasure'
               when c.state = 'approved' then 'evidence_retention'
               else 'retention' end as reason,
          case when c.state in ('rejected', 'approved') then decision.decided_at
               when c.state = 'excluded' then greatest(c.received_at, (
                 select max(w.recorded_at) from malfunction_windows w
                 where w.id::text in (select jsonb_array_elements_text(c.exclusion_window_ids))))
               else c.received_at end as clock_started_at,
          decision.reason_code
        from captures c
        left join devices dev on dev.id = c.device_id
        left join lateral (
          select rd.decided_at, rd.reason_code from review_decisions rd
          where rd.capture_id = c.id and rd.round = c.review_round and rd.outcome::text = c.state::text
          order by rd.decided_at desc limit 1
        ) decision on true
        left join reject_reasons rr on rr.code = decision.reason_code
        where c.purged_at is null
          -- Every clock starts at or after receipt, so only captures received before their cutoff can be due.
          and (c.state = 'rejected'
            or (c.state in ('excluded', 'quarantined') and c.received_at <= ${cutoffs.retention})
            or (c.state = 'approved' and c.received_at <= ${cutoffs.evidence_retention}))
          and ${options.only ? sql`c.id = ${options.only}` : sql`true`}
          and not exists (select 1 from tampering_findings tf where tf.capture_id = c.id)
          and not exists (
            select 1 from remediation_cases rc
            where rc.status = 'open' and rc.violation_type = coalesce(c.violation_type, 'unspecified')
              and ((rc.scope = 'device' and rc.site_id = c.device_id)
                or (rc.scope = 'cell' and exists (
                  select 1 from analytics_locations l
                  where l.cell = rc.site_id
                    and l.latitude_e5 = round(coalesce(c.latitude, dev.latitude) * 1e5)::int
                    and l.longitude_e5 = round(coalesce(c.longitude, dev.longitude) * 1e5)::int))))
      ) due
      where (due.reason = 'erasure' and due.clock_started_at <= ${cutoffs.erasure})
         or (due.reason = 'retention' and due.clock_started_at <= ${cutoffs.retention})
         or (due.reason = 'evidence_retention' and due.clock_started_at <= ${cutoffs.evidence_retention})
      order by due.clock_started_at
      limit ${options.limit}`),
  );
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    reason: row.reason,
    clockStartedAt: new Date(row.clock_started_at),
    rejectReasonCode: row.reason_code,
  }));
}

export interface PurgeOutcome {
  captureId: string;
  reason: PurgeReason;
  /** Every medium the capture named, by hash. */
  mediaSha256s: string[];
  /** The files removed from the media store (originals and their derivatives). */
  deletedSha256s: string[];
  /** Originals kept because another capture that is not purged still holds the same bytes. */
  sharedSha256s: string[];
}

/** Whether any capture not purged still needs these bytes: as its medium, or named by a capture whose media are still arriving. */
async function stillNeeded(tx: Tx, sha256: string): Promise<boolean> {
  const [row] = rowsOf<{ needed: boolean }>(
    await tx.execute(sql`
      select exists (select 1 from capture_media where media_sha256 = ${sha256})
        or exists (select 1 from media_derivatives where derived_sha256 = ${sha256})
        or exists (
          select 1 from captures
          where state = 'received' and purged_at is null
            and manifest->'media' @> ${JSON.stringify([{ sha256 }])}::jsonb) as needed`),
  );
  return row?.needed ?? true;
}

/**
 * Removes a stored file nothing needs any more, its rows before its bytes. A failure rolls the
 * purge's rows back while files already deleted stay deleted; the capture is then still due and
 * the next run finishes it (deleting an absent file is a no-op).
 */
async function deleteMedium(tx: Tx, store: MediaStore, sha256: string): Promise<string[]> {
  const derived = await tx
    .delete(mediaDerivatives)
    .where(eq(mediaDerivatives.sourceSha256, sha256))
    .returning({ sha256: mediaDerivatives.derivedSha256 });
  await tx.delete(mediaQuality).where(eq(mediaQuality.sha256, sha256));
  await tx.delete(media).where(eq(media.sha256, sha256));
  await store.delete(sha256);
  const deleted = [sha256];
  for (const { sha256: derivedSha256 } of derived) {
    if (!(await stillNeeded(tx, derivedSha256))) deleted.push(...(await deleteMedium(tx, store, derivedSha256)));
  }
  return deleted;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Purges one capture if it is still due once locked: writes its hash-only tombstone, empties the
 * signed message and the manifest (the plate readings live there), removes its media from the
 * store unless another capture still holds the same bytes, and audits it all in the same
 * transaction. Undefined when another run holds or already purged it, or it is no longer due.
 */
export async function purgeCapture(
  db: Db,
  store: MediaStore,
  captureId: string,
  settings: RetentionSettings,
  now: Date,
): Promise<PurgeOutcome | undefined> {
  return db.transaction(async (tx) => {
    // SKIP LOCKED: of runs racing for one capture, one purges it and the rest move on.
    const [locked] = rowsOf<{ message_sha256: string; claimed: { sha256?: unknown }[] | null; incident_id: string | null }>(
      await tx.execute(sql`
        select message_sha256, manifest->'media' as claimed, incident_id from captures
        where id = ${captureId} and purged_at is null for update skip locked`),
    );
    if (!locked) return undefined;
    const [due] = await dueCaptures(tx, settings, now, { only: captureId, limit: 1 });
    if (!due) return undefined;
    const own = await tx.select({ sha256: captureMedia.mediaSha256 }).from(captureMedia).where(eq(captureMedia.captureId, captureId));
    const claimed = (Array.isArray(locked.claimed) ? locked.claimed : []).map((item) => item.sha256);
    const mediaSha256s = [
      ...new Set([
        ...own.map((row) => row.sha256),
        ...claimed.filter((value): value is string => typeof value === 'string' && SHA256.test(value)),
      ]),
    ].sort();
    // In hash order, so two purges of captures sharing bytes never deadlock, and the second sees the first's purge.
    for (const sha256 of mediaSha256s) await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`media:${sha256}`}))`);
    await tx.insert(captureTombstones).values({
      captureId,
      messageSha256: locked.message_sha256,
      mediaSha256s,
      reason: due.reason,
      state: due.state,
      rejectReasonCode: due.reason === 'erasure' ? due.rejectReasonCode : null,
      clockStartedAt: due.clockStartedAt,
      purgedAt: now,
    });
    await tx
      .update(captures)
      .set({ purgedAt: now, manifest: null, rawMessage: Buffer.alloc(0) })
      .where(eq(captures.id, captureId));
    await tx.delete(captureMedia).where(eq(captureMedia.captureId, captureId));
    const deletedSha256s: string[] = [];
    const sharedSha256s: string[] = [];
    for (const sha256 of mediaSha256s) {
      if (await stillNeeded(tx, sha256)) sharedSha256s.push(sha256);
      else if ((await tx.select({ sha256: media.sha256 }).from(media).where(eq(media.sha256, sha256))).length > 0)
        deletedSha256s.push(...(await deleteMedium(tx, store, sha256)));
    }
    const erasedIncident = locked.incident_id ? await eraseIncidentSubjectIfEmpty(tx, locked.incident_id) : null;
    await appendAudit(tx, {
      actor: RETENTION_ACTOR,
      action: due.reason === 'erasure' ? 'capture.erased' : 'capture.purged',
      subjectType: 'capture',
      subjectId: captureId,
      details: {
        reason: due.reason,
        state: due.state,
        rejectReasonCode: due.reason === 'erasure' ? due.rejectReasonCode : null,
        clockStartedAt: due.clockStartedAt.toISOString(),
        purgedAt: now.toISOString(),
        messageSha256: locked.message_sha256,
        mediaSha256s,
        mediaFilesDeleted: deletedSha256s.length,
        deletedSha256s,
        sharedSha256s,
        erasedIncidentSubject: erasedIncident,
      },
    });
    return { captureId, reason: due.reason, mediaSha256s, deletedSha256s, sharedSha256s };
  });
}

/**
 * An incident's subject is the plate: once every capture in it is purged, the subject goes too,
 * replaced by the incident's own id so grouping can never match it again. Returns the incident id when erased.
 */
async function eraseIncidentSubjectIfEmpty(tx: Tx, incidentId: string): Promise<string | null> {
  const [live] = await tx
    .select({ id: captures.id })
    .from(captures)
    .where(sql`${captures.incidentId} = ${incidentId} and ${captures.purgedAt} is null`)
    .limit(1);
  if (live) return null;
  const erased = await tx
    .update(incidents)
    .set({ subject: `erased:${incidentId}` })
    .where(eq(incidents.id, incidentId))
    .returning({ id: incidents.id });
  return erased[0]?.id ?? null;
}

/** Statutory rejections still not erased past their deadline: a hold (finding, case) keeps them, and staff must hear of it. */
export async function overdueErasures(executor: Executor, settings: RetentionSettings, now: Date): Promise<number> {
  const [row] = rowsOf<{ count: number }>(
    await executor.execute(sql`
      select count(*)::int as count from captures c
      join review_decisions rd on rd.capture_id = c.id and rd.round = c.review_round and rd.outcome = 'rejected'
      join reject_reasons rr on rr.code = rd.reason_code and rr.statutory
      where c.state = 'rejected' and c.purged_at is null
        and rd.decided_at < ${new Date(now.getTime() - settings.erasureWithinMs)}`),
  );
  return Number(row?.count ?? 0);
}
