import { verify, type KeyObject } from 'node:crypto';
import { certificationGapsAt, type CertificationPeriod } from './certification.js';
import { keyValidAt, retiredKeyProblem, type KeyPeriod } from './key-history.js';
import { envelopeSchema, manifestSchema, type Manifest, type MediaItem } from './protocol.js';
import { reason, type QuarantineReason } from './quarantine-reasons.js';
import { readingProblems, type DeviceKind } from './reading-schemas.js';
import { parseStrictJson } from './strict-json.js';

export type EnvelopeReading =
  | { ok: true; manifest: Manifest; manifestBytes: Buffer; signature: Buffer }
  | { ok: false; reasons: QuarantineReason[]; claimed: { deviceId?: string; captureId?: string } };

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/** Salvages what a broken manifest claims, so its quarantine entry can still be found by device. */
function claimedIdentity(value: unknown): { deviceId?: string; captureId?: string } {
  if (typeof value !== 'object' || value === null) return {};
  const record = value as Record<string, unknown>;
  return {
    ...(typeof record.deviceId === 'string' ? { deviceId: record.deviceId.slice(0, 64) } : {}),
    ...(typeof record.captureId === 'string' ? { captureId: record.captureId.slice(0, 64) } : {}),
  };
}

function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return true;
  return Object.values(value).some(hasProtoKey);
}

/** Parses a captures-topic payload into the signed manifest bytes, the signature and the manifest. */
export function readEnvelope(payload: Buffer): EnvelopeReading {
  const envelopeJson = parseStrictJson(payload);
  if (!envelopeJson.ok) return { ok: false, reasons: [reason('message_malformed', envelopeJson.problem)], claimed: {} };
  const envelope = envelopeSchema.safeParse(envelopeJson.value);
  if (!envelope.success) {
    return { ok: false, reasons: [reason('message_malformed', describeIssues(envelope.error.issues))], claimed: {} };
  }
  const manifestBytes = Buffer.from(envelope.data.manifest, 'base64');
  const signature = Buffer.from(envelope.data.signature, 'base64');
  const parsed = parseStrictJson(manifestBytes);
  if (!parsed.ok) return { ok: false, reasons: [reason('manifest_invalid', parsed.problem)], claimed: {} };
  const manifestJson = parsed.value;
  if (hasProtoKey(manifestJson)) {
    // JSON.parse keeps "__proto__" as a key but schema parsing drops it, so the stored manifest
    // would silently differ from the bytes the device signed: refuse it instead.
    return {
      ok: false,
      reasons: [reason('manifest_invalid', 'the key "__proto__" is not allowed')],
      claimed: claimedIdentity(manifestJson),
    };
  }
  const manifest = manifestSchema.safeParse(manifestJson);
  if (!manifest.success) {
    return {
      ok: false,
      reasons: [reason('manifest_invalid', describeIssues(manifest.error.issues))],
      claimed: claimedIdentity(manifestJson),
    };
  }
  const names = new Set(manifest.data.media.map((item) => item.name));
  if (names.size !== manifest.data.media.length) {
    return {
      ok: false,
      reasons: [reason('manifest_invalid', 'media names must be unique')],
      claimed: claimedIdentity(manifestJson),
    };
  }
  return { ok: true, manifest: manifest.data, manifestBytes, signature };
}

export interface DeviceKey extends KeyPeriod {
  publicKey: KeyObject;
  fingerprint: string;
}

export interface RegisteredDevice {
  id: string;
  status: 'enabled' | 'disabled' | 'revoked';
  kind: DeviceKind;
  /** The current key, which signs health reports (they are about now). */
  publicKey: KeyObject;
  /** Every key the device has had, so a capture is checked with the key of its capture time. */
  keys: readonly DeviceKey[];
  certifications: readonly CertificationPeriod[];
}

/**
 * Everything that can be decided before the media arrives: who sent it, whether they could
 * lawfully capture at that moment, and whether the manifest is theirs. Empty means it passes.
 */
