import { hash, verify } from '@node-rs/argon2';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { ROLES, type Certificate, type Role } from '../../core/domain/roles.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db, Tx } from '../../db/client.js';
import { deviceAdministrators, devices, people } from '../../db/schema.js';

export interface Person {
  id: string;
  username: string;
  displayName: string;
  roles: Role[];
  certificate: Certificate | null;
  disabledAt: Date | null;
}

export const usernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z0-9._-]{1,39}$/, 'username: 2-40 lowercase letters, digits, . _ -');
export const passwordSchema = z.string().min(12, 'password: at least 12 characters').max(200, 'password: at most 200 characters');
export const certificateSchema = z.strictObject({
  number: z.string().trim().min(3).max(64),
  expiresAt: z.iso.datetime({ offset: true }),
});

export const newPersonSchema = z.strictObject({
  username: usernameSchema,
  displayName: z.string().trim().min(1).max(100),
  password: passwordSchema,
  roles: z.array(z.enum(ROLES)).min(1),
  certificate: certificateSchema.nullable().default(null),
  administeredDeviceIds: z.array(z.string()).default([]),
});
export type NewPerson = z.input<typeof newPersonSchema>;

export const personChangeSchema = z.strictObject({
  displayName: z.string().trim().min(1).max(100).optional(),
  roles: z.array(z.enum(ROLES)).min(1).optional(),
  certificate: certificateSchema.nullable().optional(),
  disabled: z.boolean().optional(),
  administeredDeviceIds: z.array(z.string()).optional(),
});
export type PersonChange = z.infer<typeof personChangeSchema>;

type PersonRow = typeof people.$inferSelect;

function toPerson(row: PersonRow): Person {
  return {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    roles: row.roles.filter((role): role is Role => (ROLES as readonly string[]).includes(role)),
    certificate:
      row.certificateNumber && row.certificateExpiresAt ? { number: row.certificateNumber, expiresAt: row.certificateExpiresAt } : null,
    disabledAt: row.disabledAt,
  };
}

/** argon2id with the library's defaults (OWASP's minimum: 19 MiB, 2 passes). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

// Checked against when the username is unknown, so a wrong username costs as long as a wrong password.
const unknownUserHash = hash('no such user: timing equaliser');

/** The person behind a username and password, or undefined; disabled people cannot log in. */
export async function authenticate(db: Db, username: string, password: string): Promise<Person | undefined> {
  const [row] = await db.select().from(people).where(eq(people.username, username.trim().toLowerCase()));
  const matches = await verify(row?.passwordHash ?? (await unknownUserHash), password).catch(() => false);
  if (!row || !matches || row.disabledAt) return undefined;
  return toPerson(row);
}

export async function findPerson(db: Db | Tx, id: string): Promise<Person | undefined> {
  const [row] = await db.select().from(people).where(eq(people.id, id));
  return row ? toPerson(row) : undefined;
}

export async function listPeople(db: Db): Promise<(Person & { administeredDeviceIds: string[] })[]> {
  const rows = await db.select().from(people).orderBy(asc(people.username));
  const administered = await db.select().from(deviceAdministrators);
  return rows.map((row) => ({
    ...toPerson(row),
    administeredDeviceIds: administered.filter((link) => link.personId === row.id).map((link) => link.deviceId),
  }));
}

/** The devices a person administers: they may not review those devices' captures (law L9). */
export async function administeredDevices(db: Db | Tx, personId: string): Promise<string[]> {
  const rows = await db
    .select({ deviceId: deviceAdministrators.deviceId })
    .from(deviceAdministrators)
    .where(eq(deviceAdministrators.personId, personId));
  return rows.map((row) => row.deviceId);
}

export type PersonOutcome = { ok: true; person: Person } | { ok: false; status: 404 | 409 | 422; error: string };

async function unknownDevices(tx: Tx, deviceIds: string[]): Promise<string[]> {
  if (deviceIds.length === 0) return [];
  const known = new Set((await tx.select({ id: devices.id }).from(devices)).map((row) => row.id));
  return deviceIds.filter((id) => !known.has(id));
}

function missingCertificate(roles: readonly Role[], certificate: unknown): boolean {
  return roles.some((role) => role === 'reviewer' || role === 'legal_reviewer') && !certificate;
}

