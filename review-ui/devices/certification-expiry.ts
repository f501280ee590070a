import type { Db } from '../../db/client.js';
import { listLapsingCertifications } from '../../db/devices.js';

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
  const rows = await listLapsingCertifications(db, at, new Date(at.getTime() + days * DAY_MS));
  return rows.map((row) => ({ ...row, daysLeft: Math.ceil((row.validTo.getTime() - at.getTime()) / DAY_MS) }));
}
