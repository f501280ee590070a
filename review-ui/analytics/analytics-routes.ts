import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { addDays, daysBetween } from '../../core/domain/analytics-calendar.js';
import type { Config } from '../../core/domain/config.js';
import type { Db } from '../../db/client.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import { caseBeforeAfter, closeCase, openCase, recordAction } from './analytics-cases.js';
import { findCase, listCases } from '../../db/remediation-cases.js';
import { breakdown, siteExists, siteSeries } from '../../db/analytics-counts.js';
import { auditExport, breakdownCsv, hotspotsCsv, reportHtml } from './analytics-exports.js';
import { anomalyReport, hotspots } from './analytics-results.js';
import { aggregationState, firstCountedDay, fleetBounds, latestRun } from '../../db/analytics-results.js';
import { requestScreening } from '../../db/analytics-runs.js';
import { badRequestSchema, noBody, refusalSchema } from '../http/answer-schemas.js';
import {
  anomalyReportSchema,
  breakdownSchema,
  caseAnswer,
  caseListSchema,
  caseSchema,
  caseWithStudySchema,
  csvAnswer,
  hotspotsSchema,
  latestRunSchema,
  mapSchema,
  reportAnswer,
  runAnswer,
  screeningRequestedSchema,
  siteSeriesSchema,
} from './analytics-answers.js';

const day = z.iso.date();
const violationType = z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'violation type: snake_case');
const scope = z.enum(['cell', 'device']);
const flag = z.enum(['true', 'false']).transform((value) => value === 'true');
const siteId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'site id: an H3 index or a device id');
const cause = z.enum(['signage', 'road_design', 'signal_timing', 'device_placement', 'enforcement_gap', 'other']);
/** The longest period a series or breakdown may span, so one request cannot ask for decades of days. */
const MAX_DAYS = 1096;

const period = z
  .object({ from: day.optional(), to: day.optional() })
  .refine((query) => !query.from || !query.to || query.from <= query.to, { message: 'from must not be after to', path: ['from'] });

/**
 * The analyst's API (law L6): aggregates, screening results, remediation cases and exports.
 * Every route needs analytics.read; none returns an image, a plate or a capture (law L7).
 */
