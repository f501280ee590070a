import { hash, verify } from '@node-rs/argon2';
import { z } from 'zod';
import { ROLES, type Role } from '../../core/domain/roles.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db, Tx } from '../../db/client.js';
import {
  addAdministeredDevices,
  administeredDeviceIds,
  findCredentials,
  findPersonById,
  findPersonByUsername,
  hasActiveSystemAdmin,
  insertPerson,
  listPeopleWithDevices,
  lockActiveSystemAdmins,
  lockPerson,
  replaceAdministeredDevices,
  unknownDeviceIds,
  updatePasswordHash,
  updatePerson,
  type Person,
} from '../../db/people.js';
import { deleteLoginLock, loginLocks } from './login-throttle.js';

export type { Person };

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

export const personChangeSchema = z
  .strictObject({
    displayName: z.string().trim().min(1).max(100).optional(),
    roles: z.array(z.enum(ROLES)).min(1).optional(),
    certificate: certificateSchema.nullable().optional(),
    disabled: z.boolean().optional(),
    administeredDeviceIds: z.array(z.string()).optional(),
    /** Why: kept in the audit entry, so a later reader knows what the change answered. */
    reason: z.string().trim().min(3).max(500).optional(),
  })
  // Locking someone out (or letting them back in) is the change an auditor asks about first.
  .refine((change) => change.disabled === undefined || change.reason !== undefined, {
    message: 'say why the login is disabled or enabled (reason, at least 3 characters)',
    path: ['reason'],
  });
export type PersonChange = z.infer<typeof personChangeSchema>;

/** argon2id with the library's defaults (OWASP's minimum: 19 MiB, 2 passes). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

// Checked against when the username is unknown, so a wrong username costs as long as a wrong password.
const unknownUserHash = hash('no such user: timing equaliser');

/** The person behind a username and password, or undefined; disabled people cannot log in. */
export async function authenticate(db: Db, username: string, password: string): Promise<Person | undefined> {
  const found = await findCredentials(db, username);
  const matches = await verify(found?.passwordHash ?? (await unknownUserHash), password).catch(() => false);
  if (!found || !matches || found.person.disabledAt) return undefined;
  return found.person;
}

export function findPerson(db: Db | Tx, id: string): Promise<Person | undefined> {
  return findPersonById(db, id);
}

/** A person's login lock as the people page shows it: the addresses themselves are for the audit log. */
export interface LoginLockSummary {
  until: Date;
  addresses: number;
}

/** Everyone, with the devices each administers and whether wrong passwords have locked their login anywhere. */
export async function listPeople(db: Db): Promise<(Person & { administeredDeviceIds: string[]; loginLock: LoginLockSummary | null })[]> {
  const [everyone, locks] = await Promise.all([listPeopleWithDevices(db), loginLocks(db)]);
  return everyone.map((person) => {
    const lock = locks.get(person.username);
    return { ...person, loginLock: lock ? { until: lock.until, addresses: lock.addresses.length } : null };
  });
}

export const loginLockClearingSchema = z.strictObject({
  /** Why: the person at the locked address may be the one guessing, so the clearing must say who vouched. */
  reason: z.string().trim().min(3, 'say why the lock is cleared (reason, at least 3 characters)').max(500),
});

export type LoginLockCleared = { ok: true; addresses: number } | { ok: false; status: 404 | 409; error: string };

/** Lets a person whose login wrong passwords locked log in again at once, from every address; audited with the reason. */
export async function clearLoginLock(db: Db, actor: string, id: string, reason: string): Promise<LoginLockCleared> {
  return db.transaction(async (tx) => {
    // Held until the audit entry is written, so two administrators clearing at once audit it once.
    const person = await lockPerson(tx, id);
    if (!person) return { ok: false, status: 404, error: `no person ${id}` };
    const lock = await deleteLoginLock(tx, person.username);
    if (!lock) return { ok: false, status: 409, error: `the login of ${person.username} is not locked` };
    await appendAudit(tx, {
      actor,
      action: 'person.login_lock_cleared',
      subjectType: 'person',
      subjectId: id,
      details: { username: person.username, addresses: lock.addresses, lockedUntil: lock.until.toISOString(), reason },
    });
    return { ok: true, addresses: lock.addresses.length };
  });
}

