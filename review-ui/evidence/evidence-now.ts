import { createPublicKey } from 'node:crypto';
import { evidenceEligibility, type CaptureState, type EvidenceEligibility } from '../../core/domain/capture-lifecycle.js';
import { signatureVerifies } from '../../core/domain/capture-verifier.js';
import { signingKeyOf } from '../../core/domain/key-history.js';
import {
  describeDifferences,
  mediaDifferences,
  signedEvidenceOf,
  type EvidenceDifference,
  type StoredCapture,
} from '../../core/domain/signed-evidence.js';
import { sha256Hex, type MediaStore } from '../../core/infrastructure/media-store.js';
import type { Executor } from '../../db/client.js';
import { deviceAtCapture, linkedMedia, type DeviceAtCapture, type LinkedMedium } from '../../db/capture-evidence.js';
import { lastDecisionOfCurrentRound } from '../../db/review-decisions.js';
import { windowsSetAsideFor } from '../../db/tampering-findings.js';
import type { DeviceKeyRow } from '../../db/devices.js';

export type CaptureOnRecord = StoredCapture & { id: string; deviceId: string; capturedAt: Date; receivedAt: Date; state: string };

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
 * Re-checks a capture now: the device's signature over the manifest bytes with the key it was
 * signed with, the database's copies of what was signed against the signed bytes, and every
 * media file re-hashed from storage, so what a reviewer sees, approves and exports is what the
 * device signed, not what the database remembers.
 */
export async function checkIntegrity(
  store: MediaStore,
  capture: CaptureOnRecord,
  keys: readonly DeviceKeyRow[],
  files: readonly Pick<LinkedMedium, 'name' | 'sha256'>[],
): Promise<Integrity & { key: DeviceKeyRow | undefined }> {
  const signed = signedEvidenceOf(capture);
  const verifies = (key: DeviceKeyRow) =>
    signed.readable && signatureVerifies(signed.manifestBytes, signed.signature, createPublicKey(key.publicKeyPem));
  const key = signed.readable
    ? signingKeyOf(keys, { capturedAt: new Date(signed.manifest.capturedAt), receivedAt: capture.receivedAt }, verifies)
    : undefined;
  const signatureValid = key ? verifies(key) : false;
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
    key,
  };
}

export interface EvidenceNow {
  eligibility: EvidenceEligibility;
  integrity: Integrity;
  /** The key the capture was signed with, as the integrity check chose it. */
  signingKey: DeviceKeyRow | undefined;
  view: DeviceAtCapture;
  media: LinkedMedium[];
}

/** Why a capture in the approved state is not approved on the record, if it is not: its state alone proves nothing. */
async function approvalNobodyGave(executor: Executor, capture: CaptureOnRecord): Promise<string | undefined> {
  if (capture.state !== 'approved') return undefined;
  const last = await lastDecisionOfCurrentRound(executor, capture.id);
  if (last?.outcome === 'approved') return undefined;
  return last
    ? `its state says approved, but the last decision of review round ${last.round} is ${last.outcome}`
    : 'its state says approved, but no reviewer decision is recorded in its current review round';
}

/** How far around the capture time windows are read: the reviewer sees the device's day either side. */
const DAY_MS = 24 * 3600_000;

/**
 * Gathers what the law asks about one capture and hands it to the one evidence rule
 * (evidenceEligibility in core/domain/capture-lifecycle.ts). `asState` asks "would it be
 * evidence in this state": an approval asks as if approved, before it writes anything.
 */
export async function evidenceNow(
  executor: Executor,
  store: MediaStore,
  capture: CaptureOnRecord,
  options: { asState?: CaptureState; reader?: { administeredDeviceIds: readonly string[] } } = {},
): Promise<EvidenceNow | undefined> {
  const signed = signedEvidenceOf(capture);
  // Every rule reads the signed capture time and violation, which no stored copy can move.
  const capturedAt = signed.readable ? new Date(signed.manifest.capturedAt) : capture.capturedAt;
  const period = { from: new Date(capturedAt.getTime() - DAY_MS), to: new Date(capturedAt.getTime() + DAY_MS) };
  // One after another: an approval passes its transaction, one connection that runs one query at a time.
  const view = await deviceAtCapture(executor, capture.deviceId, period);
  if (!view) return undefined;
  const media = await linkedMedia(executor, [capture.id]);
  const setAside = (await windowsSetAsideFor(executor, [capture.id])).get(capture.id) ?? [];
  const { key: signingKey, ...checked } = await checkIntegrity(store, capture, view.keys, media);
  // Read from the stored state, whatever state `asState` asks about: a decision about to be made has no record yet.
  const unrecorded = await approvalNobodyGave(executor, capture);
  const integrity = unrecorded ? { ...checked, intact: false, problems: [...checked.problems, unrecorded] } : checked;
  const signedMedia = signed.readable ? signed.manifest.media : [];
  const eligibility = evidenceEligibility({
    state: options.asState ?? (capture.state as CaptureState),
    deviceId: capture.deviceId,
    capturedAt,
    violationType: signed.readable ? signed.manifest.violationType : 'unspecified',
    certifications: view.certifications,
    integrityProblems: integrity.problems,
    media: media.map((medium) => ({
      name: medium.name,
      contentType: medium.contentType,
      capturedAt: signedMedia.find((item) => item.name === medium.name)?.capturedAt ?? capturedAt.toISOString(),
      width: medium.width ?? medium.quality?.width ?? null,
      height: medium.height ?? medium.quality?.height ?? null,
    })),
    windows: view.windows,
    overriddenWindowIds: setAside,
    ...(options.reader ? { reader: options.reader } : {}),
  });
  return { eligibility, integrity, signingKey, view, media };
}
