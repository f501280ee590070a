import { isBackdated } from '../../core/domain/certification.js';
import type { CertificationInput, Enrolment } from '../../core/domain/device-registration.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import {
  findDevice,
  insertCertification,
  insertDevice,
  lockDevice,
  replaceDeviceKey,
  setBrokerPasswordHash,
  setDeviceStatus,
  type DeviceStatus,
} from '../../db/devices.js';
import { rejudgeDevice } from './certification-rejudging.js';
import { keyFingerprint } from './key-fingerprint.js';

export type EnrolmentOutcome = 'enrolled' | 'unchanged' | 'conflict';
export type { DeviceStatus };
export type StatusChangeOutcome = 'changed' | 'unchanged' | 'not_found' | 'revoked_is_final';
export type KeyRotationOutcome = 'rotated' | 'not_found' | 'same_key' | 'revoked';
export type BrokerPasswordOutcome = 'issued' | 'not_found' | 'revoked';

/**
 * Enrols a device, or confirms an identical enrolment (so a device or script may retry).
 * A different key or identity under an existing id is a conflict: key rotation is its own,
 * audited action, never a side effect of enrolling again. A new device's broker password
 * hash, when given, is stored with it; a repeated enrolment leaves the stored one alone.
 */
export async function enrolDevice(
  db: Db,
  actor: string,
  id: string,
  enrolment: Enrolment,
  brokerPasswordHash?: string,
): Promise<EnrolmentOutcome> {
  return db.transaction(async (tx) => {
    const existing = await lockDevice(tx, id);
    if (existing) {
      const same = (Object.keys(enrolment) as (keyof Enrolment)[]).every((key) => existing[key] === enrolment[key]);
      return same ? 'unchanged' : 'conflict';
    }
    const now = new Date();
    await insertDevice(
      tx,
      { id, ...enrolment, enrolledAt: now },
      {
        deviceId: id,
        publicKeyPem: enrolment.publicKeyPem,
        fingerprint: keyFingerprint(enrolment.publicKeyPem),
        validFrom: now,
        reason: 'enrolment',
      },
    );
    if (brokerPasswordHash) await setBrokerPasswordHash(tx, id, brokerPasswordHash, now);
    await appendAudit(tx, { actor, action: 'device.enrolled', subjectType: 'device', subjectId: id, details: { ...enrolment } });
    return 'enrolled';
  });
}

/** Records a certification; returns undefined when the device does not exist. */
export async function addCertification(
  db: Db,
  actor: string,
  deviceId: string,
  input: CertificationInput,
  now = new Date(),
): Promise<string | undefined> {
  return db.transaction(async (tx) => {
    const device = await findDevice(tx, deviceId);
    if (!device) return undefined;
    const certificationId = await insertCertification(tx, {
      deviceId,
      kind: input.kind,
      reference: input.reference,
      validFrom: new Date(input.validFrom),
      validTo: new Date(input.validTo),
      documentSha256: input.documentSha256 ?? null,
      recordedAt: now,
      recordedBy: actor,
    });
    const backdated = isBackdated({ validFrom: new Date(input.validFrom), recordedAt: now });
    await appendAudit(tx, {
      actor,
      action: 'device.certification_added',
      subjectType: 'device',
      subjectId: deviceId,
      details: { certificationId, ...input, needsConfirmation: backdated },
    });
    // A record valid from now on can already end a lapse; a back-dated one rewrites the past only once confirmed.
    await rejudgeDevice(tx, deviceId, actor, `certification ${input.reference}`, now);
    return certificationId;
  });
}

/**
 * Enables, disables or revokes a device. Revocation is final: a revoked key may be in anyone's
 * hands, so the device comes back only as a new enrolment. Asking for the current status is
 * a no-op and leaves no audit entry.
 */
export async function changeDeviceStatus(
  db: Db,
  actor: string,
  id: string,
  change: { status: DeviceStatus; reason: string },
): Promise<StatusChangeOutcome> {
  return db.transaction(async (tx) => {
    const device = await lockDevice(tx, id);
    if (!device) return 'not_found';
    if (device.status === change.status) return 'unchanged';
    if (device.status === 'revoked') return 'revoked_is_final';
    await setDeviceStatus(tx, id, change.status);
    await appendAudit(tx, {
      actor,
      action: 'device.status_changed',
      subjectType: 'device',
      subjectId: id,
      details: { from: device.status, to: change.status, reason: change.reason },
    });
    return 'changed';
  });
}

/**
 * Replaces a device's signing key. From the commit on, captures taken later must carry the
 * new key; `device_keys` keeps when each key was valid, which the gateway reads to verify a
 * capture taken before the rotation (within the overlap of docs/protocol.md).
 */
export async function rotateDeviceKey(
  db: Db,
  actor: string,
  id: string,
  rotation: { publicKeyPem: string; reason: string },
): Promise<KeyRotationOutcome> {
  return db.transaction(async (tx) => {
    const device = await lockDevice(tx, id);
    if (!device) return 'not_found';
    if (device.status === 'revoked') return 'revoked';
    const previousFingerprint = keyFingerprint(device.publicKeyPem);
    const fingerprint = keyFingerprint(rotation.publicKeyPem);
    if (fingerprint === previousFingerprint) return 'same_key';
    const now = new Date();
    await replaceDeviceKey(tx, id, { publicKeyPem: rotation.publicKeyPem, fingerprint, reason: rotation.reason }, now);
    await appendAudit(tx, {
      actor,
      action: 'device.key_rotated',
      subjectType: 'device',
      subjectId: id,
      details: { previousFingerprint, fingerprint, publicKeyPem: rotation.publicKeyPem, reason: rotation.reason },
    });
    return 'rotated';
  });
}

/**
 * Replaces a device's broker password (the old one stops working once the broker's password
 * file is written again): for a device enrolled before passwords were issued, or whose
 * enrolment answer was lost. A revoked device gets none; its account leaves the file.
 */
export async function issueBrokerPassword(db: Db, actor: string, id: string, passwordHash: string): Promise<BrokerPasswordOutcome> {
  return db.transaction(async (tx) => {
    const device = await lockDevice(tx, id);
    if (!device) return 'not_found';
    if (device.status === 'revoked') return 'revoked';
    await setBrokerPasswordHash(tx, id, passwordHash, new Date());
    await appendAudit(tx, { actor, action: 'device.broker_password_issued', subjectType: 'device', subjectId: id, details: {} });
    return 'issued';
  });
}
