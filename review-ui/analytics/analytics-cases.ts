import { and, desc, eq, ne, sql } from 'drizzle-orm';
import { beforeAfterDispersion, beforeAfterStudy, comparisonScatter } from '../../core/domain/analytics-before-after.js';
import { addDays, daysBetween } from '../../core/domain/analytics-calendar.js';
import type { Config } from '../../core/domain/config.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import { hotspotResults, remediationCases } from '../../db/schema.js';
import { eachSiteTotals, siteExists, siteTotals, type Site } from '../../db/analytics-counts.js';
import { latestRun, siteResult } from '../../db/analytics-results.js';

/**
 * Remediation cases (law L6: fix the cause, not fine forever). Every change is one
 * transaction with its audit-log row, naming the analyst who made it.
 */
export type RemediationCause = (typeof remediationCases.$inferSelect)['suspectedCause'];
type Case = typeof remediationCases.$inferSelect;

export async function listCases(db: Db, status: Case['status'] | undefined): Promise<Case[]> {
  return db
    .select()
    .from(remediationCases)
    .where(status ? eq(remediationCases.status, status) : undefined)
    .orderBy(desc(remediationCases.openedAt));
}

export async function findCase(db: Db, id: string): Promise<Case | null> {
  const [found] = await db.select().from(remediationCases).where(eq(remediationCases.id, id));
  return found ?? null;
}

export async function openCase(
  db: Db,
  actor: string,
  input: Site & { violationType: string; suspectedCause: RemediationCause; note?: string | undefined },
): Promise<{ outcome: 'opened'; case: Case } | { outcome: 'unknown_site' } | { outcome: 'already_open'; caseId: string }> {
  if (!(await siteExists(db, input))) return { outcome: 'unknown_site' };
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ id: remediationCases.id })
      .from(remediationCases)
      .where(
        and(
          eq(remediationCases.scope, input.scope),
          eq(remediationCases.siteId, input.siteId),
          eq(remediationCases.violationType, input.violationType),
          eq(remediationCases.status, 'open'),
        ),
      );
    if (existing) return { outcome: 'already_open' as const, caseId: existing.id };
    const [opened] = await tx
      .insert(remediationCases)
      .values({ ...input, note: input.note ?? null, openedBy: actor, openedAt: new Date() })
      .returning();
    if (!opened) throw new Error('remediation case insert returned nothing');
    await appendAudit(tx, {
      actor,
      action: 'remediation.opened',
      subjectType: 'remediation_case',
      subjectId: opened.id,
      details: { scope: input.scope, siteId: input.siteId, violationType: input.violationType, suspectedCause: input.suspectedCause },
    });
    return { outcome: 'opened' as const, case: opened };
  });
}

export async function recordAction(
  db: Db,
  actor: string,
  id: string,
  input: { actionTaken: string; actionDate: string; suspectedCause?: RemediationCause | undefined },
): Promise<{ outcome: 'recorded'; case: Case } | { outcome: 'not_found' } | { outcome: 'not_open' }> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(remediationCases).where(eq(remediationCases.id, id)).for('update');
    if (!current) return { outcome: 'not_found' as const };
    if (current.status !== 'open') return { outcome: 'not_open' as const };
    const [updated] = await tx
      .update(remediationCases)
      .set({
        actionTaken: input.actionTaken,
        actionDate: input.actionDate,
        suspectedCause: input.suspectedCause ?? current.suspectedCause,
        actionRecordedBy: actor,
        actionRecordedAt: new Date(),
      })
      .where(eq(remediationCases.id, id))
      .returning();
    await appendAudit(tx, {
      actor,
      action: 'remediation.action_recorded',
      subjectType: 'remediation_case',
      subjectId: id,
      details: { actionTaken: input.actionTaken, actionDate: input.actionDate, suspectedCause: updated!.suspectedCause },
    });
    return { outcome: 'recorded' as const, case: updated! };
  });
}

export async function closeCase(
  db: Db,
  actor: string,
  id: string,
  input: { outcome: 'fixed' | 'dismissed'; reason: string },
): Promise<{ outcome: 'closed'; case: Case } | { outcome: 'not_found' } | { outcome: 'not_open' } | { outcome: 'no_action' }> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(remediationCases).where(eq(remediationCases.id, id)).for('update');
    if (!current) return { outcome: 'not_found' as const };
    if (current.status !== 'open') return { outcome: 'not_open' as const };
    // Only something that was done can have fixed it.
    if (input.outcome === 'fixed' && !current.actionDate) return { outcome: 'no_action' as const };
    const [closed] = await tx
      .update(remediationCases)
      .set({ status: input.outcome, closingReason: input.reason, closedBy: actor, closedAt: new Date() })
      .where(eq(remediationCases.id, id))
      .returning();
    await appendAudit(tx, {
      actor,
      action: `remediation.${input.outcome}`,
      subjectType: 'remediation_case',
      subjectId: id,
      details: { reason: input.reason },
    });
    return { outcome: 'closed' as const, case: closed! };
  });
}

export type BeforeAfterView =
  { status: 'no_action' | 'no_run' | 'after_period_too_short' | 'no_reference' } | ({ status: 'ok' } & Record<string, unknown>);

/**
 * The EB before/after study of a case, from the aggregates: the before period is the
 * `beforeDays` up to the action, the after period from the action to the latest settled
 * day; the comparison group is the site's reference group in the latest run, less the site
 * and less every site with a remediation action of its own.
 */