export function checkProvenance(input: {
  topicDeviceId: string;
  manifest: Manifest;
  manifestBytes: Buffer;
  signature: Buffer;
  device: RegisteredDevice | undefined;
  receivedAt: Date;
  keyRotationOverlapMs: number;
}): QuarantineReason[] {
  const { topicDeviceId, manifest, device } = input;
  if (manifest.deviceId !== topicDeviceId) {
    return [reason('device_mismatch', `topic says ${topicDeviceId}, manifest says ${manifest.deviceId}`)];
  }
  if (!device) return [reason('device_unknown', `no registered device ${manifest.deviceId}`)];
  if (device.status === 'revoked') return [reason('device_revoked')];
  // An unsigned claim cannot be trusted for anything else, certification included.
  const unsigned = (detail?: string) => [
    ...(device.status === 'disabled' ? [reason('device_disabled')] : []),
    reason('signature_invalid', detail),
  ];
  const key = keyValidAt(device.keys, new Date(manifest.capturedAt));
  if (!key) return unsigned(`no key of the device was valid at ${manifest.capturedAt}`);
  if (!signatureVerifies(input.manifestBytes, input.signature, key.publicKey)) {
    return unsigned(key.validTo === null ? undefined : `does not verify with the key valid at ${manifest.capturedAt} (${key.fingerprint})`);
  }
  const retired = retiredKeyProblem(key, input.receivedAt, input.keyRotationOverlapMs);
  if (retired) return unsigned(retired);
  return checkDeviceStanding(device, new Date(manifest.capturedAt));
}

/**
 * Provenance failures after which nothing the message claims can be trusted: such a capture
 * is quarantined at once. The others (a disabled or uncertified device) are reported together
 * with everything the media checks find.
 */
export const UNTRUSTED_PROVENANCE = new Set<QuarantineReason['code']>([
  'device_mismatch',
  'device_unknown',
  'device_revoked',
  'signature_invalid',
]);

/** Whether a genuine device could lawfully capture at `capturedAt`: enabled and fully certified. */
export function checkDeviceStanding(device: RegisteredDevice, capturedAt: Date): QuarantineReason[] {
  const reasons: QuarantineReason[] = [];
  if (device.status === 'disabled') reasons.push(reason('device_disabled'));
  const gaps = certificationGapsAt(device.certifications, capturedAt);
  if (gaps.length > 0) {
    reasons.push(
      reason(
        'not_certified_at_capture',
        `at ${capturedAt.toISOString()}: ${gaps.map((gap) => `${gap.kind} ${gap.problem.replaceAll('_', ' ')}`).join(', ')}`,
      ),
    );
  }
  return reasons;
}

export function signatureVerifies(message: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

/** Compares a media file as received with what the signed manifest promised. */
export function checkMediaFile(item: MediaItem, received: { sha256: string; sizeBytes: number }): QuarantineReason[] {
  const reasons: QuarantineReason[] = [];
  if (received.sizeBytes !== item.sizeBytes) {
    reasons.push(reason('media_size_mismatch', `${item.name}: manifest says ${item.sizeBytes} bytes, received ${received.sizeBytes}`));
  }
  if (received.sha256 !== item.sha256) {
    reasons.push(reason('media_hash_mismatch', `${item.name}: manifest says ${item.sha256}, received ${received.sha256}`));
  }
  return reasons;
}

/**
 * Whether the readings are the ones the violation type's schema names, from a kind of device
 * that reports the type: the review and plausibility rules key on those names, so a misnamed
 * reading must not pass unread.
 */
export function checkReadings(
  manifest: Pick<Manifest, 'violationType' | 'readings'>,
  deviceKind: DeviceKind | undefined,
): QuarantineReason[] {
  const problems = readingProblems(manifest.violationType, manifest.readings, deviceKind);
  return problems.length === 0 ? [] : [reason('readings_invalid', `${manifest.violationType}: ${problems.join('; ')}`)];
}
