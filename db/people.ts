import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { ROLES, type Certificate, type Role } from '../core/domain/roles.js';
import type { Executor, Tx } from './client.js';
import { deviceAdministrators, devices, people } from './schema.js';

/** A person as the rest of the system sees them: never the password hash. */
export interface Person {
  id: string;
  username: string;
  displayName: string;
  roles: Role[];
  certificate: Certificate | null;
  disabledAt: Date | null;
}

/** The columns a person's create or change writes; the certificate's expiry as a Date. */
export interface PersonFields {
  displayName: string;
  roles: Role[];
  certificate: { number: string; expiresAt: Date } | null;
  disabledAt: Date | null;
}

type PersonRow = typeof people.$inferSelect;

function toPerson(row: PersonRow): Person {
  return {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    // A role name the code no longer knows grants nothing.
    roles: row.roles.filter((role): role is Role => (ROLES as readonly string[]).includes(role)),
    certificate:
      row.certificateNumber && row.certificateExpiresAt ? { number: row.certificateNumber, expiresAt: row.certificateExpiresAt } : null,
    disabledAt: row.disabledAt,
  };
}

const normalisedUsername = (username: string) => username.trim().toLowerCase();

/** A person and their password hash by username (trimmed, lower-cased), for checking a login. */
export async function findCredentials(db: Executor, username: string): Promise<{ person: Person; passwordHash: string } | undefined> {
  const [row] = await db
    .select()
    .from(people)
    .where(eq(people.username, normalisedUsername(username)));
  return row ? { person: toPerson(row), passwordHash: row.passwordHash } : undefined;
}

export async function findPersonById(db: Executor, id: string): Promise<Person | undefined> {
  const [row] = await db.select().from(people).where(eq(people.id, id));
  return row ? toPerson(row) : undefined;
}

export async function findPersonByUsername(db: Executor, username: string): Promise<Person | undefined> {
  return (await findCredentials(db, username))?.person;
}

/** Locks the person's row for the rest of the transaction, so concurrent changes to them queue up. */
export async function lockPerson(tx: Tx, id: string): Promise<Person | undefined> {
  const [row] = await tx.select().from(people).where(eq(people.id, id)).for('update');
  return row ? toPerson(row) : undefined;
}

/**
 * Locks every active system administrator's row and returns how many there are: two admins
 * demoting each other at once then queue up, so one always remains.
 */
export async function lockActiveSystemAdmins(tx: Tx): Promise<number> {
  const admins = await tx
    .select({ id: people.id })
    .from(people)
    .where(and(isNull(people.disabledAt), sql`${people.roles} ? 'system_admin'`))
    .for('update');
  return admins.length;
}

/** Everyone by username, each with the devices they administer. */
export async function listPeopleWithDevices(db: Executor): Promise<(Person & { administeredDeviceIds: string[] })[]> {
  const rows = await db.select().from(people).orderBy(asc(people.username));
  const administered = await db.select().from(deviceAdministrators);
  return rows.map((row) => ({
    ...toPerson(row),
    administeredDeviceIds: administered.filter((link) => link.personId === row.id).map((link) => link.deviceId),
  }));
}

export async function administeredDeviceIds(db: Executor, personId: string): Promise<string[]> {
  const rows = await db
    .select({ deviceId: deviceAdministrators.deviceId })
    .from(deviceAdministrators)
    .where(eq(deviceAdministrators.personId, personId));
  return rows.map((row) => row.deviceId);
}

/** The ids among `deviceIds` that name no registered device. */
export async function unknownDeviceIds(db: Executor, deviceIds: string[]): Promise<string[]> {
  if (deviceIds.length === 0) return [];
  const known = new Set((await db.select({ id: devices.id }).from(devices)).map((row) => row.id));
  return deviceIds.filter((id) => !known.has(id));
}

/** Replaces the set of devices a person administers. */
export async function replaceAdministeredDevices(tx: Tx, personId: string, deviceIds: string[]): Promise<void> {
  await tx.delete(deviceAdministrators).where(eq(deviceAdministrators.personId, personId));
  await addAdministeredDevices(tx, personId, deviceIds);
}

export async function addAdministeredDevices(tx: Tx, personId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await tx.insert(deviceAdministrators).values(deviceIds.map((deviceId) => ({ personId, deviceId })));
}

/** Inserts a person; undefined when the username is taken. */
export async function insertPerson(
  tx: Tx,
  person: { username: string; displayName: string; passwordHash: string; roles: Role[]; certificate: PersonFields['certificate'] },
): Promise<Person | undefined> {
  const [row] = await tx
    .insert(people)
    .values({
      username: person.username,
      displayName: person.displayName,
      passwordHash: person.passwordHash,
      roles: person.roles,
      certificateNumber: person.certificate?.number ?? null,
      certificateExpiresAt: person.certificate?.expiresAt ?? null,
    })
    .onConflictDoNothing({ target: people.username })
    .returning();
  return row ? toPerson(row) : undefined;
}

/** Writes a person's name, roles, certificate and disabled state. */
export async function updatePerson(tx: Tx, id: string, fields: PersonFields): Promise<Person | undefined> {
  const [row] = await tx
    .update(people)
    .set({
      displayName: fields.displayName,
      roles: fields.roles,
      certificateNumber: fields.certificate?.number ?? null,
      certificateExpiresAt: fields.certificate?.expiresAt ?? null,
      disabledAt: fields.disabledAt,
    })
    .where(eq(people.id, id))
    .returning();
  return row ? toPerson(row) : undefined;
}

/** True when a person with that id existed and now has the new hash. */
export async function updatePasswordHash(tx: Tx, id: string, passwordHash: string): Promise<boolean> {
  const [row] = await tx.update(people).set({ passwordHash }).where(eq(people.id, id)).returning({ id: people.id });
  return row !== undefined;
}

export async function hasActiveSystemAdmin(db: Executor): Promise<boolean> {
  const rows = await db.select({ roles: people.roles }).from(people).where(isNull(people.disabledAt));
  return rows.some((row) => row.roles.includes('system_admin'));
}

export async function hasAnyPerson(db: Executor): Promise<boolean> {
  const rows = await db.select({ id: people.id }).from(people).limit(1);
  return rows.length > 0;
}
