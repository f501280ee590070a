import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../core/domain/clock.js';
import { readVerified, type MediaStore } from '../../core/infrastructure/media-store.js';
import { REVIEW_STATES } from '../../core/domain/review-policy.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import type { ReviewSettings } from '../review-settings.js';
import { belongsToCapture } from '../../db/capture-detail-reads.js';
import { captureDetail } from './capture-detail.js';
import { readerOf, refusalToRead } from './capture-access.js';
import { annotateCapture, claimCapture, claimNext, listQueue, releaseClaim } from '../../db/review-queue.js';
import { decide } from './review-decisions.js';
import { registerReviewMetrics } from './review-metrics.js';
import { decisionsBy } from '../../db/review-decisions.js';
import { badRequestSchema, noBody, refusalSchema } from '../http/answer-schemas.js';
import {
  captureDetailSchema,
  claimRefusalSchema,
  claimSchema,
  createdSchema,
  decisionSchema,
  mediaAnswer,
  myDecisionsSchema,
  nextClaimSchema,
  queueSchema,
} from './review-answers.js';

const filterSchema = z.object({
  deviceId: z.string().max(64).optional(),
  road: z.string().max(200).optional(),
  violationType: z.string().max(64).optional(),
  minAgeHours: z.coerce
    .number()
    .min(0)
    .max(24 * 365)
    .optional(),
  state: z.enum(REVIEW_STATES).optional(),
});
const captureParams = z.object({ captureId: z.uuid() });
/** Law L7 and the video-image regulation (art. 16): every look at evidence says why. */
const viewReasonSchema = z.string().trim().min(5, 'reason: say why you open this evidence (at least 5 characters)').max(500);

const viewerOf = (db: Db, request: FastifyRequest) => readerOf(db, principalOf(request));

