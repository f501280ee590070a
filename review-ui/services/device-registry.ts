import { eq } from 'drizzle-orm';
import type { CertificationInput, Enrolment } from '../../core/device-registration.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import { deviceCertifications, devices } from '../../db/schema.js';

export type EnrolmentOutcome = 'enrolled' | 'unchanged' | 'conflict';

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
    await tx.insert(devices).values({ id, ...enrolment });
    await appendAudit(tx, { actor, action: 'device.enrolled', subjectType: 'device', subjectId: id, details: { ...enrolment } });
    return 'enrolled';
  });
}

/** Records a certification; returns undefined when the device does not exist. */
export async function addCertification(db: Db, actor: string, deviceId: string, input: CertificationInput): Promise<string | undefined> {
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
      })
      .returning({ id: deviceCertifications.id });
    if (!row) throw new Error('certification insert returned nothing');
    await appendAudit(tx, {
      actor,
      action: 'device.certification_added',
      subjectType: 'device',
      subjectId: deviceId,
      details: { certificationId: row.id, ...input },
    });
    return row.id;
  });
}
