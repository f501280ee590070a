import { alias } from 'drizzle-orm/pg-core';
import { and, asc, eq, gt, lte, ne, notExists, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { deviceCertifications, devices } from '../../db/schema.js';

const DAY_MS = 24 * 3600 * 1000;

export interface ExpiringCertification {
  certificationId: string;
  deviceId: string;
  kind: string;
  reference: string;
  validTo: Date;
  /** Whole days, rounded up: "1" means it lapses within the next 24 hours. */
  daysLeft: number;
}

/**
 * Certifications lapsing within `days` of `at` that nothing renews: no certificate of the same
 * kind for the same device covers the moment they end, so the device will stop counting as
 * certified then. Revoked devices are left out; they will never capture again.
 */
export async function listExpiringCertifications(db: Db, at: Date, days: number): Promise<ExpiringCertification[]> {
  const certification = deviceCertifications;
  const successor = alias(deviceCertifications, 'successor');
  const rows = await db
    .select({
      certificationId: certification.id,
      deviceId: certification.deviceId,
      kind: certification.kind,
      reference: certification.reference,
      validTo: certification.validTo,
    })
    .from(certification)
    .innerJoin(devices, eq(devices.id, certification.deviceId))
    .where(
      and(
        gt(certification.validTo, at),
        lte(certification.validTo, new Date(at.getTime() + days * DAY_MS)),
        ne(devices.status, 'revoked'),
        notExists(
          db
            .select({ one: sql`1` })
            .from(successor)
            .where(
              and(
                eq(successor.deviceId, certification.deviceId),
                eq(successor.kind, certification.kind),
                lte(successor.validFrom, certification.validTo),
                gt(successor.validTo, certification.validTo),
              ),
            ),
        ),
      ),
    )
    .orderBy(asc(certification.validTo), asc(certification.deviceId), asc(certification.kind));
  return rows.map((row) => ({ ...row, daysLeft: Math.ceil((row.validTo.getTime() - at.getTime()) / DAY_MS) }));
}
