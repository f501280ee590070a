import { z } from 'zod';
import { DEVICE_KINDS } from '../../core/domain/device-registration.js';
import { textAnswer } from '../http/answer-schemas.js';

/**
 * What the analyst's routes answer, as the OpenAPI document publishes it: aggregates only
 * (law L7), and the serializer sends nothing else.
 */
const scope = z.enum(['cell', 'device']);
const cause = z.enum(['signage', 'road_design', 'signal_timing', 'device_placement', 'enforcement_gap', 'other']);
const caseStatus = z.enum(['open', 'fixed', 'dismissed']);

const runSchema = z.object({
  id: z.uuid(),
  startedAt: z.date(),
  finishedAt: z.date().nullable(),
  periodFrom: z.string(),
  periodTo: z.string(),
  settings: z.unknown().describe('the screening settings the run used (time zone, FDR, minimum count, k-anonymity, …)'),
  summary: z.unknown().describe("the run's totals and group changes"),
});
type Run = z.infer<typeof runSchema>;

/** A screening run as answered, taken field by field from its row. */
export function runAnswer(row: Run): Run {
  const { id, startedAt, finishedAt, periodFrom, periodTo, settings, summary } = row;
  return { id, startedAt, finishedAt, periodFrom, periodTo, settings, summary };
}

const corner = z.tuple([z.number(), z.number()]);

export const mapSchema = z.object({
  tiles: z
    .object({ urlTemplate: z.string(), attribution: z.string() })
    .nullable()
    .describe('the basemap to draw under the hotspots; null for none'),
  fleetBounds: z
    .tuple([corner, corner])
    .nullable()
    .describe('[[south, west], [north, east]] of the devices not revoked, to centre a map with nothing on it yet; null with no device'),
});

export const latestRunSchema = z.object({
  run: runSchema.nullable(),
  aggregation: z
    .object({ auditSeq: z.number().int(), aggregatedAt: z.date(), h3Resolution: z.number().int(), timeZone: z.string() })
    .nullable()
    .describe('how far the aggregates have read the audit log'),
});

export const screeningRequestedSchema = z.object({
  jobId: z.string(),
  joined: z.boolean().describe('a run already waiting was joined instead of queueing another'),
});

export const hotspotsSchema = z.object({
  run: runSchema.nullable(),
  holdBack: z
    .object({
      settleDays: z.number().int().describe('the newest days every analysis leaves out, while their captures may still be in review'),
      everyMs: z.number().int().describe('how often the analysis job runs'),
      timeZone: z.string(),
      firstCountedDay: z.iso.date().nullable().describe('the first local day with an approved capture counted; null before any'),
      firstIncludedOn: z.iso
        .date()
        .nullable()
        .describe('the local day from which a run takes firstCountedDay into its period; null before any capture is counted'),
    })
    .describe('why a new system shows nothing yet, and from when it will'),
  total: z.number().int(),
  hotspots: z.array(
    z.object({
      rank: z.number().int(),
      scope,
      siteId: z.string(),
      violationType: z.string(),
      road: z.string().nullable(),
      kind: z.string().nullable(),
      deviceIds: z.array(z.string()),
      category: z.enum(['hotspot', 'spike', 'ordinary']),
      observed: z.number(),
      sustained: z.number().nullable(),
      spikeDays: z.array(z.object({ day: z.string(), observed: z.number(), expected: z.number() })),
      exposureDays: z.number(),
      predicted: z.number(),
      dispersion: z.number(),
      priorDispersion: z.number().nullable(),
      dispersionIndex: z.number().nullable(),
      ebWeight: z.number(),
      ebExpected: z.number(),
      ebInterval: z.tuple([z.number(), z.number()]),
      excess: z.number(),
      pValue: z.number(),
      qValue: z.number(),
      flagged: z.boolean(),
      trend: z
        .object({
          recentPerDay: z.number(),
          baselinePerDay: z.number(),
          rateRatio: z.number().nullable(),
          interval: z.tuple([z.number().nullable(), z.number().nullable()]),
        })
        .nullable(),
      giStar: z.number().nullable(),
      centre: z.object({ latitude: z.number(), longitude: z.number() }),
      boundary: z
        .array(z.tuple([z.number(), z.number()]))
        .nullable()
        .describe("an H3 cell's polygon; null for a device"),
      openCaseId: z.uuid().nullable(),
    }),
  ),
});

