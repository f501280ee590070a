import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db, Tx } from '../../db/client.js';
import { endSessionByTokenHash, endSessionsOfPerson, findLiveSession, insertSession } from '../../db/sessions.js';
import { findPerson, type Person } from './people.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Opens a session and returns its token for the cookie. Only the token's hash is stored, so a
 * copy of the database cannot be replayed as a login.
 */
export async function startSession(db: Db | Tx, personId: string, ttlMs: number): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlMs);
  await insertSession(db, { tokenSha256: sha256(token), personId, expiresAt });
  return { token, expiresAt };
}

/** The person a live session belongs to; an ended, expired or disabled person's session is worth nothing. */
export async function resolveSession(db: Db, token: string): Promise<{ person: Person; expiresAt: Date } | undefined> {
  const row = await findLiveSession(db, sha256(token));
  if (!row) return undefined;
  const person = await findPerson(db, row.personId);
  return person ? { person, expiresAt: row.expiresAt } : undefined;
}

export async function endSession(db: Db, token: string): Promise<void> {
  await endSessionByTokenHash(db, sha256(token));
}

export async function endAllSessions(tx: Tx, personId: string): Promise<void> {
  await endSessionsOfPerson(tx, personId);
}

/**
 * The CSRF token for a session: derived from the session token, which a cross-site page can
 * neither read (the cookie is HttpOnly) nor guess, so presenting it proves the request came
 * from a page this server served to the session's holder. Nothing to store, and every
 * replica of the review server agrees on it.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`verity csrf\0${sessionToken}`).digest('base64url');
}

export function csrfTokenMatches(sessionToken: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