/** The devices a person administers: they may not review those devices' captures (law L9). */
export function administeredDevices(db: Db | Tx, personId: string): Promise<string[]> {
  return administeredDeviceIds(db, personId);
}

export type PersonOutcome = { ok: true; person: Person } | { ok: false; status: 404 | 409 | 422; error: string };

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
    const unknown = await unknownDeviceIds(tx, parsed.administeredDeviceIds);
    if (unknown.length > 0) return { ok: false, status: 422, error: `no such device: ${unknown.join(', ')}` };
    const row = await insertPerson(tx, {
      username: parsed.username,
      displayName: parsed.displayName,
      passwordHash,
      roles: parsed.roles,
      certificate: parsed.certificate ? { number: parsed.certificate.number, expiresAt: new Date(parsed.certificate.expiresAt) } : null,
    });
    if (!row) return { ok: false, status: 409, error: `username ${parsed.username} is taken` };
    await addAdministeredDevices(tx, row.id, parsed.administeredDeviceIds);
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
    return { ok: true, person: row };
  });
}

/** Changes roles, certificate, name, devices administered or disabled state; every change is audited. */
export async function changePerson(db: Db, actor: string, id: string, change: PersonChange): Promise<PersonOutcome> {
  return db.transaction(async (tx) => {
    const existing = await lockPerson(tx, id);
    if (!existing) return { ok: false, status: 404, error: `no person ${id}` };
    const roles = change.roles ?? existing.roles;
    const certificate = change.certificate === undefined ? existing.certificate : change.certificate;
    const losesAdmin =
      existing.roles.includes('system_admin') && !existing.disabledAt && (!roles.includes('system_admin') || change.disabled === true);
    if (losesAdmin) {
      if ((await lockActiveSystemAdmins(tx)) <= 1)
        return { ok: false, status: 409, error: 'this is the last active system administrator: appoint another one first' };
    }
    if (missingCertificate(roles, certificate)) {
      return { ok: false, status: 422, error: 'reviewers and legal reviewers need an enforcement certificate number and expiry' };
    }
    if (change.administeredDeviceIds) {
      const unknown = await unknownDeviceIds(tx, change.administeredDeviceIds);
      if (unknown.length > 0) return { ok: false, status: 422, error: `no such device: ${unknown.join(', ')}` };
      await replaceAdministeredDevices(tx, id, change.administeredDeviceIds);
    }
    const row = await updatePerson(tx, id, {
      displayName: change.displayName ?? existing.displayName,
      roles,
      certificate: certificate ? { number: certificate.number, expiresAt: new Date(certificate.expiresAt) } : null,
      disabledAt: change.disabled === undefined ? existing.disabledAt : change.disabled ? (existing.disabledAt ?? new Date()) : null,
    });
    if (!row) throw new Error('person update returned nothing');
    await appendAudit(tx, { actor, action: 'person.changed', subjectType: 'person', subjectId: id, details: { ...change } });
    return { ok: true, person: row };
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
    if (!(await updatePasswordHash(tx, id, passwordHash))) return false;
    await endSessions(tx, id);
    await appendAudit(tx, { actor, action: 'person.password_set', subjectType: 'person', subjectId: id, details: {} });
    return true;
  });
}

/** True when no enabled person holds the system admin role: the first one may then be created from the command line. */
export async function hasNoSystemAdmin(db: Db): Promise<boolean> {
  return !(await hasActiveSystemAdmin(db));
}

export function findByUsername(db: Db, username: string): Promise<Person | undefined> {
  return findPersonByUsername(db, username);
}
