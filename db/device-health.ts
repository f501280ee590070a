import { and, asc, count, desc, eq, gt, gte, isNull, lte, max, ne, or, sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { analyticsRuns, captures, deviceAnomalies, deviceHealthEvents, malfunctionWindows } from './schema.js';

/** The moment of a device's latest heartbeat, or null if it never sent one. */
export async function lastHeartbeatOf(executor: Executor, deviceId: string): Promise<Date | null> {
  const [row] = await executor
    .select({ at: max(deviceHealthEvents.reportedAt) })
    .from(deviceHealthEvents)
    .where(and(eq(deviceHealthEvents.deviceId, deviceId), eq(deviceHealthEvents.kind, 'heartbeat')));
  return row?.at ?? null;
}

/** Every device's latest heartbeat. */
export async function lastHeartbeats(executor: Executor): Promise<{ deviceId: string; at: Date | null }[]> {
  return executor
    .select({ deviceId: deviceHealthEvents.deviceId, at: max(deviceHealthEvents.reportedAt) })
    .from(deviceHealthEvents)
    .where(eq(deviceHealthEvents.kind, 'heartbeat'))
    .groupBy(deviceHealthEvents.deviceId);
}

/** A device's reports other than heartbeats in [`from`, `to`], newest first, at most `limit`. */
export async function healthEventsOf(
  executor: Executor,
  deviceId: string,
  from: Date,
  to: Date,
  limit: number,
): Promise<{ id: number; kind: string; reportedAt: Date; payload: unknown }[]> {
  return executor
    .select({
      id: deviceHealthEvents.id,
      kind: deviceHealthEvents.kind,
      reportedAt: deviceHealthEvents.reportedAt,
      payload: deviceHealthEvents.payload,
    })
    .from(deviceHealthEvents)
    .where(
      and(
        eq(deviceHealthEvents.deviceId, deviceId),
        gte(deviceHealthEvents.reportedAt, from),
        lte(deviceHealthEvents.reportedAt, to),
        ne(deviceHealthEvents.kind, 'heartbeat'),
      ),
    )
    .orderBy(desc(deviceHealthEvents.reportedAt), desc(deviceHealthEvents.id))
    .limit(limit);
}

/** A device's heartbeats in [`from`, `to`] counted per bucket of `bucketSeconds`, oldest first. */
export async function heartbeatBuckets(
  executor: Executor,
  deviceId: string,
  from: Date,
  to: Date,
  bucketSeconds: number,
): Promise<{ at: Date; count: number }[]> {
  const seconds = sql.raw(String(Math.trunc(bucketSeconds)));
  // Inlined, not bound: GROUP BY must see the very expression the SELECT list has.
  const bucket = sql<Date>`to_timestamp(floor(extract(epoch from ${deviceHealthEvents.reportedAt}) / ${seconds}) * ${seconds})`;
  return executor
    .select({ at: bucket, count: count() })
    .from(deviceHealthEvents)
    .where(
      and(
        eq(deviceHealthEvents.deviceId, deviceId),
        gte(deviceHealthEvents.reportedAt, from),
        lte(deviceHealthEvents.reportedAt, to),
        eq(deviceHealthEvents.kind, 'heartbeat'),
      ),
    )
    .groupBy(bucket)
    .orderBy(bucket);
}

/** A device's windows reaching past `from` (open ones included), newest first, each with how many captures it excluded. */
export async function windowsWithExclusionCounts(executor: Executor, deviceId: string, from: Date) {
  return executor
    .select({
      id: malfunctionWindows.id,
      source: malfunctionWindows.source,
      startsAt: malfunctionWindows.startsAt,
      endsAt: malfunctionWindows.endsAt,
      reason: malfunctionWindows.reason,
      recordedBy: malfunctionWindows.recordedBy,
      recordedAt: malfunctionWindows.recordedAt,
      withdrawnAt: malfunctionWindows.withdrawnAt,
      withdrawnBy: malfunctionWindows.withdrawnBy,
      withdrawalReason: malfunctionWindows.withdrawalReason,
      excludedCaptures: count(captures.id),
    })
    .from(malfunctionWindows)
    .leftJoin(
      captures,
      and(
        eq(captures.deviceId, malfunctionWindows.deviceId),
        eq(captures.state, 'excluded'),
        sql`${captures.exclusionWindowIds} ? ${malfunctionWindows.id}::text`,
      ),
    )
    .where(and(eq(malfunctionWindows.deviceId, deviceId), or(isNull(malfunctionWindows.endsAt), gt(malfunctionWindows.endsAt, from))))
    .groupBy(malfunctionWindows.id)
    .orderBy(desc(malfunctionWindows.startsAt));
}

/** Unwithdrawn windows of the fleet covering `at`, oldest first. */
export async function windowsCovering(executor: Executor, at: Date) {
  return executor
    .select({
      id: malfunctionWindows.id,
      deviceId: malfunctionWindows.deviceId,
      source: malfunctionWindows.source,
      since: malfunctionWindows.startsAt,
      until: malfunctionWindows.endsAt,
      reason: malfunctionWindows.reason,
    })
    .from(malfunctionWindows)
    .where(
      and(
        isNull(malfunctionWindows.withdrawnAt),
        lte(malfunctionWindows.startsAt, at),
        or(isNull(malfunctionWindows.endsAt), gt(malfunctionWindows.endsAt, at)),
      ),
    )
    .orderBy(asc(malfunctionWindows.startsAt));
}

/**
 * Per device, how many captures were excluded since `since`: taken since then, or taken earlier
 * and excluded by a window recorded since then. A fault reported late excludes captures days old;
 * counting by capture time alone read 0 beside the window that had just excluded them.
 */
export async function excludedCaptureCounts(executor: Executor, since: Date): Promise<{ deviceId: string | null; count: number }[]> {
  const recentWindow = sql`EXISTS (
    SELECT 1 FROM ${malfunctionWindows}
    WHERE ${malfunctionWindows.id}::text IN (SELECT jsonb_array_elements_text(${captures.exclusionWindowIds}))
      AND ${malfunctionWindows.recordedAt} >= ${since.toISOString()}
  )`;
  return executor
    .select({ deviceId: captures.deviceId, count: count() })
    .from(captures)
    .where(and(eq(captures.state, 'excluded'), or(gte(captures.capturedAt, since), recentWindow)))
    .groupBy(captures.deviceId);
}

/** The anomalies the latest finished analytics run flagged. */
export async function flaggedAnomaliesOfLatestRun(executor: Executor) {
  return executor
    .select({
      deviceId: deviceAnomalies.deviceId,
      metric: deviceAnomalies.metric,
      basis: deviceAnomalies.basis,
      rateRatio: deviceAnomalies.rateRatio,
    })
    .from(deviceAnomalies)
    .where(
      and(
        eq(deviceAnomalies.flagged, true),
        eq(
          deviceAnomalies.runId,
          sql`(SELECT ${analyticsRuns.id} FROM ${analyticsRuns} WHERE ${analyticsRuns.finishedAt} IS NOT NULL ORDER BY ${analyticsRuns.finishedAt} DESC LIMIT 1)`,
        ),
      ),
    );
}
