import { and, asc, count, eq, gte, inArray, lte, ne, or, sql } from 'drizzle-orm';
import type { Tx } from './client.js';
import { auditLog, captures, deviceHealthEvents, incidents, people, reviewDecisions } from './schema.js';

export type IncidentRow = typeof incidents.$inferSelect;

export async function findIncident(tx: Tx, incidentId: string): Promise<IncidentRow | undefined> {
  const [incident] = await tx.select().from(incidents).where(eq(incidents.id, incidentId));
  return incident;
}

/** The captures grouped into an incident, in the order they were taken. */
export function capturesOfIncident(tx: Tx, incidentId: string) {
  return tx.select().from(captures).where(eq(captures.incidentId, incidentId)).orderBy(asc(captures.capturedAt), asc(captures.id));
}

export async function personExporting(tx: Tx, personId: string) {
  const [person] = await tx.select({ id: people.id, displayName: people.displayName }).from(people).where(eq(people.id, personId));
  return person;
}

const HEARTBEAT_BUCKET_SECONDS = sql.raw('3600');

/**
 * A device's health record over a period: every report except heartbeats one by one, and
 * heartbeats counted per hour, since they come every few seconds and only show it was alive.
 */
export async function healthRecordOf(tx: Tx, deviceId: string, period: { from: Date; to: Date }) {
  const ofDevice = eq(deviceHealthEvents.deviceId, deviceId);
  const inPeriod = and(gte(deviceHealthEvents.reportedAt, period.from), lte(deviceHealthEvents.reportedAt, period.to));
  // Inlined, not bound: GROUP BY must see the very expression the SELECT list has.
  const hour = sql<Date>`to_timestamp(floor(extract(epoch from ${deviceHealthEvents.reportedAt}) / ${HEARTBEAT_BUCKET_SECONDS}) * ${HEARTBEAT_BUCKET_SECONDS})`;
  const events = await tx
    .select()
    .from(deviceHealthEvents)
    .where(and(ofDevice, inPeriod, ne(deviceHealthEvents.kind, 'heartbeat')))
    .orderBy(asc(deviceHealthEvents.reportedAt), asc(deviceHealthEvents.id));
  const heartbeats = await tx
    .select({ hour, count: count() })
    .from(deviceHealthEvents)
    .where(and(ofDevice, inPeriod, eq(deviceHealthEvents.kind, 'heartbeat')))
    .groupBy(hour)
    .orderBy(hour);
  return { events, heartbeats };
}

/** Every decision on these captures, in the order made, with the decider's name. */
export function decisionsOnCaptures(tx: Tx, captureIds: readonly string[]) {
  return tx
    .select({ decision: reviewDecisions, displayName: people.displayName })
    .from(reviewDecisions)
    .innerJoin(people, eq(people.id, reviewDecisions.personId))
    .where(inArray(reviewDecisions.captureId, [...captureIds]))
    .orderBy(asc(reviewDecisions.decidedAt), asc(reviewDecisions.id));
}

/** The incident's and captures' whole history, and what was recorded about the devices over the period. */
export function auditOfIncident(
  tx: Tx,
  scope: { incidentId: string; captureIds: readonly string[]; deviceIds: readonly string[]; period: { from: Date; to: Date } },
) {
  return tx
    .select()
    .from(auditLog)
    .where(
      or(
        and(eq(auditLog.subjectType, 'incident'), eq(auditLog.subjectId, scope.incidentId)),
        and(eq(auditLog.subjectType, 'capture'), inArray(auditLog.subjectId, [...scope.captureIds])),
        and(
          eq(auditLog.subjectType, 'device'),
          inArray(auditLog.subjectId, [...scope.deviceIds]),
          gte(auditLog.recordedAt, scope.period.from),
          lte(auditLog.recordedAt, scope.period.to),
        ),
      ),
    )
    .orderBy(asc(auditLog.seq));
}
