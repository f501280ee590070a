import { and, asc, desc, eq, gte, ilike, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { auditHash, GENESIS_HASH, type AuditEvent } from '../core/domain/audit-hash.js';
import type { Executor, Tx } from './client.js';
import { auditCheckpoints, auditLog, captures } from './schema.js';

export { auditHash, GENESIS_HASH, type AuditEvent };

/** Arbitrary but fixed: serialises appends so the chain never forks. */
const AUDIT_CHAIN_LOCK = 7_351_001;

/** Appends one event inside the caller's transaction, so the log and the change commit together. */
export async function appendAudit(tx: Tx, event: AuditEvent): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
  const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  const previousHash = last?.hash ?? GENESIS_HASH;
  // A JS Date has millisecond precision, which timestamptz keeps exactly: the stored time is the hashed time.
  const recordedAt = new Date();
  // Round-trip details through JSON so the hash covers exactly what jsonb will hold.
  const details = JSON.parse(JSON.stringify(event.details)) as Record<string, unknown>;
  await tx.insert(auditLog).values({
    ...event,
    details,
    recordedAt,
    previousHash,
    hash: auditHash(previousHash, recordedAt, { ...event, details }),
  });
}

export type AuditEntry = typeof auditLog.$inferSelect;
export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/**
 * Which entries to list: every given field must match; `beforeSeq` pages back from an earlier
 * answer. Actor and action match anywhere in the value, case-insensitive, so `li` finds
 * `person:li`; `text` matches anywhere in the actor, action, subject or details.
 */
export interface AuditEntryFilter {
  subjectType?: string;
  subjectId?: string;
  actor?: string;
  action?: string;
  text?: string;
  /** Recorded at or after this moment. */
  from?: Date;
  /** Recorded before this moment. */
  until?: Date;
  beforeSeq?: number;
  limit: number;
}

