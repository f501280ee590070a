import { beforeAfterDispersion, beforeAfterStudy, comparisonScatter } from '../../core/domain/analytics-before-after.js';
import { addDays, daysBetween } from '../../core/domain/analytics-calendar.js';
import type { Config } from '../../core/domain/config.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import type { z } from 'zod';
import type { beforeAfterSchema } from './analytics-answers.js';
import { eachSiteTotals, siteExists, siteTotals, type Site } from '../../db/analytics-counts.js';
import { comparisonSites, latestRun, siteResult } from '../../db/analytics-results.js';
import {
  insertCase,
  lockCase,
  openCaseIdOf,
  updateCase,
  type RemediationCase as Case,
  type RemediationCause,
} from '../../db/remediation-cases.js';

/**
 * Remediation cases (law L6: fix the cause, not fine forever). Every change is one
 * transaction with its audit-log row, naming the analyst who made it.
 */
export async function openCase(
  db: Db,
  actor: string,
  input: Site & { violationType: string; suspectedCause: RemediationCause; note?: string | undefined },
): Promise<{ outcome: 'opened'; case: Case } | { outcome: 'unknown_site' } | { outcome: 'already_open'; caseId: string }> {
  if (!(await siteExists(db, input))) return { outcome: 'unknown_site' };
  return db.transaction(async (tx) => {
    const existingId = await openCaseIdOf(tx, input);
    if (existingId) return { outcome: 'already_open' as const, caseId: existingId };
    const opened = await insertCase(tx, { ...input, note: input.note ?? null, openedBy: actor, openedAt: new Date() });
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
    const current = await lockCase(tx, id);
    if (!current) return { outcome: 'not_found' as const };
    if (current.status !== 'open') return { outcome: 'not_open' as const };
    const updated = await updateCase(tx, id, {
      actionTaken: input.actionTaken,
      actionDate: input.actionDate,
      suspectedCause: input.suspectedCause ?? current.suspectedCause,
      actionRecordedBy: actor,
      actionRecordedAt: new Date(),
    });
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
    const current = await lockCase(tx, id);
    if (!current) return { outcome: 'not_found' as const };
    if (current.status !== 'open') return { outcome: 'not_open' as const };
    // Only something that was done can have fixed it.
    if (input.outcome === 'fixed' && !current.actionDate) return { outcome: 'no_action' as const };
    const closed = await updateCase(tx, id, { status: input.outcome, closingReason: input.reason, closedBy: actor, closedAt: new Date() });
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

export type BeforeAfterView = z.infer<typeof beforeAfterSchema>;

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
