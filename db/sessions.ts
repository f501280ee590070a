import { and, eq, gt, gte, isNull, lt, sql } from 'drizzle-orm';
import { RateLimiterDrizzle } from 'rate-limiter-flexible';
import type { Db, Executor, Tx } from './client.js';
import { loginThrottle, people, sessions } from './schema.js';

/** Stores a session by the hash of its token; the token itself is never stored. */
export async function insertSession(db: Executor, session: { tokenSha256: string; personId: string; expiresAt: Date }): Promise<void> {
  await db.insert(sessions).values(session);
}

/** The person and expiry of a session that is open, unexpired and held by an enabled person. */
export async function findLiveSession(db: Executor, tokenSha256: string): Promise<{ personId: string; expiresAt: Date } | undefined> {
  const [row] = await db
    .select({ personId: sessions.personId, expiresAt: sessions.expiresAt })
    .from(sessions)
    .innerJoin(people, eq(people.id, sessions.personId))
    .where(
      and(eq(sessions.tokenSha256, tokenSha256), isNull(sessions.endedAt), gt(sessions.expiresAt, new Date()), isNull(people.disabledAt)),
    );
  return row;
}

export async function endSessionByTokenHash(db: Executor, tokenSha256: string): Promise<void> {
  await db
    .update(sessions)
    .set({ endedAt: new Date() })
    .where(and(eq(sessions.tokenSha256, tokenSha256), isNull(sessions.endedAt)));
}

export async function endSessionsOfPerson(tx: Tx, personId: string): Promise<void> {
  await tx
    .update(sessions)
    .set({ endedAt: new Date() })
    .where(and(eq(sessions.personId, personId), isNull(sessions.endedAt)));
}

/** A rate limiter whose counters live in the login_throttle table, so every replica shares them. */
export function loginThrottleLimiter(
  db: Db,
  prefix: string,
  limits: { attempts: number; windowSeconds: number; blockSeconds: number },
): RateLimiterDrizzle {
  return new RateLimiterDrizzle({
    storeClient: db,
    schema: loginThrottle,
    keyPrefix: prefix,
    points: limits.attempts,
    duration: limits.windowSeconds,
    blockDuration: limits.blockSeconds,
    // Swept by `deleteExpiredLoginCounters` on the server's own timer, which stops when the server closes.
    clearExpiredByTimeout: false,
  });
}

export async function deleteExpiredLoginCounters(db: Db): Promise<void> {
  await db.delete(loginThrottle).where(lt(loginThrottle.expire, new Date()));
}

/** Unexpired counters whose key starts with `keyPrefix` and that have counted `points` or more. */
export async function liveLoginCountersUnder(
  db: Executor,
  keyPrefix: string,
  points: number,
): Promise<{ key: string; points: number; expire: Date | null }[]> {
  return db
    .select()
    .from(loginThrottle)
    .where(
      and(sql`starts_with(${loginThrottle.key}, ${keyPrefix})`, gte(loginThrottle.points, points), gt(loginThrottle.expire, new Date())),
    );
}

/**
 * Deletes the counters whose key is `keyPrefix` followed by text without a bar, and answers them:
 * with `name|` as the prefix, that is every address's counter for `name`, and none for `name|more`.
 */
export async function deleteLoginCountersUnder(
  db: Executor,
  keyPrefix: string,
): Promise<{ key: string; points: number; expire: Date | null }[]> {
  return db
    .delete(loginThrottle)
    .where(
      and(
        sql`starts_with(${loginThrottle.key}, ${keyPrefix})`,
        sql`strpos(substr(${loginThrottle.key}, ${keyPrefix.length + 1}), '|') = 0`,
      ),
    )
    .returning();
}
