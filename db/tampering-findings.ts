import { and, asc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import { jobIdFor } from '../core/domain/jobs.js';
import { appendAudit } from './audit-log.js';
import type { Db, Executor, Tx } from './client.js';
import { captures, outbox, tamperingFindings } from './schema.js';

export type FindingOutcome<T> = { ok: true; value: T } | { ok: false; status: 404 | 409; error: string };

/**
 * Records evidence that the party sabotaged the device or its data, against one window that
 * excluded one capture. It changes nothing until a second, different person confirms it.
 */
export async function recordTamperingFinding(
  tx: Tx,
  input: { captureId: string; windowId: string; evidence: string; recordedBy: string; certificateNumber: string | null },
): Promise<FindingOutcome<string>> {
  const [capture] = await tx.select().from(captures).where(eq(captures.id, input.captureId));
  if (!capture) return { ok: false, status: 404, error: `no capture ${input.captureId}` };
  if (capture.state !== 'excluded' || !capture.exclusionWindowIds?.includes(input.windowId)) {
    return { ok: false, status: 409, error: 'a tampering finding answers an exclusion: this capture is not excluded by that window' };
  }
  const { certificateNumber, ...finding } = input;
  const [row] = await tx.insert(tamperingFindings).values(finding).returning({ id: tamperingFindings.id });
  if (!row) throw new Error('finding insert returned nothing');
  await appendAudit(tx, {
    actor: input.recordedBy,
    action: 'tampering_finding.recorded',
    subjectType: 'capture',
    subjectId: input.captureId,
    details: { findingId: row.id, windowId: input.windowId, evidence: input.evidence, certificateNumber },
  });
  return { ok: true, value: row.id };
}

/** The second person's confirmation; the capture is then re-screened without that window. */
export async function confirmTamperingFinding(
  tx: Tx,
  findingId: string,
  confirmedBy: string,
  certificateNumber: string | null,
): Promise<FindingOutcome<{ captureId: string }>> {
  const [finding] = await tx.select().from(tamperingFindings).where(eq(tamperingFindings.id, findingId));
  if (!finding) return { ok: false, status: 404, error: `no tampering finding ${findingId}` };
  if (finding.confirmedAt) return { ok: false, status: 409, error: 'already confirmed' };
  if (finding.recordedBy === confirmedBy)
    return { ok: false, status: 409, error: 'the person who recorded a finding cannot also confirm it' };
  await tx
    .update(tamperingFindings)
    .set({ confirmedBy, confirmedAt: new Date() })
    .where(and(eq(tamperingFindings.id, findingId), isNull(tamperingFindings.confirmedAt)));
  const [capture] = await tx
    .select({ deviceId: captures.deviceId, capturedAt: captures.capturedAt })
    .from(captures)
    .where(eq(captures.id, finding.captureId));
  if (capture?.deviceId && capture.capturedAt) {
    const at = capture.capturedAt.toISOString();
    await tx.insert(outbox).values({
      queue: 'screening',
      jobName: 'screen-captures',
      jobId: jobIdFor('screen-captures', `${findingId}.confirmed`),
      payload: { deviceId: capture.deviceId, from: at, to: at },
    });
  }
  await appendAudit(tx, {
    actor: confirmedBy,
    action: 'tampering_finding.confirmed',
    subjectType: 'capture',
    subjectId: finding.captureId,
    details: { findingId, windowId: finding.windowId, recordedBy: finding.recordedBy, certificateNumber },
  });
  return { ok: true, value: { captureId: finding.captureId } };
}

/** The capture a finding answers, or undefined when there is no such finding. */
export async function captureOfFinding(db: Db, findingId: string): Promise<string | undefined> {
  const [finding] = await db
    .select({ captureId: tamperingFindings.captureId })
    .from(tamperingFindings)
    .where(eq(tamperingFindings.id, findingId));
  return finding?.captureId;
}

/** Tampering findings about these captures, oldest first; only confirmed ones set a window aside (law L4). */
export async function tamperingFindingsOf(executor: Executor, captureIds: readonly string[]) {
  if (captureIds.length === 0) return [];
  return executor
    .select()
    .from(tamperingFindings)
    .where(inArray(tamperingFindings.captureId, [...captureIds]))
    .orderBy(asc(tamperingFindings.recordedAt));
}

/** Per capture, the windows a confirmed tampering finding set aside for it; captures without one are absent. */
export async function windowsSetAsideFor(executor: Executor, captureIds: readonly string[]): Promise<Map<string, string[]>> {
  const setAside = new Map<string, string[]>();
  if (captureIds.length === 0) return setAside;
  const rows = await executor
    .select({ captureId: tamperingFindings.captureId, windowId: tamperingFindings.windowId })
    .from(tamperingFindings)
    .where(and(inArray(tamperingFindings.captureId, [...captureIds]), isNotNull(tamperingFindings.confirmedAt)));
  for (const row of rows) setAside.set(row.captureId, [...(setAside.get(row.captureId) ?? []), row.windowId]);
  return setAside;
}