export const siteSeriesSchema = z.object({
  scope,
  siteId: z.string(),
  violationType: z.string().nullable(),
  from: z.string(),
  to: z.string(),
  days: z.array(z.object({ day: z.string(), approved: z.number().int(), excluded: z.number().int() })),
  remediations: z.array(
    z.object({
      caseId: z.uuid(),
      status: caseStatus,
      suspectedCause: cause,
      actionTaken: z.string().nullable(),
      actionDate: z.string().nullable(),
    }),
  ),
});

const count = z.number().int();
export const breakdownSchema = z.object({
  scope: scope.nullable(),
  siteId: z.string().nullable(),
  violationType: z.string().nullable(),
  state: z.enum(['approved', 'excluded']),
  from: z.string(),
  to: z.string(),
  total: count,
  byWeekday: z.array(z.object({ weekday: z.number().int(), name: z.enum(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']), count })),
  byViolationType: z.array(z.object({ violationType: z.string(), count })),
  hourMonths: z.object({ from: z.string(), to: z.string() }).describe('the months the hourly counts cover'),
  byHour: z.array(z.object({ hour: z.number().int(), count })),
  byHourOfWeek: z.array(z.object({ weekday: z.number().int(), hour: z.number().int(), count })),
});

export const anomalyReportSchema = z.object({
  run: runSchema.nullable(),
  groupChanges: z.array(z.unknown()),
  devices: z.array(
    z.object({
      deviceId: z.string(),
      kind: z.enum(DEVICE_KINDS).nullable(),
      road: z.string().nullable(),
      direction: z.string().nullable(),
      latitude: z.number().nullable(),
      longitude: z.number().nullable(),
      flagged: z.boolean(),
      findings: z.array(
        z.object({
          metric: z.string(),
          basis: z.string(),
          observed: z.number(),
          expected: z.number(),
          rateRatio: z.number().nullable(),
          interval: z.tuple([z.number(), z.number().nullable()]).nullable(),
          statistic: z.number(),
          pValue: z.number(),
          qValue: z.number().nullable(),
          flagged: z.boolean(),
          detail: z.unknown(),
        }),
      ),
    }),
  ),
});

export const caseSchema = z.object({
  id: z.uuid(),
  scope,
  siteId: z.string(),
  violationType: z.string(),
  status: caseStatus,
  suspectedCause: cause,
  note: z.string().nullable(),
  openedBy: z.string(),
  openedAt: z.date(),
  actionTaken: z.string().nullable(),
  actionDate: z.string().nullable(),
  actionRecordedBy: z.string().nullable(),
  actionRecordedAt: z.date().nullable(),
  closingReason: z.string().nullable(),
  closedBy: z.string().nullable(),
  closedAt: z.date().nullable(),
});
type Case = z.infer<typeof caseSchema>;

/** A remediation case as answered, taken field by field from its row. */
export function caseAnswer(row: Case): Case {
  return {
    id: row.id,
    scope: row.scope,
    siteId: row.siteId,
    violationType: row.violationType,
    status: row.status,
    suspectedCause: row.suspectedCause,
    note: row.note,
    openedBy: row.openedBy,
    openedAt: row.openedAt,
    actionTaken: row.actionTaken,
    actionDate: row.actionDate,
    actionRecordedBy: row.actionRecordedBy,
    actionRecordedAt: row.actionRecordedAt,
    closingReason: row.closingReason,
    closedBy: row.closedBy,
    closedAt: row.closedAt,
  };
}

export const caseListSchema = z.object({ cases: z.array(caseSchema) });

const period = z.object({ from: z.string(), to: z.string(), days: z.number(), observed: z.number() });
/** The Empirical Bayes before/after study of a case, or why there is none yet (docs/analytics.md). */
export const beforeAfterSchema = z.discriminatedUnion('status', [
  z.object({ status: z.enum(['no_action', 'no_run', 'after_period_too_short', 'no_reference']) }),
  z.object({
    status: z.literal('ok'),
    before: period.extend({ predicted: z.number(), ebEstimate: z.number() }),
    after: period,
    comparison: z.object({
      sites: z.number().int(),
      beforeCount: z.number(),
      afterCount: z.number(),
      ratio: z.number(),
      scatter: z.number(),
    }),
    expectedWithoutFix: z.number(),
    theta: z.number(),
    standardError: z.number(),
    interval: z.tuple([z.number(), z.number()]),
    significantDrop: z.boolean(),
    significantRise: z.boolean(),
    naiveRatio: z.number().nullable(),
    naiveNote: z.string(),
  }),
]);

export const caseWithStudySchema = caseSchema.extend({ beforeAfter: beforeAfterSchema });

export const csvAnswer = (description: string) => textAnswer(description, 'text/csv; charset=utf-8');
export const reportAnswer = textAnswer('the printable report; rows under k events are left out', 'text/html; charset=utf-8');
