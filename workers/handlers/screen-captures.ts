import { and, eq, gte, inArray, isNull, lte, sql } from 'drizzle-orm';
import { EXCLUDABLE_STATES, screen, type CaptureState } from '../../core/domain/screening.js';
import { appendAudit } from '../../db/audit-log.js';
import { keyOfIncident, lockAct, regroupIncidents } from '../../db/incidents.js';
import type { Database } from '../../db/client.js';
import { changeCaptureState } from '../../db/captures.js';
import { windowsSetAsideFor } from '../../db/tampering-findings.js';
import { captures, malfunctionWindows, reviewClaims } from '../../db/schema.js';

const SCREENER = 'system:malfunction-screening';
const SCREENABLE_STATES: CaptureState[] = [...EXCLUDABLE_STATES, 'excluded'];

/**
 * Applies the screening rule to every capture of a device taken in [from, to]: new captures
 * go to review or are excluded, and a window reported late pulls captures already in review
 * (or approved) out again. Each move is audited with the state it left and the windows behind it.
 */
export async function screenCaptures(
  deps: { database: Database; incidentWindowMs: number },
  payload: { deviceId: string; from: string; to: string | null },
): Promise<{ excluded: number; admitted: number }> {
  const { db } = deps.database;
  const windows = await db.select().from(malfunctionWindows).where(eq(malfunctionWindows.deviceId, payload.deviceId));
  const inRange = [
    eq(captures.deviceId, payload.deviceId),
    inArray(captures.state, SCREENABLE_STATES),
    // A purged capture has no media left to review: a withdrawn window cannot bring it back.
    isNull(captures.purgedAt),
    gte(captures.capturedAt, new Date(payload.from)),
    ...(payload.to ? [lte(captures.capturedAt, new Date(payload.to))] : []),
  ];
  const candidates = await db
    .select({
      id: captures.id,
      capturedAt: captures.capturedAt,
      state: captures.state,
      exclusionWindowIds: captures.exclusionWindowIds,
      incidentId: captures.incidentId,
    })
    .from(captures)
    .where(and(...inRange));
  const setAside = await windowsSetAsideFor(
    db,
    candidates.map((candidate) => candidate.id),
  );
  let excluded = 0;
  let admitted = 0;
  for (const candidate of candidates) {
    if (!candidate.capturedAt) continue;
    const overridden = setAside.get(candidate.id) ?? [];
    const outcome = screen({ ...candidate, deviceId: payload.deviceId, capturedAt: candidate.capturedAt }, windows, overridden);
    if (outcome.change === 'none') continue;
    const moved = await db.transaction(async (tx) => {
      // Leaving review drops any claim and incident membership; coming back starts a new review
      // round, so decisions taken before the exclusion never count towards the new one.
      const next =
        outcome.change === 'exclude'
          ? { state: 'excluded' as const, exclusionWindowIds: outcome.windowIds, incidentId: null }
          : { state: outcome.to, exclusionWindowIds: null, reviewRound: sql`${captures.reviewRound} + 1` };
      // An approved capture leaves its incident: the act is locked before the capture row, the
      // order every incident change keeps, and the incident is read again under the lock.
      const act = outcome.change === 'exclude' && candidate.incidentId ? await keyOfIncident(tx, candidate.incidentId) : undefined;
      if (act) await lockAct(tx, act);
      // Guarded by the state it was read in: a reviewer's decision in between wins, and the next pass sees it.
      const [before] = await tx
        .select({ incidentId: captures.incidentId })
        .from(captures)
        .where(and(eq(captures.id, candidate.id), eq(captures.state, outcome.from)))
        .for('update');
      if (!before) return false;
      const { state, ...columns } = next;
      await changeCaptureState(tx, candidate.id, { from: outcome.from, to: state, by: 'screening_worker', set: columns });
      if (outcome.change === 'exclude') await tx.delete(reviewClaims).where(eq(reviewClaims.captureId, candidate.id));
      const left = before.incidentId ? await keyOfIncident(tx, before.incidentId) : undefined;
      if (left && before.incidentId) {
        await regroupIncidents(
          tx,
          SCREENER,
          left,
          { kind: 'left', captureId: candidate.id, incidentId: before.incidentId },
          deps.incidentWindowMs,
          `excluded by malfunction window ${(next.exclusionWindowIds ?? []).join(', ')}`,
        );
      }
      await appendAudit(tx, {
        actor: SCREENER,
        action: outcome.change === 'exclude' ? 'capture.excluded' : 'capture.admitted_to_review',
        subjectType: 'capture',
        subjectId: candidate.id,
        details: { from: outcome.from, to: next.state, windowIds: next.exclusionWindowIds ?? [] },
      });
      return true;
    });
    if (moved && outcome.change === 'exclude') excluded++;
    if (moved && outcome.change === 'admit') admitted++;
  }
  return { excluded, admitted };
}