/** The review workflow: queue, claims, the capture under review, its media, and decisions. */
export function reviewRoutes(
  app: FastifyInstance,
  deps: { db: Db; store: MediaStore; settings: ReviewSettings; clock: Clock; metrics: Registry },
): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const decided = registerReviewMetrics(deps.metrics);
  const review = deps.settings.review;
  const deciders = requirePermission('review.decide');

  routes.get(
    '/api/review/queue',
    {
      onRequest: requirePermission('review.decide', 'review.prescreen'),
      schema: {
        querystring: filterSchema.extend({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
        response: { 200: queueSchema },
      },
    },
    async (request) => {
      const { limit, ...filter } = request.query;
      return listQueue(deps.db, await viewerOf(deps.db, request), filter, review, limit, deps.clock.now());
    },
  );

  routes.get(
    '/api/review/my-decisions',
    {
      onRequest: deciders,
      schema: {
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
        response: { 200: myDecisionsSchema },
      },
    },
    async (request) => {
      return { decisions: await decisionsBy(deps.db, principalOf(request).id, request.query.limit) };
    },
  );

  routes.post(
    '/api/review/next',
    {
      onRequest: deciders,
      schema: {
        body: z.strictObject({ filter: filterSchema.default({}), skip: z.array(z.uuid()).max(20).default([]) }),
        response: { 200: nextClaimSchema, 204: z.void().describe('nothing matching is waiting, or everything matching is claimed') },
      },
    },
    async (request, reply) => {
      const viewer = await viewerOf(deps.db, request);
      const claimed = await claimNext(deps.db, viewer, request.body.filter, review.claimLeaseMs, request.body.skip, deps.clock.now());
      if (!claimed?.ok) return reply.code(204).send();
      const detail = await captureDetail(deps.db, deps.store, claimed.captureId, review, deps.clock.now());
      await recordView(deps.db, viewer.actor, claimed.captureId, 'review under claim');
      return { claim: { captureId: claimed.captureId, expiresAt: claimed.expiresAt }, detail };
    },
  );

  routes.post(
    '/api/review/captures/:captureId/claim',
    {
      onRequest: deciders,
      schema: { params: captureParams, body: noBody, response: { 200: claimSchema, 404: claimRefusalSchema, 409: claimRefusalSchema } },
    },
    async (request, reply) => {
      const outcome = await claimCapture(
        deps.db,
        await viewerOf(deps.db, request),
        request.params.captureId,
        review.claimLeaseMs,
        deps.clock.now(),
      );
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error, heldBy: outcome.heldBy });
      return { captureId: outcome.captureId, expiresAt: outcome.expiresAt };
    },
  );

  routes.delete(
    '/api/review/captures/:captureId/claim',
    {
      onRequest: deciders,
      schema: { params: captureParams, response: { 204: z.void().describe('the claim is given back'), 404: refusalSchema } },
    },
    async (request, reply) => {
      const released = await releaseClaim(deps.db, await viewerOf(deps.db, request), request.params.captureId);
      return released ? reply.code(204).send() : reply.code(404).send({ error: 'you hold no claim on this capture' });
    },
  );

  routes.get(
    '/api/review/captures/:captureId',
    {
      onRequest: requirePermission('evidence.view'),
      schema: {
        params: captureParams,
        querystring: z.object({ reason: viewReasonSchema.optional() }),
        response: { 200: captureDetailSchema, 400: badRequestSchema, 403: refusalSchema, 404: refusalSchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const refusal = await refusalToRead(deps.db, await viewerOf(deps.db, request), { captureId: request.params.captureId });
      if (refusal) return reply.code(403).send({ error: refusal });
      const detail = await captureDetail(deps.db, deps.store, request.params.captureId, review, deps.clock.now());
      if (!detail) return reply.code(404).send({ error: `no reviewable capture ${request.params.captureId}` });
      const holdsClaim = detail.claim?.personId === principal.id;
      const reason = request.query.reason ?? (holdsClaim ? 'review under claim' : undefined);
      if (!reason) return reply.code(400).send({ error: 'reason: say why you open this evidence (?reason=…)' });
      await recordView(deps.db, principal.actor, request.params.captureId, reason);
      return detail;
    },
  );

  routes.get(
    '/api/review/captures/:captureId/media/:sha256',
    {
      onRequest: requirePermission('evidence.view'),
      schema: {
        params: captureParams.extend({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
        response: { 200: mediaAnswer, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { captureId, sha256 } = request.params;
      const refusal = await refusalToRead(deps.db, await viewerOf(deps.db, request), { captureId });
      if (refusal) return reply.code(403).send({ error: refusal });
      const file = await belongsToCapture(deps.db, captureId, sha256);
      if (!file) return reply.code(404).send({ error: 'no such file in this capture' });
      const read = await readVerified(deps.store, sha256);
      if (!read.ok) return reply.code(409).send({ error: read.problem });
      // Content-addressed and private: the bytes behind a hash never change, but only this browser may keep them.
      return reply.header('cache-control', 'private, max-age=86400, immutable').type(file.contentType).send(read.bytes);
    },
  );

  routes.post(
    '/api/review/captures/:captureId/decision',
    {
      onRequest: deciders,
      schema: {
        params: captureParams,
        body: z.strictObject({
          outcome: z.enum(['approved', 'rejected', 'escalated']),
          reasonCode: z.string().max(64).optional(),
          note: z.string().trim().max(2000).optional(),
          lateReason: z
            .string()
            .trim()
            .min(5, 'lateReason: say why this approval comes after the deadline (at least 5 characters)')
            .max(2000)
            .optional(),
        }),
        response: { 200: decisionSchema, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema, 422: refusalSchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const viewer = await viewerOf(deps.db, request);
      const certificateNumber = principal.certificate?.number;
      if (!certificateNumber) return reply.code(403).send({ error: 'deciding needs an enforcement certificate' });
      const now = deps.clock.now();
      const result = await decide(
        deps.db,
        { ...viewer, certificateNumber },
        request.params.captureId,
        request.body,
        review,
        deps.store,
        now,
      );
      if (!result.ok) return reply.code(result.status).send({ error: result.error });
      const { capturedAt, ...answer } = result;
      decided(request.body.outcome, answer.step, Math.max(0, (now.getTime() - capturedAt.getTime()) / 1000));
      return answer;
    },
  );

  routes.post(
    '/api/review/captures/:captureId/annotations',
    {
      onRequest: requirePermission('review.prescreen', 'review.decide'),
      schema: {
        params: captureParams,
        body: z.strictObject({ kind: z.enum(['looks_valid', 'has_problem', 'note']), note: z.string().trim().min(1).max(2000) }),
        response: { 201: createdSchema, 403: refusalSchema, 404: refusalSchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { captureId } = request.params;
      const refusal = await refusalToRead(deps.db, await viewerOf(deps.db, request), { captureId });
      if (refusal) return reply.code(403).send({ error: refusal });
      const created = await annotateCapture(deps.db, {
        captureId,
        personId: principal.id,
        actor: principal.actor,
        kind: request.body.kind,
        note: request.body.note,
      });
      if (!created) return reply.code(404).send({ error: `no capture ${captureId}` });
      return reply.code(201).send(created);
    },
  );
}

async function recordView(db: Db, actor: string, captureId: string, reason: string): Promise<void> {
  await db.transaction((tx) =>
    appendAudit(tx, { actor, action: 'evidence.viewed', subjectType: 'capture', subjectId: captureId, details: { reason } }),
  );
}