export function analyticsRoutes(app: FastifyInstance, deps: { db: Db; analytics: Config['analytics'] }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('analytics.read');
  const settings = deps.analytics;
  const { db } = deps;

  // Which basemap to draw under the hotspots; none is a valid answer, and the map reads without it.
  routes.get('/api/analytics/map', { onRequest, schema: { response: { 200: mapSchema } } }, async () => ({
    tiles: settings.tiles,
    fleetBounds: await fleetBounds(db),
  }));

  /** The requested period, defaulting to the latest run's, or null when there is neither. */
  async function periodOf(query: { from?: string | undefined; to?: string | undefined }) {
    const run = query.from && query.to ? null : await latestRun(db);
    const from = query.from ?? run?.periodFrom;
    const to = query.to ?? run?.periodTo;
    return from && to ? { from, to } : null;
  }

  routes.get('/api/analytics/runs/latest', { onRequest, schema: { response: { 200: latestRunSchema } } }, async () => {
    const [run, aggregation] = await Promise.all([latestRun(db), aggregationState(db)]);
    return { run: run && runAnswer(run), aggregation };
  });

  // Run now: screen the network without waiting for the next aggregation (202: the job is queued, the run comes later).
  routes.post(
    '/api/analytics/runs',
    { onRequest: requirePermission('analytics.run'), schema: { body: noBody, response: { 202: screeningRequestedSchema } } },
    async (request, reply) => reply.code(202).send(await requestScreening(db, principalOf(request).actor)),
  );

  const hotspotQuery = z.object({
    scope: scope.default('cell'),
    violationType: violationType.optional(),
    flagged: flag.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  });
  routes.get(
    '/api/analytics/hotspots',
    { onRequest, schema: { querystring: hotspotQuery, response: { 200: hotspotsSchema } } },
    async (request) => {
      const [page, firstDay] = await Promise.all([hotspots(db, request.query), firstCountedDay(db)]);
      const holdBack = {
        settleDays: settings.settleDays,
        everyMs: settings.everyMs,
        timeZone: settings.timeZone,
        firstCountedDay: firstDay,
        firstIncludedOn: firstDay && addDays(firstDay, settings.settleDays),
      };
      return { ...page, run: page.run && runAnswer(page.run), holdBack };
    },
  );

  routes.get(
    '/api/analytics/sites/:scope/:siteId/series',
    {
      onRequest,
      schema: {
        params: z.object({ scope, siteId }),
        querystring: period.and(z.object({ violationType: violationType.optional() })),
        response: { 200: siteSeriesSchema, 400: badRequestSchema, 404: refusalSchema },
      },
    },
    async (request, reply) => {
      const site = request.params;
      if (!(await siteExists(db, site))) return reply.code(404).send({ error: `no counts for ${site.scope} ${site.siteId}` });
      const range = await periodOf(request.query);
      if (!range) return reply.code(400).send({ error: 'give from and to: there is no analysis run to take a period from' });
      if (daysBetween(range.from, range.to) > MAX_DAYS) return reply.code(400).send({ error: `at most ${MAX_DAYS} days at once` });
      return siteSeries(db, site, request.query.violationType, range.from, range.to);
    },
  );

  const breakdownQuery = period.and(
    z
      .object({
        scope: scope.optional(),
        siteId: siteId.optional(),
        violationType: violationType.optional(),
        state: z.enum(['approved', 'excluded']).default('approved'),
      })
      .refine((query) => (query.scope === undefined) === (query.siteId === undefined), {
        message: 'give scope and siteId together, or neither for the whole network',
        path: ['siteId'],
      }),
  );
  type BreakdownInput = z.infer<typeof breakdownQuery>;
  async function breakdownOf(query: BreakdownInput) {
    const range = await periodOf(query);
    if (!range) return { error: 'give from and to: there is no analysis run to take a period from' } as const;
    if (daysBetween(range.from, range.to) > MAX_DAYS) return { error: `at most ${MAX_DAYS} days at once` } as const;
    const site = query.scope && query.siteId ? { scope: query.scope, siteId: query.siteId } : null;
    return { query: { site, violationType: query.violationType, state: query.state, ...range } };
  }
  routes.get(
    '/api/analytics/breakdown',
    { onRequest, schema: { querystring: breakdownQuery, response: { 200: breakdownSchema, 400: badRequestSchema } } },
    async (request, reply) => {
      const resolved = await breakdownOf(request.query);
      if (resolved.error !== undefined) return reply.code(400).send({ error: resolved.error });
      return breakdown(db, resolved.query);
    },
  );

  routes.get(
    '/api/analytics/devices/anomalies',
    { onRequest, schema: { querystring: z.object({ flagged: flag.optional() }), response: { 200: anomalyReportSchema } } },
    async (request) => {
      const report = await anomalyReport(db, request.query.flagged);
      return { ...report, run: report.run && runAnswer(report.run) };
    },
  );

  routes.get(
    '/api/analytics/remediation-cases',
    {
      onRequest,
      schema: { querystring: z.object({ status: z.enum(['open', 'fixed', 'dismissed']).optional() }), response: { 200: caseListSchema } },
    },
    async (request) => ({ cases: (await listCases(db, request.query.status)).map(caseAnswer) }),
  );

  routes.post(
    '/api/analytics/remediation-cases',
    {
      onRequest,
      schema: {
        body: z.strictObject({
          scope,
          siteId,
          violationType,
          suspectedCause: cause,
          note: z.string().trim().max(2000).optional(),
        }),
        response: { 201: caseSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const result = await openCase(db, principalOf(request).actor, request.body);
      switch (result.outcome) {
        case 'unknown_site':
          return reply.code(404).send({ error: `no counts for ${request.body.scope} ${request.body.siteId}` });
        case 'already_open':
          return reply.code(409).send({ error: `case ${result.caseId} is already open for this site and violation type` });
        case 'opened':
          return reply.code(201).send(caseAnswer(result.case));
      }
    },
  );

  const caseParams = z.object({ caseId: z.uuid() });
  routes.get(
    '/api/analytics/remediation-cases/:caseId',
    { onRequest, schema: { params: caseParams, response: { 200: caseWithStudySchema, 404: refusalSchema } } },
    async (request, reply) => {
      const found = await findCase(db, request.params.caseId);
      if (!found) return reply.code(404).send({ error: `no case ${request.params.caseId}` });
      return { ...caseAnswer(found), beforeAfter: await caseBeforeAfter(db, found, settings) };
    },
  );

  routes.post(
    '/api/analytics/remediation-cases/:caseId/action',
    {
      onRequest,
      schema: {
        params: caseParams,
        body: z.strictObject({ actionTaken: z.string().trim().min(3).max(2000), actionDate: day, suspectedCause: cause.optional() }),
        response: { 200: caseSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const result = await recordAction(db, principalOf(request).actor, request.params.caseId, request.body);
      switch (result.outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no case ${request.params.caseId}` });
        case 'not_open':
          return reply.code(409).send({ error: 'the case is closed' });
        case 'recorded':
          return caseAnswer(result.case);
      }
    },
  );

  routes.post(
    '/api/analytics/remediation-cases/:caseId/close',
    {
      onRequest,
      schema: {
        params: caseParams,
        body: z.strictObject({ outcome: z.enum(['fixed', 'dismissed']), reason: z.string().trim().min(3).max(500) }),
        response: { 200: caseSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const result = await closeCase(db, principalOf(request).actor, request.params.caseId, request.body);
      switch (result.outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no case ${request.params.caseId}` });
        case 'not_open':
          return reply.code(409).send({ error: 'the case is already closed' });
        case 'no_action':
          return reply.code(409).send({ error: 'record the action taken before closing the case as fixed' });
        case 'closed':
          return caseAnswer(result.case);
      }
    },
  );

  const exportQuery = z.object({ scope: scope.default('cell'), violationType: violationType.optional(), flagged: flag.optional() });
  const hotspotsCsvAnswer = csvAnswer('the hotspot table; x-verity-suppressed-rows says how many rows under k events were left out');
  routes.get(
    '/api/analytics/export/hotspots.csv',
    { onRequest, schema: { querystring: exportQuery, response: { 200: hotspotsCsvAnswer } } },
    async (request, reply) => {
      const result = await hotspotsCsv(db, request.query, settings.kAnonymity);
      await auditExport(db, principalOf(request).actor, 'hotspots.csv', request.query, result);
      return sendCsv(reply, 'hotspots.csv', result);
    },
  );

  const breakdownCsvAnswer = csvAnswer('the breakdown; x-verity-suppressed-rows says how many rows under k events were left out');
  routes.get(
    '/api/analytics/export/breakdown.csv',
    { onRequest, schema: { querystring: breakdownQuery, response: { 200: breakdownCsvAnswer, 400: badRequestSchema } } },
    async (request, reply) => {
      const resolved = await breakdownOf(request.query);
      if (resolved.error !== undefined) return reply.code(400).send({ error: resolved.error });
      const result = await breakdownCsv(db, resolved.query, settings.kAnonymity);
      await auditExport(db, principalOf(request).actor, 'breakdown.csv', request.query, result);
      return sendCsv(reply, 'breakdown.csv', result);
    },
  );

  routes.get(
    '/api/analytics/report.html',
    {
      onRequest,
      schema: {
        querystring: z.object({ scope: scope.default('cell'), violationType: violationType.optional() }),
        response: { 200: reportAnswer },
      },
    },
    async (request, reply) => {
      const result = await reportHtml(db, request.query, settings.kAnonymity);
      await auditExport(db, principalOf(request).actor, 'report.html', request.query, result);
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('x-verity-suppressed-rows', String(result.suppressed))
        .send(result.body);
    },
  );
}

/** A CSV export as a download, saying how many rows k-anonymity held back. */
function sendCsv(reply: FastifyReply, filename: string, result: { body: string; suppressed: number }): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('x-verity-suppressed-rows', String(result.suppressed))
    .send(result.body);
}
