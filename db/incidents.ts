import { and, asc, desc, eq, gte, inArray, isNull, lte, notExists, sql } from 'drizzle-orm';
import { planRegrouping, type IncidentKey, type IncidentMember } from '../core/domain/incidents.js';
import { appendAudit } from './audit-log.js';
import type { Db, Tx } from './client.js';
import { captures, incidents } from './schema.js';

/**
 * Serialises every change to the incidents of one act. Callers that also lock capture rows take
 * this first, so a merge (which moves other captures) and a screening pass never wait on each other in a cycle.
 */
export async function lockAct(tx: Tx, key: IncidentKey): Promise<void> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtext(${JSON.stringify([key.subject, key.violationType, key.road, key.direction])}))`,
  );
}

/** The act an incident is about, to lock it before a capture leaves the incident. */
export async function keyOfIncident(tx: Tx, incidentId: string): Promise<IncidentKey | undefined> {
  const [row] = await tx
    .select({ subject: incidents.subject, violationType: incidents.violationType, road: incidents.road, direction: incidents.direction })
    .from(incidents)
    .where(eq(incidents.id, incidentId));
  return row;
}

export type IncidentChange =
  { kind: 'joined'; captureId: string; capturedAt: Date } | { kind: 'left'; captureId: string; incidentId: string };

/**
 * Brings the incidents of one act in line with its approved captures after one capture joined
 * (was approved) or left (was excluded), inside the caller's transaction (law L10). The result
 * is the grouping core/domain/incidents.ts defines, so it is the same whatever order approvals and
 * exclusions came in: a capture that bridges incidents merges them, one that leaves may split
 * or empty its incident. Every change is audited on the incidents it touches.
 * Returns the incident the joined capture is now in.
 */
export async function regroupIncidents(
  tx: Tx,
  actor: string,
  key: IncidentKey,
  change: IncidentChange,
  windowMs: number,
  reason: string,
): Promise<string | null> {
  await lockAct(tx, key);
  const sameAct = and(
    eq(incidents.subject, key.subject),
    eq(incidents.violationType, key.violationType),
    eq(incidents.road, key.road),
    eq(incidents.direction, key.direction),
    isNull(incidents.closedAt),
  );
  // Only incidents with a capture within the window of the change can be touched by it.
  const affected =
    change.kind === 'joined'
      ? await tx
          .select({ id: incidents.id, createdAt: incidents.createdAt })
          .from(incidents)
          .where(
            and(
              sameAct,
              gte(incidents.lastCapturedAt, new Date(change.capturedAt.getTime() - windowMs)),
              lte(incidents.firstCapturedAt, new Date(change.capturedAt.getTime() + windowMs)),
            ),
          )
      : await tx
          .select({ id: incidents.id, createdAt: incidents.createdAt })
          .from(incidents)
          .where(and(sameAct, eq(incidents.id, change.incidentId)));
  const members: IncidentMember[] =
    affected.length > 0
      ? (
          await tx
            .select({ captureId: captures.id, capturedAt: captures.capturedAt, incidentId: captures.incidentId })
            .from(captures)
            .where(
              and(
                inArray(
                  captures.incidentId,
                  affected.map((incident) => incident.id),
                ),
                eq(captures.state, 'approved'),
              ),
            )
        ).flatMap((row) => (row.capturedAt ? [{ ...row, capturedAt: row.capturedAt }] : []))
      : [];
  if (change.kind === 'joined') members.push({ captureId: change.captureId, capturedAt: change.capturedAt, incidentId: null });
  const plan = planRegrouping(members, affected, windowMs);

  if (change.kind === 'left') {
    await appendAudit(tx, {
      actor,
      action: 'incident.capture_removed',
      subjectType: 'incident',
      subjectId: change.incidentId,
      details: { captureId: change.captureId, reason },
    });
  }
  const ids: string[] = [];
  for (const group of plan.incidents) {
    const span = { firstCapturedAt: group.firstCapturedAt, lastCapturedAt: group.lastCapturedAt };
    let id = group.incidentId;
    if (id) {
      await tx.update(incidents).set(span).where(eq(incidents.id, id));
    } else {
      const [opened] = await tx
        .insert(incidents)
        .values({ ...key, ...span })
        .returning({ id: incidents.id });
      if (!opened) throw new Error('incident insert returned nothing');
      id = opened.id;
    }
    ids.push(id);
    await tx
      .update(captures)
      .set({ incidentId: id })
      .where(and(inArray(captures.id, group.captureIds), sql`${captures.incidentId} IS DISTINCT FROM ${id}`));
    const details = { captureIds: group.captureIds, reason };
    if (!group.incidentId) {
      await appendAudit(tx, {
        actor,
        action: group.takenFrom.length > 0 ? 'incident.split_off' : 'incident.opened',
        subjectType: 'incident',
        subjectId: id,
        details: group.takenFrom.length > 0 ? { ...details, from: group.takenFrom } : { ...key, ...details },
      });
    } else if (group.takenFrom.length > 0) {
      await appendAudit(tx, {
        actor,
        action: 'incident.merged',
        subjectType: 'incident',
        subjectId: id,
        details: { ...details, merged: group.takenFrom },
      });
    } else if (group.added.length > 0) {
      await appendAudit(tx, {
        actor,
        action: 'incident.capture_added',
        subjectType: 'incident',
        subjectId: id,
        details: { captureId: group.added[0], captureIds: group.captureIds, reason },
      });
    }
  }
  // Which new or carried-on incidents took captures of the given one.
  const takers = (incidentId: string) => plan.incidents.flatMap((group, at) => (group.takenFrom.includes(incidentId) ? [ids[at]!] : []));
  for (const group of plan.incidents) {
    const into = group.incidentId ? takers(group.incidentId) : [];
    if (!group.incidentId || into.length === 0) continue;
    await appendAudit(tx, {
      actor,
      action: 'incident.split',
      subjectType: 'incident',
      subjectId: group.incidentId,
      details: { into, captureIds: group.captureIds, reason },
    });
  }
  for (const incidentId of plan.closed) {
    const into = takers(incidentId);
    await tx.update(incidents).set({ closedAt: new Date(), closedInto: into }).where(eq(incidents.id, incidentId));
    await appendAudit(tx, {
      actor,
      action: 'incident.closed',
      subjectType: 'incident',
      subjectId: incidentId,
      details: { into, reason: into.length > 0 ? `merged: ${reason}` : `no captures left: ${reason}` },
    });
  }
  if (change.kind === 'left') return null;
  const index = plan.incidents.findIndex((group) => group.captureIds.includes(change.captureId));
  return ids[index] ?? null;
}

/** Open incidents, newest act first, leaving out any holding captures of the devices given (the reader's own). */
export function openIncidents(db: Db, options: { exceptDeviceIds: readonly string[]; limit: number }) {
  return db
    .select()
    .from(incidents)
    .where(
      and(
        isNull(incidents.closedAt),
        options.exceptDeviceIds.length > 0
          ? notExists(
              db
                .select({ one: sql`1` })
                .from(captures)
                .where(and(eq(captures.incidentId, incidents.id), inArray(captures.deviceId, [...options.exceptDeviceIds]))),
            )
          : undefined,
      ),
    )
    .orderBy(desc(incidents.lastCapturedAt))
    .limit(options.limit);
}

/** One incident with its captures in the order they were taken; undefined when there is none. */
export async function incidentWithCaptures(db: Db, incidentId: string) {
  const [incident] = await db.select().from(incidents).where(eq(incidents.id, incidentId));
  if (!incident) return undefined;
  const members = await db
    .select({ id: captures.id, deviceId: captures.deviceId, capturedAt: captures.capturedAt, state: captures.state })
    .from(captures)
    .where(eq(captures.incidentId, incident.id))
    .orderBy(asc(captures.capturedAt));
  return { incident, captures: members };
}
