import { and, asc, eq, gt, lte, min } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { deviceCertifications, devices } from '../../db/schema.js';

export interface PublishedDevice {
  id: string;
  kind: string;
  agency: string;
  road: string;
  direction: string;
  latitude: number;
  longitude: number;
  publishedSince: Date;
}

/**
 * Devices the public may know about (law L1: a location is published before the device is
 * used): enabled, with a location publication valid at `at`. Only public columns are read, so
 * keys and serials cannot leak from here.
 */
export async function listPublishedDevices(db: Db, at: Date): Promise<PublishedDevice[]> {
  const rows = await db
    .select({
      id: devices.id,
      kind: devices.kind,
      agency: devices.agency,
      road: devices.road,
      direction: devices.direction,
      latitude: devices.latitude,
      longitude: devices.longitude,
      publishedSince: min(deviceCertifications.validFrom),
    })
    .from(devices)
    .innerJoin(
      deviceCertifications,
      and(
        eq(deviceCertifications.deviceId, devices.id),
        eq(deviceCertifications.kind, 'location_publication'),
        lte(deviceCertifications.validFrom, at),
        gt(deviceCertifications.validTo, at),
      ),
    )
    .where(eq(devices.status, 'enabled'))
    .groupBy(devices.id)
    .orderBy(asc(devices.road), asc(devices.direction), asc(devices.id));
  // The inner join guarantees a covering certificate, so the minimum is never null.
  return rows.map((row) => ({ ...row, publishedSince: row.publishedSince! }));
}
