import { certificationGapsAt } from '../../core/domain/certification.js';
import { incidentSubject } from '../../core/domain/incidents.js';
import type { MediaStore } from '../../core/infrastructure/media-store.js';
import { needsSecondApproval, reviewDeadline, type TwoPersonPolicy } from '../../core/domain/review-policy.js';
import { signedEvidenceOf } from '../../core/domain/signed-evidence.js';
import type { Db } from '../../db/client.js';
import {
  annotationsOn,
  decisionsOn,
  derivativesOf,
  earlierCapturesOfPlate,
  findCapture,
  healthReportsBefore,
  liveClaimOn,
} from '../../db/capture-detail-reads.js';
import { evidenceNow } from '../evidence/evidence-now.js';

const HOUR_MS = 3600_000;

/**
 * Everything a reviewer needs to decide on one capture, in one answer: the manifest, the device's
 * certification and health at the moment of capture, integrity re-checked now (signature and
 * every media hash), quality flags, whether it could be evidence if approved and why not, the
 * decisions so far and earlier captures of the same subject.
 */
export async function captureDetail(
  db: Db,
  store: MediaStore,
  captureId: string,
  settings: TwoPersonPolicy & { deadlineDays: number },
  now = new Date(),
) {
  const capture = await findCapture(db, captureId);
  if (!capture?.deviceId || !capture.capturedAt || capture.state === 'quarantined' || capture.purgedAt) return undefined;
  const { deviceId, capturedAt } = capture;
  // What the reviewer reads is the signed manifest itself; the stored copy is only compared with it.
  const signed = signedEvidenceOf(capture);
  const manifest = (signed.readable ? signed.manifest : capture.manifest) as { readings?: Record<string, unknown>; clockOffsetMs?: number };
  const subject = incidentSubject(capture.id, manifest.readings);

  const [evidence, healthEvents, decisions, annotations, claim, earlier] = await Promise.all([
    evidenceNow(db, store, { ...capture, deviceId, capturedAt }, { asState: 'approved' }),
    healthReportsBefore(db, deviceId, capturedAt, 24 * HOUR_MS),
    decisionsOn(db, captureId),
    annotationsOn(db, captureId),
    liveClaimOn(db, captureId, now),
    subject.startsWith('plate:') ? earlierCapturesOfPlate(db, { id: capture.id, capturedAt }, subject.slice('plate:'.length)) : [],
  ]);
  if (!evidence) return undefined;
  const { view, media: mediaRows } = evidence;
  const { integrity } = evidence;
  const { device, windows } = view;
  const certifications = [...view.certifications].sort((a, b) => a.kind.localeCompare(b.kind));
  const derivatives = await derivativesOf(
    db,
    mediaRows.map((row) => row.sha256),
  );

  const gaps = certificationGapsAt(certifications, capturedAt);
  const deadline = reviewDeadline(capturedAt, settings.deadlineDays);
  return {
    capture: {
      id: capture.id,
      state: capture.state,
      deviceCaptureId: signed.readable ? signed.manifest.captureId : capture.deviceCaptureId,
      violationType: signed.readable ? signed.manifest.violationType : capture.violationType,
      capturedAt: signed.readable ? new Date(signed.manifest.capturedAt) : capturedAt,
      receivedAt: capture.receivedAt,
      deadline,
      overdue: deadline.getTime() < now.getTime(),
      reviewRound: capture.reviewRound,
      incidentId: capture.incidentId,
      manifest,
      twoPersonRule: needsSecondApproval(
        { violationType: signed.readable ? signed.manifest.violationType : capture.violationType, readings: manifest.readings },
        settings,
      ),
    },
    device: {
      id: device.id,
      kind: device.kind,
      model: device.model,
      serial: device.serial,
      agency: device.agency,
      road: device.road,
      direction: device.direction,
      latitude: device.latitude,
      longitude: device.longitude,
      status: device.status,
    },
    certification: {
      certifiedAtCapture: gaps.length === 0,
      gaps,
      records: certifications.map((row) => ({
        kind: row.kind,
        reference: row.reference,
        validFrom: row.validFrom,
        validTo: row.validTo,
        coversCapture: row.validFrom <= capturedAt && capturedAt < row.validTo,
      })),
    },
    health: {
      clockOffsetMs: manifest.clockOffsetMs ?? null,
      lastHeartbeatBefore: healthEvents.find((event) => event.kind === 'heartbeat')?.reportedAt ?? null,
      reportsBefore: healthEvents.filter((event) => event.kind !== 'heartbeat').slice(0, 20),
      windows: windows.map((window) => ({
        id: window.id,
        source: window.source,
        startsAt: window.startsAt,
        endsAt: window.endsAt,
        reason: window.reason,
        withdrawn: window.withdrawnAt !== null,
        coversCapture:
          window.withdrawnAt === null && window.startsAt <= capturedAt && (window.endsAt === null || capturedAt < window.endsAt),
      })),
    },
    integrity,
    evidence: evidence.eligibility,
    media: mediaRows.map(({ captureId: _captureId, quality, ...row }) => {
      const of = (kind: string) =>
        derivatives.find((derivative) => derivative.sourceSha256 === row.sha256 && derivative.kind === kind)?.derivedSha256 ?? null;
      return {
        ...row,
        // As measured by the quality worker: the viewer reads null as "not measured yet".
        width: quality?.width ?? null,
        height: quality?.height ?? null,
        sharpness: quality?.sharpness ?? null,
        meanLuminance: quality?.meanLuminance ?? null,
        durationSeconds: quality?.durationSeconds ?? null,
        flags: quality?.flags ?? [],
        thumbnailSha256: of('thumbnail'),
        reviewSha256: of('review'),
        posterSha256: of('poster'),
        keyframeSha256s: derivatives
          .filter((derivative) => derivative.sourceSha256 === row.sha256 && derivative.kind.startsWith('keyframe-'))
          .sort((a, b) => a.kind.localeCompare(b.kind, 'en', { numeric: true }))
          .map((derivative) => derivative.derivedSha256),
      };
    }),
    decisions,
    annotations,
    claim: claim ? { by: claim.by, personId: claim.personId, expiresAt: claim.expiresAt } : null,
    earlierCaptures: earlier,
  };
}

export type CaptureDetail = NonNullable<Awaited<ReturnType<typeof captureDetail>>>;
