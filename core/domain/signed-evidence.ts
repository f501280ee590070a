import { createHash } from 'node:crypto';
import diff from 'microdiff';
import { readEnvelope } from './capture-verifier.js';
import type { Manifest } from './protocol.js';

/** The columns of a capture row that repeat what the device signed, for fast queries. */
export interface StoredCapture {
  messageSha256: string;
  rawMessage: Buffer;
  deviceId: string | null;
  deviceCaptureId: string | null;
  violationType: string | null;
  capturedAt: Date | null;
  latitude: number | null;
  longitude: number | null;
  manifest: unknown;
}

/** One place where the database says something other than the signed bytes. */
export interface EvidenceDifference {
  field: string;
  stored: unknown;
  signed: unknown;
}

export type SignedEvidence =
  | { readable: true; manifest: Manifest; manifestBytes: Buffer; signature: Buffer; differences: EvidenceDifference[] }
  | { readable: false; problem: string };

/**
 * The signed bytes are the evidence; the row's columns and jsonb manifest are copies kept for
 * queries. This reads the evidence from the bytes and names every copy that no longer agrees,
 * so a database edit shows as a named difference instead of as the device's word.
 */
export function signedEvidenceOf(row: StoredCapture): SignedEvidence {
  const reading = readEnvelope(row.rawMessage);
  if (!reading.ok) return { readable: false, problem: reading.reasons.map((reason) => reason.detail || reason.code).join('; ') };
  const { manifest } = reading;
  const differences: EvidenceDifference[] = [];
  const compare = (field: string, stored: unknown, signed: unknown) => {
    if (stored !== signed) differences.push({ field, stored, signed });
  };
  compare('messageSha256', row.messageSha256, createHash('sha256').update(row.rawMessage).digest('hex'));
  compare('deviceId', row.deviceId, manifest.deviceId);
  compare('deviceCaptureId', row.deviceCaptureId, manifest.captureId);
  compare('violationType', row.violationType, manifest.violationType);
  compare('capturedAt', row.capturedAt?.toISOString() ?? null, new Date(manifest.capturedAt).toISOString());
  compare('latitude', row.latitude, manifest.location.latitude);
  compare('longitude', row.longitude, manifest.location.longitude);
  // The jsonb copy went through JSON once on its way in; compare like with like.
  const signedCopy = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
  if (typeof row.manifest !== 'object' || row.manifest === null || Array.isArray(row.manifest)) {
    differences.push({ field: 'manifest', stored: row.manifest, signed: signedCopy });
  } else {
    for (const change of diff(row.manifest as Record<string, unknown>, signedCopy)) {
      differences.push({
        field: ['manifest', ...change.path].join('.'),
        stored: change.type === 'CREATE' ? undefined : change.oldValue,
        signed: change.type === 'REMOVE' ? undefined : change.value,
      });
    }
  }
  return { readable: true, manifest, manifestBytes: reading.manifestBytes, signature: reading.signature, differences };
}

/** Compares the media a capture row links with the media its signed manifest names. */
export function mediaDifferences(manifest: Manifest, linked: readonly { name: string; sha256: string }[]): EvidenceDifference[] {
  const differences: EvidenceDifference[] = [];
  for (const item of manifest.media) {
    const found = linked.find((file) => file.name === item.name);
    if (found?.sha256 !== item.sha256)
      differences.push({ field: `media.${item.name}`, stored: found?.sha256 ?? null, signed: item.sha256 });
  }
  for (const file of linked) {
    if (!manifest.media.some((item) => item.name === file.name))
      differences.push({ field: `media.${file.name}`, stored: file.sha256, signed: null });
  }
  return differences;
}

/** A sentence naming each difference, for refusals and the reviewer's integrity panel. */
export function describeDifferences(differences: readonly EvidenceDifference[]): string {
  const shown = (value: unknown) => (value === undefined ? 'nothing' : JSON.stringify(value));
  return differences.map((d) => `${d.field}: the database says ${shown(d.stored)}, the device signed ${shown(d.signed)}`).join('; ');
}
