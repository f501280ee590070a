import { and, eq, isNull } from 'drizzle-orm';
import { isBackdated } from '../../core/domain/certification.js';
import type { CertificationInput, Enrolment } from '../../core/domain/device-registration.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import { deviceCertifications, deviceKeys, devices } from '../../db/schema.js';
import { rejudgeDevice } from './certification-rejudging.js';
import { keyFingerprint } from './key-fingerprint.js';

export type EnrolmentOutcome = 'enrolled' | 'unchanged' | 'conflict';
export type DeviceStatus = (typeof devices.status.enumValues)[number];
export type StatusChangeOutcome = 'changed' | 'unchanged' | 'not_found' | 'revoked_is_final';
export type KeyRotationOutcome = 'rotated' | 'not_found' | 'same_key' | 'revoked';

/**
 * Enrols a device, or confirms an identical enrolment (so a device or script may retry).
 * A different key or identity under an existing id is a conflict: key rotation is its own,
 * audited action, never a side effect of enrolling again.
 */
export async function enrolDevice(db: Db, actor: string, id: string, enrolment: Enrolment): Promise<EnrolmentOutcome> {
  return db.transaction(async (tx) => {
    const [existing] = await tx.select().from(devices).where(eq(devices.id, id)).for('update');
    if (existing) {
      const same = (Object.keys(enrolment) as (keyof Enrolment)[]).every((key) => existing[key] === enrolment[key]);
      return same ? 'unchanged' : 'conflict';
    }
    const now = new Date();
    await tx.insert(devices).values({ id, ...enrolment, enrolledAt: now });
    await tx.insert(deviceKeys).values({
      deviceId: id,
      publicKeyPem: enrolment.publicKeyPem,
      fingerprint: keyFingerprint(enrolment.publicKeyPem),
      validFrom: now,
      reason: 'enrolment',
    });
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
    const [device] = await tx.select({ id: devices.id }).from(devices).where(eq(devices.id, deviceId));
    if (!device) return undefined;
    const [row] = await tx
      .insert(deviceCertifications)
      .values({
        deviceId,
        kind: input.kind,
        reference: input.reference,
        validFrom: new Date(input.validFrom),
        validTo: new Date(input.validTo),
        documentSha256: input.documentSha256 ?? null,
        recordedAt: now,
        recordedBy: actor,
      })
      .returning({ id: deviceCertifications.id });
    if (!row) throw new Error('certification insert returned nothing');
    const backdated = isBackdated({ validFrom: new Date(input.validFrom), recordedAt: now });
    await appendAudit(tx, {
      actor,
      action: 'device.certification_added',
      subjectType: 'device',
      subjectId: deviceId,
      details: { certificationId: row.id, ...input, needsConfirmation: backdated },
    });
    // A record valid from now on can already end a lapse; a back-dated one rewrites the past only once confirmed.
    await rejudgeDevice(tx, deviceId, actor, `certification ${input.reference}`, now);
    return row.id;
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
    const [device] = await tx.select({ status: devices.status }).from(devices).where(eq(devices.id, id)).for('update');
    if (!device) return 'not_found';
    if (device.status === change.status) return 'unchanged';
    if (device.status === 'revoked') return 'revoked_is_final';
    await tx.update(devices).set({ status: change.status }).where(eq(devices.id, id));
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
    const [device] = await tx
      .select({ status: devices.status, publicKeyPem: devices.publicKeyPem })
      .from(devices)
      .where(eq(devices.id, id))
      .for('update');
    if (!device) return 'not_found';
    if (device.status === 'revoked') return 'revoked';
    const previousFingerprint = keyFingerprint(device.publicKeyPem);
    const fingerprint = keyFingerprint(rotation.publicKeyPem);
    if (fingerprint === previousFingerprint) return 'same_key';
    const now = new Date();
    await tx
      .update(deviceKeys)
      .set({ validTo: now })
      .where(and(eq(deviceKeys.deviceId, id), isNull(deviceKeys.validTo)));
    await tx
      .insert(deviceKeys)
      .values({ deviceId: id, publicKeyPem: rotation.publicKeyPem, fingerprint, validFrom: now, reason: rotation.reason });
    await tx.update(devices).set({ publicKeyPem: rotation.publicKeyPem }).where(eq(devices.id, id));
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