/** A LIKE pattern matching `value` anywhere, its own `%`, `_` and `\` taken literally. */
function containing(value: string): string {
  return `%${value.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/** Matching entries, newest first. */
export async function listAuditEntries(db: Executor, filter: AuditEntryFilter): Promise<AuditEntry[]> {
  const conditions: SQL[] = [];
  if (filter.subjectType) conditions.push(eq(auditLog.subjectType, filter.subjectType));
  if (filter.subjectId) conditions.push(eq(auditLog.subjectId, filter.subjectId));
  if (filter.actor) conditions.push(ilike(auditLog.actor, containing(filter.actor)));
  if (filter.action) conditions.push(ilike(auditLog.action, containing(filter.action)));
  if (filter.text) {
    const pattern = containing(filter.text);
    const anywhere = or(
      ilike(auditLog.actor, pattern),
      ilike(auditLog.action, pattern),
      ilike(sql`${auditLog.subjectType} || ' ' || ${auditLog.subjectId}`, pattern),
      ilike(sql`${auditLog.details}::text`, pattern),
    );
    if (anywhere) conditions.push(anywhere);
  }
  if (filter.from) conditions.push(gte(auditLog.recordedAt, filter.from));
  if (filter.until) conditions.push(lt(auditLog.recordedAt, filter.until));
  if (filter.beforeSeq) conditions.push(lt(auditLog.seq, filter.beforeSeq));
  return db
    .select()
    .from(auditLog)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(auditLog.seq))
    .limit(filter.limit);
}

/** Entries from `fromSeq` to `toSeq` inclusive, oldest first, at most `limit`. */
export async function listAuditRange(db: Executor, fromSeq: number, toSeq: number, limit: number): Promise<AuditEntry[]> {
  return db
    .select()
    .from(auditLog)
    .where(and(gte(auditLog.seq, fromSeq), lte(auditLog.seq, toSeq)))
    .orderBy(asc(auditLog.seq))
    .limit(limit);
}

/** The first and last seq recorded in [from, until), or null when nothing was recorded then. */
export async function auditSeqBounds(
  db: Executor,
  range: { from?: Date; until?: Date },
): Promise<{ fromSeq: number; toSeq: number } | null> {
  const conditions: SQL[] = [];
  if (range.from) conditions.push(gte(auditLog.recordedAt, range.from));
  if (range.until) conditions.push(lt(auditLog.recordedAt, range.until));
  const [bounds] = await db
    .select({ fromSeq: sql<string | null>`min(${auditLog.seq})`, toSeq: sql<string | null>`max(${auditLog.seq})` })
    .from(auditLog)
    .where(conditions.length > 0 ? and(...conditions) : undefined);
  if (!bounds?.fromSeq || !bounds.toSeq) return null;
  return { fromSeq: Number(bounds.fromSeq), toSeq: Number(bounds.toSeq) };
}

/** Signed heads with seq in [fromSeq, toSeq], oldest first. */
export async function listAuditCheckpointsInRange(db: Executor, fromSeq: number, toSeq: number): Promise<AuditCheckpoint[]> {
  return db
    .select()
    .from(auditCheckpoints)
    .where(and(gte(auditCheckpoints.seq, fromSeq), lte(auditCheckpoints.seq, toSeq)))
    .orderBy(asc(auditCheckpoints.seq));
}

/** Entries naming a capture in their details, as incidents' and evidence's entries do. */
const namesCaptures = (ids: readonly string[]) =>
  or(
    inArray(sql`${auditLog.details}->>'captureId'`, [...ids]),
    sql`${auditLog.details}->'captureIds' ?| array[${sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    )}]::text[]`,
  );

/** Entries naming an incident as where captures went or came from, or what it merged. */
const namesIncident = (id: string) =>
  sql`(${auditLog.details}->'into' ? ${id} or ${auditLog.details}->'from' ? ${id} or ${auditLog.details}->'merged' ? ${id})`;

/**
 * The chain of custody of one capture, oldest first: every entry about it, and every entry of
 * an incident that names it (added, removed, split off, exported).
 */
export async function captureCustody(db: Executor, captureId: string, limit: number): Promise<AuditEntry[]> {
  return db
    .select()
    .from(auditLog)
    .where(or(and(eq(auditLog.subjectType, 'capture'), eq(auditLog.subjectId, captureId)), namesCaptures([captureId])))
    .orderBy(asc(auditLog.seq))
    .limit(limit);
}

/**
 * The chain of custody of one incident, oldest first: its own entries, those of incidents it
 * was merged with or split from, and the whole custody of every capture it holds or held.
 */
export async function incidentCustody(db: Executor, incidentId: string, limit: number): Promise<AuditEntry[]> {
  const own = await db
    .select()
    .from(auditLog)
    .where(or(and(eq(auditLog.subjectType, 'incident'), eq(auditLog.subjectId, incidentId)), namesIncident(incidentId)))
    .orderBy(asc(auditLog.seq))
    .limit(limit);
  const captureIds = new Set<string>();
  for (const entry of own) {
    const details = entry.details as { captureId?: unknown; captureIds?: unknown };
    if (typeof details.captureId === 'string') captureIds.add(details.captureId);
    if (Array.isArray(details.captureIds)) for (const id of details.captureIds) if (typeof id === 'string') captureIds.add(id);
  }
  const members = await db.select({ id: captures.id }).from(captures).where(eq(captures.incidentId, incidentId));
  for (const member of members) captureIds.add(member.id);
  if (captureIds.size === 0) return own;
  const ids = [...captureIds];
  const ofCaptures = await db
    .select()
    .from(auditLog)
    .where(or(and(eq(auditLog.subjectType, 'capture'), inArray(auditLog.subjectId, ids)), namesCaptures(ids)))
    .orderBy(asc(auditLog.seq))
    .limit(limit);
  const bySeq = new Map([...own, ...ofCaptures].map((entry) => [entry.seq, entry]));
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, limit);
}

/** The latest signed chain heads, newest first. */
export async function listAuditCheckpoints(db: Executor, limit: number): Promise<AuditCheckpoint[]> {
  return db.select().from(auditCheckpoints).orderBy(desc(auditCheckpoints.seq)).limit(limit);
}
