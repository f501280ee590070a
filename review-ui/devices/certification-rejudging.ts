import { mediaJobFor, screeningJobFor } from '../../core/domain/capture-jobs.js';
import { certificationGapsAt, isBackdated } from '../../core/domain/certification.js';
import { detectVerificationGaps } from '../../core/domain/health-detectors.js';
import { jobIdFor } from '../../core/domain/jobs.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db, Tx } from '../../db/client.js';
import { closeWindow, unwithdrawnWindowsOf, withdrawWindow } from '../../db/malfunction-windows.js';
import { acceptedCopyOf, changeCaptureState, lockQuarantinedCapturesOf, queueCaptureJobs } from '../../db/captures.js';
import { certificationsOfDevice, lockCertification, markCertificationConfirmed } from '../../db/devices.js';

export type ConfirmationOutcome =
  { ok: true; windowsChanged: number; readmitted: string[] } | { ok: false; status: 403 | 404 | 409; error: string };

/**
 * A second person confirms a back-dated certification record (law L1 read with L9): from then
 * on it counts from its stated start, and what it affects is judged again at once.
 */
export async function confirmCertification(
  db: Db,
  certificationId: string,
  confirmer: { actor: string; isPerson: boolean },
  now = new Date(),
): Promise<ConfirmationOutcome> {
  if (!confirmer.isPerson) return { ok: false, status: 403, error: 'a back-dated certification is confirmed by a person, not a token' };
  return db.transaction(async (tx) => {
    const record = await lockCertification(tx, certificationId);
    if (!record) return { ok: false, status: 404, error: `no certification ${certificationId}` };
    if (!isBackdated(record)) return { ok: false, status: 409, error: 'this certification was not back-dated: it needs no confirmation' };
    if (record.confirmedAt) return { ok: false, status: 409, error: `already confirmed by ${record.confirmedBy ?? 'someone'}` };
    if (record.recordedBy === confirmer.actor) {
      return { ok: false, status: 409, error: 'you recorded this certification: a second person must confirm it' };
    }
    await markCertificationConfirmed(tx, record.id, confirmer.actor, now);
    await appendAudit(tx, {
      actor: confirmer.actor,
      action: 'device.certification_confirmed',
      subjectType: 'device',
      subjectId: record.deviceId,
      details: { certificationId: record.id, kind: record.kind, reference: record.reference, validFrom: record.validFrom.toISOString() },
    });
    return { ok: true, ...(await rejudgeDevice(tx, record.deviceId, confirmer.actor, `certification ${record.reference}`, now)) };
  });
}

/**
 * Judges a device again after its certification record changed: verification windows the
 * lapse opened end at the successor's start (or are withdrawn when no lapse is left), and
 * captures quarantined for nothing but a certification gap that no longer exists return to
 * screening. Everything is audited; a capture with any other quarantine reason stays where it is.
 */
export async function rejudgeDevice(
  tx: Tx,
  deviceId: string,
  actor: string,
  because: string,
  now: Date,
): Promise<{ windowsChanged: number; readmitted: string[] }> {
  const certifications = await certificationsOfDevice(tx, deviceId);
  const lapses = detectVerificationGaps(certifications, now);
  const windows = await unwithdrawnWindowsOf(tx, deviceId, 'verification_expired');
  let windowsChanged = 0;
  for (const window of windows) {
    const lapse = lapses.find((gap) => gap.startsAt.getTime() === window.startsAt.getTime());
    if (!lapse) {
      await withdrawWindow(tx, window.id, actor, `${because}: the device was verified throughout, no lapse is left`);
      windowsChanged++;
    } else if (lapse.endsAt && window.endsAt === null) {
      await closeWindow(tx, window, lapse.endsAt, actor, `${because}: the successor counts from ${lapse.endsAt.toISOString()}`);
      windowsChanged++;
    }
  }

  const quarantined = await lockQuarantinedCapturesOf(tx, deviceId);
  const readmitted: string[] = [];
  for (const capture of quarantined) {
    const reasons = capture.quarantineReasons ?? [];
    const onlyCertification = reasons.length > 0 && reasons.every((entry) => entry.code === 'not_certified_at_capture');
    if (!onlyCertification || !capture.capturedAt || !capture.deviceCaptureId) continue;
    if (certificationGapsAt(certifications, capture.capturedAt).length > 0) continue;
    // The device may since have sent the same capture again and had it accepted: that copy stands.
    if (await acceptedCopyOf(tx, deviceId, capture.deviceCaptureId)) continue;
    await changeCaptureState(tx, capture.id, {
      from: 'quarantined',
      to: 'verified',
      by: 'certification_rejudging',
      set: { quarantineReasons: null },
    });
    const capturedAt = capture.capturedAt.toISOString();
    await queueCaptureJobs(tx, [
      mediaJobFor(capture.id),
      { ...screeningJobFor({ id: capture.id, deviceId, capturedAt }), jobId: jobIdFor('screen-captures', `${capture.id}.readmitted`) },
    ]);
    await appendAudit(tx, {
      actor,
      action: 'capture.readmitted',
      subjectType: 'capture',
      subjectId: capture.id,
      details: { from: 'quarantined', to: 'verified', reasons, because },
    });
    readmitted.push(capture.id);
  }
  return { windowsChanged, readmitted };
}