export async function caseBeforeAfter(db: Db, entry: Case, settings: Config['analytics']): Promise<BeforeAfterView> {
  if (!entry.actionDate) return { status: 'no_action' };
  const run = await latestRun(db);
  if (!run) return { status: 'no_run' };
  const result = await siteResult(db, run.id, entry.scope, entry.siteId, entry.violationType);
  if (!result) return { status: 'no_reference' };
  const before = { from: addDays(entry.actionDate, -settings.beforeAfter.beforeDays), to: addDays(entry.actionDate, -1) };
  const afterTo =
    run.periodTo < addDays(entry.actionDate, settings.beforeAfter.beforeDays - 1)
      ? run.periodTo
      : addDays(entry.actionDate, settings.beforeAfter.beforeDays - 1);
  const after = { from: entry.actionDate, to: afterTo };
  if (daysBetween(after.from, after.to) < settings.beforeAfter.minAfterDays) return { status: 'after_period_too_short' };
  const comparison = await comparisonSites(db, run.id, result);
  const site = { scope: entry.scope, siteId: entry.siteId };
  const [siteBefore, siteAfter, groupBefore, groupAfter] = await Promise.all([
    siteTotals(db, [site], entry.violationType, before.from, before.to),
    siteTotals(db, [site], entry.violationType, after.from, after.to),
    eachSiteTotals(db, comparison, entry.violationType, before.from, before.to),
    eachSiteTotals(db, comparison, entry.violationType, after.from, after.to),
  ]);
  const pairs = [...groupBefore].map(([key, b]) => {
    const a = groupAfter.get(key)!;
    return { beforeCount: b.events, beforeExposureDays: b.exposureDays, afterCount: a.events, afterExposureDays: a.exposureDays };
  });
  const group = {
    beforeCount: pairs.reduce((sum, pair) => sum + pair.beforeCount, 0),
    beforeExposureDays: pairs.reduce((sum, pair) => sum + pair.beforeExposureDays, 0),
    afterCount: pairs.reduce((sum, pair) => sum + pair.afterCount, 0),
    afterExposureDays: pairs.reduce((sum, pair) => sum + pair.afterExposureDays, 0),
  };
  const groupRate = group.beforeExposureDays > 0 ? group.beforeCount / group.beforeExposureDays : 0;
  const study = beforeAfterStudy({
    before: { observed: siteBefore.events, exposureDays: siteBefore.exposureDays, predicted: groupRate * siteBefore.exposureDays },
    after: { observed: siteAfter.events, exposureDays: siteAfter.exposureDays },
    dispersion: beforeAfterDispersion(result),
    dispersionIndex: result.dispersionIndex ?? 1,
    comparison: { ...group, dispersionIndex: comparisonScatter(pairs) },
  });
  if (!study) return { status: 'no_reference' };
  return {
    status: 'ok',
    before: {
      ...before,
      days: siteBefore.exposureDays,
      observed: siteBefore.events,
      predicted: groupRate * siteBefore.exposureDays,
      ebEstimate: study.ebBefore,
    },
    after: { ...after, days: siteAfter.exposureDays, observed: siteAfter.events },
    comparison: {
      sites: comparison.length,
      beforeCount: group.beforeCount,
      afterCount: group.afterCount,
      ratio: study.comparisonRatio,
      scatter: comparisonScatter(pairs),
    },
    expectedWithoutFix: study.expectedWithoutFix,
    theta: study.theta,
    standardError: study.standardError,
    interval: study.interval,
    significantDrop: study.significantDrop,
    significantRise: study.significantRise,
    naiveRatio: study.naiveRatio,
    naiveNote: NAIVE_NOTE,
  };
}

/** Why the naive ratio and θ differ, shown beside both. */
const NAIVE_NOTE =
  'The naive ratio compares the after rate with the before rate as counted. θ compares the after count with what the site would have had ' +
  'without the fix: its before count shrunk towards comparable sites (a site chosen for a high count tends to fall back anyway) and ' +
  'carried forward by the comparison sites’ own change over the same time.';

/**
 * Sites of the same reference group in the run, without the treated site, without any site
 * that had an action of its own, and only ordinary ones: a flagged hotspot or a spike site
 * changes for its own reasons and would bend the trend the treated site is measured against.
 */
async function comparisonSites(db: Db, runId: string, treated: typeof hotspotResults.$inferSelect): Promise<Site[]> {
  const [violationType, kind, road] = treated.referenceGroup.split('|');
  const rows = await db
    .select({ siteId: hotspotResults.siteId })
    .from(hotspotResults)
    .where(
      and(
        eq(hotspotResults.runId, runId),
        eq(hotspotResults.scope, treated.scope),
        eq(hotspotResults.violationType, violationType ?? treated.violationType),
        kind === undefined ? undefined : eq(hotspotResults.kind, kind),
        road === undefined ? undefined : eq(hotspotResults.road, road),
        ne(hotspotResults.siteId, treated.siteId),
        eq(hotspotResults.category, 'ordinary'),
        sql`not exists (select 1 from remediation_cases c where c.scope = ${hotspotResults.scope} and c.site_id = ${hotspotResults.siteId}
                        and c.violation_type = ${hotspotResults.violationType} and c.action_date is not null)`,
      ),
    );
  return rows.map((row) => ({ scope: treated.scope, siteId: row.siteId }));
}
