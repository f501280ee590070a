import { and, asc, eq, gt, isNull, lte, min, ne, notExists, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Executor, Tx } from './client.js';
import { deviceBrokerCredentials, deviceCertifications, deviceKeys, devices } from './schema.js';

export type DeviceRow = typeof devices.$inferSelect;
export type DeviceKeyRow = typeof deviceKeys.$inferSelect;
export type CertificationRow = typeof deviceCertifications.$inferSelect;
export type DeviceStatus = (typeof devices.status.enumValues)[number];
export const DEVICE_STATUSES = devices.status.enumValues;

/** One device, or undefined. */
export async function findDevice(executor: Executor, id: string): Promise<DeviceRow | undefined> {
  const [device] = await executor.select().from(devices).where(eq(devices.id, id));
  return device;
}

/** One device, locked until the transaction ends so status and key changes serialise. */
export async function lockDevice(tx: Tx, id: string): Promise<DeviceRow | undefined> {
  const [device] = await tx.select().from(devices).where(eq(devices.id, id)).for('update');
  return device;
}

/** Every device, by id. */
export async function listDeviceRows(executor: Executor): Promise<DeviceRow[]> {
  return executor.select().from(devices).orderBy(asc(devices.id));
}

/** Records a new device and the key it enrolled with. */
export async function insertDevice(tx: Tx, device: typeof devices.$inferInsert, key: typeof deviceKeys.$inferInsert): Promise<void> {
  await tx.insert(devices).values(device);
  await tx.insert(deviceKeys).values(key);
}

/** Sets a device's status. */
export async function setDeviceStatus(tx: Tx, id: string, status: DeviceStatus): Promise<void> {
  await tx.update(devices).set({ status }).where(eq(devices.id, id));
}

/** Ends the open key period at `at` and starts the new key's, so captures before `at` still verify with the old key. */
export async function replaceDeviceKey(
  tx: Tx,
  id: string,
  key: { publicKeyPem: string; fingerprint: string; reason: string },
  at: Date,
): Promise<void> {
  await tx
    .update(deviceKeys)
    .set({ validTo: at })
    .where(and(eq(deviceKeys.deviceId, id), isNull(deviceKeys.validTo)));
  await tx.insert(deviceKeys).values({ deviceId: id, ...key, validFrom: at });
  await tx.update(devices).set({ publicKeyPem: key.publicKeyPem }).where(eq(devices.id, id));
}

/** A device's key history, oldest first. */
export async function keysOfDevice(executor: Executor, deviceId: string): Promise<DeviceKeyRow[]> {
  return executor.select().from(deviceKeys).where(eq(deviceKeys.deviceId, deviceId)).orderBy(asc(deviceKeys.validFrom));
}

const certificationOrder = {
  kind: [asc(deviceCertifications.kind)],
  validFrom: [asc(deviceCertifications.validFrom)],
  unordered: [],
} satisfies Record<string, SQL[]>;

/** A device's certification records, in the order the caller shows them. */
export async function certificationsOfDevice(
  executor: Executor,
  deviceId: string,
  order: keyof typeof certificationOrder = 'unordered',
): Promise<CertificationRow[]> {
  return executor
    .select()
    .from(deviceCertifications)
    .where(eq(deviceCertifications.deviceId, deviceId))
    .orderBy(...certificationOrder[order]);
}

/** Every certification record of the fleet, by kind and start. */
export async function listAllCertifications(executor: Executor): Promise<CertificationRow[]> {
  return executor.select().from(deviceCertifications).orderBy(asc(deviceCertifications.kind), asc(deviceCertifications.validFrom));
}

/** One certification record, locked until the transaction ends. */
export async function lockCertification(tx: Tx, id: string): Promise<CertificationRow | undefined> {
  const [record] = await tx.select().from(deviceCertifications).where(eq(deviceCertifications.id, id)).for('update');
  return record;
}

/** Records a certification and returns its id. */
export async function insertCertification(tx: Tx, values: typeof deviceCertifications.$inferInsert): Promise<string> {
  const [row] = await tx.insert(deviceCertifications).values(values).returning({ id: deviceCertifications.id });
  if (!row) throw new Error('certification insert returned nothing');
  return row.id;
}

/** Marks a back-dated certification as confirmed by a second person. */
export async function markCertificationConfirmed(tx: Tx, id: string, confirmedBy: string, at: Date): Promise<void> {
  await tx.update(deviceCertifications).set({ confirmedBy, confirmedAt: at }).where(eq(deviceCertifications.id, id));
}

export interface LapsingCertification {
  certificationId: string;
  deviceId: string;
  kind: CertificationRow['kind'];
  reference: string;
  validTo: Date;
}

/**
 * Certifications ending in (`at`, `until`] that nothing renews: no record of the same kind for
 * the same device covers the moment they end. Revoked devices are left out.
 */
export async function listLapsingCertifications(executor: Executor, at: Date, until: Date): Promise<LapsingCertification[]> {
  const certification = deviceCertifications;
  const successor = alias(deviceCertifications, 'successor');
  return executor
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
        lte(certification.validTo, until),
        ne(devices.status, 'revoked'),
        notExists(
          executor
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
}

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
 * Enabled devices with a location publication valid at `at`. Only public columns are read, so
 * keys and serials cannot leak from here.
 */
export async function listPublishedDevices(executor: Executor, at: Date): Promise<PublishedDevice[]> {
  const rows = await executor
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

/** Every device that has not been revoked, by id. */
export async function listUnrevokedDevices(executor: Executor): Promise<DeviceRow[]> {
  return executor.select().from(devices).where(ne(devices.status, 'revoked')).orderBy(asc(devices.id));
}

/** Sets (or replaces) the hash of a device's broker password. */
export async function setBrokerPasswordHash(tx: Tx, deviceId: string, passwordHash: string, at: Date): Promise<void> {
  await tx
    .insert(deviceBrokerCredentials)
    .values({ deviceId, passwordHash, issuedAt: at })
    .onConflictDoUpdate({ target: deviceBrokerCredentials.deviceId, set: { passwordHash, issuedAt: at } });
}

/** The broker accounts of every device not revoked that has been issued a password: what the broker's password file holds. */
export async function listBrokerAccounts(executor: Executor): Promise<{ deviceId: string; passwordHash: string }[]> {
  return executor
    .select({ deviceId: deviceBrokerCredentials.deviceId, passwordHash: deviceBrokerCredentials.passwordHash })
    .from(deviceBrokerCredentials)
    .innerJoin(devices, eq(devices.id, deviceBrokerCredentials.deviceId))
    .where(ne(devices.status, 'revoked'))
    .orderBy(asc(deviceBrokerCredentials.deviceId));
}