/** Creates a person; the password is stored only as an argon2id hash. */
export async function createPerson(db: Db, actor: string, input: NewPerson): Promise<PersonOutcome> {
  const parsed = newPersonSchema.parse(input);
  if (missingCertificate(parsed.roles, parsed.certificate)) {
    return { ok: false, status: 422, error: 'reviewers and legal reviewers need an enforcement certificate number and expiry' };
  }
  const passwordHash = await hashPassword(parsed.password);
  return db.transaction(async (tx) => {
    const unknown = await unknownDevices(tx, parsed.administeredDeviceIds);
    if (unknown.length > 0) return { ok: false, status: 422, error: `no such device: ${unknown.join(', ')}` };
    const [row] = await tx
      .insert(people)
      .values({
        username: parsed.username,
        displayName: parsed.displayName,
        passwordHash,
        roles: parsed.roles,
        certificateNumber: parsed.certificate?.number ?? null,
        certificateExpiresAt: parsed.certificate ? new Date(parsed.certificate.expiresAt) : null,
      })
      .onConflictDoNothing({ target: people.username })
      .returning();
    if (!row) return { ok: false, status: 409, error: `username ${parsed.username} is taken` };
    if (parsed.administeredDeviceIds.length > 0) {
      await tx.insert(deviceAdministrators).values(parsed.administeredDeviceIds.map((deviceId) => ({ personId: row.id, deviceId })));
    }
    await appendAudit(tx, {
      actor,
      action: 'person.created',
      subjectType: 'person',
      subjectId: row.id,
      details: {
        username: row.username,
        roles: parsed.roles,
        certificate: parsed.certificate,
        administeredDeviceIds: parsed.administeredDeviceIds,
      },
    });
    return { ok: true, person: toPerson(row) };
  });
}

/** Changes roles, certificate, name, devices administered or disabled state; every change is audited. */
export async function changePerson(db: Db, actor: string, id: string, change: PersonChange): Promise<PersonOutcome> {
  return db.transaction(async (tx) => {
    const [existing] = await tx.select().from(people).where(eq(people.id, id)).for('update');
    if (!existing) return { ok: false, status: 404, error: `no person ${id}` };
    const roles = change.roles ?? toPerson(existing).roles;
    const certificate = change.certificate === undefined ? toPerson(existing).certificate : change.certificate;
    const losesAdmin =
      existing.roles.includes('system_admin') && !existing.disabledAt && (!roles.includes('system_admin') || change.disabled === true);
    if (losesAdmin) {
      // Locking every active admin row makes two admins demoting each other at once queue up, so one always remains.
      const admins = await tx
        .select({ id: people.id })
        .from(people)
        .where(and(isNull(people.disabledAt), sql`${people.roles} ? 'system_admin'`))
        .for('update');
      if (admins.length <= 1)
        return { ok: false, status: 409, error: 'this is the last active system administrator: appoint another one first' };
    }
    if (missingCertificate(roles, certificate)) {
      return { ok: false, status: 422, error: 'reviewers and legal reviewers need an enforcement certificate number and expiry' };
    }
    if (change.administeredDeviceIds) {
      const unknown = await unknownDevices(tx, change.administeredDeviceIds);
      if (unknown.length > 0) return { ok: false, status: 422, error: `no such device: ${unknown.join(', ')}` };
      await tx.delete(deviceAdministrators).where(eq(deviceAdministrators.personId, id));
      if (change.administeredDeviceIds.length > 0) {
        await tx.insert(deviceAdministrators).values(change.administeredDeviceIds.map((deviceId) => ({ personId: id, deviceId })));
      }
    }
    const [row] = await tx
      .update(people)
      .set({
        displayName: change.displayName ?? existing.displayName,
        roles,
        certificateNumber: certificate ? certificate.number : null,
        certificateExpiresAt: certificate ? new Date(certificate.expiresAt) : null,
        disabledAt: change.disabled === undefined ? existing.disabledAt : change.disabled ? (existing.disabledAt ?? new Date()) : null,
      })
      .where(eq(people.id, id))
      .returning();
    if (!row) throw new Error('person update returned nothing');
    await appendAudit(tx, { actor, action: 'person.changed', subjectType: 'person', subjectId: id, details: { ...change } });
    return { ok: true, person: toPerson(row) };
  });
}

/** Sets a new password and ends every open session of that person, so an old login cannot outlive it. */
export async function setPassword(
  db: Db,
  actor: string,
  id: string,
  password: string,
  endSessions: (tx: Tx, personId: string) => Promise<void>,
): Promise<boolean> {
  const passwordHash = await hashPassword(passwordSchema.parse(password));
  return db.transaction(async (tx) => {
    const [row] = await tx.update(people).set({ passwordHash }).where(eq(people.id, id)).returning({ id: people.id });
    if (!row) return false;
    await endSessions(tx, id);
    await appendAudit(tx, { actor, action: 'person.password_set', subjectType: 'person', subjectId: id, details: {} });
    return true;
  });
}

/** True when no enabled person holds the system admin role: the first one may then be created from the command line. */
export async function hasNoSystemAdmin(db: Db): Promise<boolean> {
  const rows = await db.select({ roles: people.roles }).from(people).where(isNull(people.disabledAt));
  return !rows.some((row) => row.roles.includes('system_admin'));
}

export async function findByUsername(db: Db, username: string): Promise<Person | undefined> {
  const [row] = await db.select().from(people).where(eq(people.username, username.trim().toLowerCase()));
  return row ? toPerson(row) : undefined;
}
