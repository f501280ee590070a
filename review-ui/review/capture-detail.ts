import { createPublicKey } from 'node:crypto';
import { and, asc, desc, eq, gte, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { signatureVerifies } from '../../core/domain/capture-verifier.js';
import { certificationGapsAt } from '../../core/domain/certification.js';
import { keyValidAt } from '../../core/domain/key-history.js';
import { incidentSubject } from '../../core/domain/incidents.js';
import { sha256Hex, type MediaStore } from '../../core/infrastructure/media-store.js';
import { needsSecondApproval, reviewDeadline, type TwoPersonPolicy } from '../../core/domain/review-policy.js';
import {
  describeDifferences,
  mediaDifferences,
  signedEvidenceOf,
  type EvidenceDifference,
  type StoredCapture,
} from '../../core/domain/signed-evidence.js';
import type { Db, Executor } from '../../db/client.js';
import {
  captureAnnotations,
  captureMedia,
  captures,
  deviceCertifications,
  deviceHealthEvents,
  deviceKeys,
  devices,
  malfunctionWindows,
  media,
  mediaDerivatives,
  mediaQuality,
  people,
  reviewClaims,
  reviewDecisions,
} from '../../db/schema.js';

const HOUR_MS = 3600_000;

/**
 * Everything a reviewer needs to decide on one capture, in one answer: the manifest, the device's
 * certification and health at the moment of capture, integrity re-checked now (signature and
 * every media hash), quality flags, the decisions so far and earlier captures of the same subject.
 */
export async function captureDetail(
  db: Db,
  store: MediaStore,
  captureId: string,
  settings: TwoPersonPolicy & { deadlineDays: number },
  now = new Date(),
) {
  const [capture] = await db.select().from(captures).where(eq(captures.id, captureId));
  if (!capture?.deviceId || !capture.capturedAt || capture.state === 'quarantined') return undefined;
  const { deviceId, capturedAt } = capture;
  // What the reviewer reads is the signed manifest itself; the stored copy is only compared with it.
  const signed = signedEvidenceOf(capture);
  const manifest = (signed.readable ? signed.manifest : capture.manifest) as { readings?: Record<string, unknown>; clockOffsetMs?: number };
  const [device] = await db.select().from(devices).where(eq(devices.id, deviceId));
  if (!device) return undefined;

  const [certifications, integrity, windows, healthEvents, mediaRows, decisions, annotations, [claim]] = await Promise.all([
    db.select().from(deviceCertifications).where(eq(deviceCertifications.deviceId, deviceId)).orderBy(asc(deviceCertifications.kind)),
    checkIntegrity(db, store, { ...capture, deviceId }),
    db
      .select()
      .from(malfunctionWindows)
      .where(
        and(
          eq(malfunctionWindows.deviceId, deviceId),
          lte(malfunctionWindows.startsAt, new Date(capturedAt.getTime() + 24 * HOUR_MS)),
          or(isNull(malfunctionWindows.endsAt), gte(malfunctionWindows.endsAt, new Date(capturedAt.getTime() - 24 * HOUR_MS))),
        ),
      )
      .orderBy(asc(malfunctionWindows.startsAt)),
    db
      .select({ kind: deviceHealthEvents.kind, reportedAt: deviceHealthEvents.reportedAt, payload: deviceHealthEvents.payload })
      .from(deviceHealthEvents)
      .where(
        and(
          eq(deviceHealthEvents.deviceId, deviceId),
          lte(deviceHealthEvents.reportedAt, capturedAt),
          gte(deviceHealthEvents.reportedAt, new Date(capturedAt.getTime() - 24 * HOUR_MS)),
        ),
      )
      .orderBy(desc(deviceHealthEvents.reportedAt))
      .limit(200),
    db
      .select({
        name: captureMedia.name,
        sha256: media.sha256,
        contentType: media.contentType,
        sizeBytes: media.sizeBytes,
        width: mediaQuality.width,
        height: mediaQuality.height,
        sharpness: mediaQuality.sharpness,
        meanLuminance: mediaQuality.meanLuminance,
        durationSeconds: mediaQuality.durationSeconds,
        flags: mediaQuality.flags,
      })
      .from(captureMedia)
      .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
      .leftJoin(mediaQuality, eq(mediaQuality.sha256, media.sha256))
      .where(eq(captureMedia.captureId, captureId))
      .orderBy(asc(captureMedia.name)),
    db
      .select({
        round: reviewDecisions.round,
        step: reviewDecisions.step,
        outcome: reviewDecisions.outcome,
        by: people.displayName,
        certificateNumber: reviewDecisions.certificateNumber,
        reasonCode: reviewDecisions.reasonCode,
        note: reviewDecisions.note,
        decidedAt: reviewDecisions.decidedAt,
      })
      .from(reviewDecisions)
      .innerJoin(people, eq(people.id, reviewDecisions.personId))
      .where(eq(reviewDecisions.captureId, captureId))
      .orderBy(asc(reviewDecisions.decidedAt)),
    db
      .select({ kind: captureAnnotations.kind, note: captureAnnotations.note, by: people.displayName, at: captureAnnotations.createdAt })
      .from(captureAnnotations)
      .innerJoin(people, eq(people.id, captureAnnotations.personId))
      .where(eq(captureAnnotations.captureId, captureId))
      .orderBy(asc(captureAnnotations.createdAt)),
    db
      .select({ personId: reviewClaims.personId, by: people.displayName, expiresAt: reviewClaims.expiresAt })
      .from(reviewClaims)
      .innerJoin(people, eq(people.id, reviewClaims.personId))
      .where(and(eq(reviewClaims.captureId, captureId), sql`${reviewClaims.expiresAt} > ${now}`)),
  ]);

  const derivatives =
    mediaRows.length > 0
      ? await db
          .select()
          .from(mediaDerivatives)
          .where(
            inArray(
              mediaDerivatives.sourceSha256,
              mediaRows.map((row) => row.sha256),
            ),
          )
      : [];

  const subject = incidentSubject(capture.id, manifest.readings);
  const earlier = subject.startsWith('plate:')
    ? await db
        .select({
          id: captures.id,
          deviceId: captures.deviceId,
          capturedAt: captures.capturedAt,
          state: captures.state,
          violationType: captures.violationType,
        })
        .from(captures)
        .where(
          and(
            ne(captures.id, capture.id),
            ne(captures.state, 'quarantined'),
            sql`upper(trim(${captures.manifest} #>> '{readings,plate}')) = ${subject.slice('plate:'.length)}`,
            lte(captures.capturedAt, capturedAt),
          ),
        )
        .orderBy(desc(captures.capturedAt))
        .limit(10)
    : [];

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
    media: mediaRows.map((row) => {
      const of = (kind: string) =>
        derivatives.find((derivative) => derivative.sourceSha256 === row.sha256 && derivative.kind === kind)?.derivedSha256 ?? null;
      return {
        ...row,
        flags: row.flags ?? [],
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

/** Whether a file may be served as part of this capture: one of its originals or something derived from one. */
export async function belongsToCapture(db: Db, captureId: string, sha256: string): Promise<{ contentType: string } | undefined> {
  const [original] = await db
    .select({ contentType: media.contentType })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .where(and(eq(captureMedia.captureId, captureId), eq(captureMedia.mediaSha256, sha256)));
  if (original) return original;
  const [derived] = await db
    .select({ contentType: media.contentType })
    .from(mediaDerivatives)
    .innerJoin(captureMedia, eq(captureMedia.mediaSha256, mediaDerivatives.sourceSha256))
    .innerJoin(media, eq(media.sha256, mediaDerivatives.derivedSha256))
    .where(and(eq(captureMedia.captureId, captureId), eq(mediaDerivatives.derivedSha256, sha256)));
  return derived;
}

export interface Integrity {
  signature: { valid: boolean; keyFingerprint: string | null };
  /** Whether the database's copies of the signed fields (columns, jsonb manifest, media links) agree with the signed bytes. */
  record: { matchesSigned: boolean; differences: EvidenceDifference[]; unreadable: string | null };
  media: { name: string; expected: string; actual: string | null; matches: boolean }[];
  intact: boolean;
  /** Why it is not intact, in words a reviewer and an error message can use; empty when intact. */
  problems: string[];
}

/**
 * Re-checks a capture now: the device's signature over the manifest bytes with the key valid
 * when it was captured, the database's copies of what was signed against the signed bytes, and
 * every media file re-hashed from storage, so what a reviewer sees and approves is what the
 * device signed, not what the database remembers. Pass the transaction when inside one.
 */
export async function checkIntegrity(
  db: Executor,
  store: MediaStore,
  capture: StoredCapture & { id: string; deviceId: string; receivedAt: Date },
): Promise<Integrity> {
  const signed = signedEvidenceOf(capture);
  // The key of the capture time, as the gateway chose it: after a rotation a capture sent within
  // the overlap was signed with the replaced key.
  const history = await db.select().from(deviceKeys).where(eq(deviceKeys.deviceId, capture.deviceId));
  const key = signed.readable ? keyValidAt(history, new Date(signed.manifest.capturedAt)) : undefined;
  const files = await db
    .select({ name: captureMedia.name, sha256: captureMedia.mediaSha256 })
    .from(captureMedia)
    .where(eq(captureMedia.captureId, capture.id))
    .orderBy(asc(captureMedia.name));
  const signatureValid =
    key && signed.readable ? signatureVerifies(signed.manifestBytes, signed.signature, createPublicKey(key.publicKeyPem)) : false;
  const differences = signed.readable ? [...signed.differences, ...mediaDifferences(signed.manifest, files)] : [];
  const media = await Promise.all(
    files.map(async (file) => {
      const actual = await store.get(file.sha256).then(sha256Hex, () => null);
      return { name: file.name, expected: file.sha256, actual, matches: actual === file.sha256 };
    }),
  );
  const problems = [
    ...(signed.readable ? [] : [`the signed message cannot be read: ${signed.problem}`]),
    ...(signed.readable && !signatureValid ? ['the device signature does not verify'] : []),
    ...(differences.length > 0 ? [`the database differs from what the device signed: ${describeDifferences(differences)}`] : []),
    ...(media.length === 0 ? ['no media is linked to it'] : []),
    ...media
      .filter((file) => !file.matches)
      .map(
        (file) =>
          `${file.name}: ${file.actual ? `stored bytes hash to ${file.actual}, signed ${file.expected}` : 'file missing from storage'}`,
      ),
  ];
  return {
    signature: { valid: signatureValid, keyFingerprint: key?.fingerprint ?? null },
    record: {
      matchesSigned: signed.readable && differences.length === 0,
      differences,
      unreadable: signed.readable ? null : signed.problem,
    },
    media,
    intact: problems.length === 0,
    problems,
  };
}
