import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { incidentWithCaptures, openIncidents } from '../../db/incidents.js';
import { addRejectReason, currentRejectReasons, retireRejectReason } from '../../db/reject-reasons.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import { readerOf, refusalToRead } from '../review/capture-access.js';
import { buildEvidencePackage, type EvidencePackageDeps } from './evidence-package.js';
import { noBody, refusalSchema } from '../http/answer-schemas.js';
import {
  evidencePackageAnswer,
  incidentAnswer,
  incidentListSchema,
  incidentWithCapturesSchema,
  rejectReasonAnswer,
  rejectReasonListSchema,
  rejectReasonSchema,
} from './incident-answers.js';

/** Incidents (one act, law L10) and the maintained list of reasons to reject. */
export function incidentRoutes(app: FastifyInstance, deps: EvidencePackageDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const readable = requirePermission('incidents.read');

  routes.get(
    '/api/incidents',
    {
      onRequest: readable,
      schema: {
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: { 200: incidentListSchema },
      },
    },
    async (request) => {
      const reader = await readerOf(deps.db, principalOf(request));
      // A merged or emptied incident holds no captures: it is kept for its history (GET by id), not listed as an act.
      // The subject is a plate: incidents holding captures of a device the reader administers are not theirs to see.
      const rows = await openIncidents(deps.db, { exceptDeviceIds: reader.administeredDeviceIds, limit: request.query.limit });
      return { incidents: rows.map(incidentAnswer) };
    },
  );

  routes.get(
    '/api/incidents/:incidentId',
    {
      onRequest: readable,
      schema: {
        params: z.object({ incidentId: z.uuid() }),
        response: { 200: incidentWithCapturesSchema, 403: refusalSchema, 404: refusalSchema },
      },
    },
    async (request, reply) => {
      const refusal = await refusalToRead(deps.db, await readerOf(deps.db, principalOf(request)), request.params);
      if (refusal) return reply.code(403).send({ error: refusal });
      const found = await incidentWithCaptures(deps.db, request.params.incidentId);
      if (!found) return reply.code(404).send({ error: `no incident ${request.params.incidentId}` });
      return {
        incident: incidentAnswer(found.incident),
        captures: found.captures.map(({ id, deviceId, capturedAt, state }) => ({ id, deviceId, capturedAt, state })),
      };
    },
  );

  routes.get(
    '/api/incidents/:incidentId/evidence-package',
    {
      onRequest: requirePermission('evidence.export'),
      schema: {
        params: z.object({ incidentId: z.uuid() }),
        // Every export of evidence states why (law L7); the reason goes into the audit log and the package.
        querystring: z.object({
          reason: z.string().trim().min(5, 'reason: say why you export this evidence (at least 5 characters)').max(500),
        }),
        response: { 200: evidencePackageAnswer, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const person = principalOf(request);
      const refusal = await refusalToRead(deps.db, await readerOf(deps.db, person), { incidentId: request.params.incidentId });
      if (refusal) return reply.code(403).send({ error: refusal });
      const built = await buildEvidencePackage(deps, request.params.incidentId, {
        personId: person.id,
        actor: person.actor,
        reason: request.query.reason,
      });
      switch (built.outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no incident ${request.params.incidentId}` });
        case 'not_approved':
        case 'not_intact':
        case 'not_evidence':
          return reply.code(409).send({ error: built.detail });
        case 'built':
          return reply
            .type('application/zip')
            .header('content-disposition', `attachment; filename="${built.fileName}"`)
            .header('x-package-sha256', built.sha256)
            .send(Buffer.from(built.bytes));
      }
    },
  );

  routes.get(
    '/api/reject-reasons',
    {
      onRequest: requirePermission('review.decide', 'reasons.manage', 'evidence.view'),
      schema: { response: { 200: rejectReasonListSchema } },
    },
    async () => ({ reasons: (await currentRejectReasons(deps.db)).map(rejectReasonAnswer) }),
  );

  routes.post(
    '/api/reject-reasons',
    {
      onRequest: requirePermission('reasons.manage'),
      schema: {
        body: z.strictObject({
          code: z.string().regex(/^[a-z][a-z0-9_]{2,63}$/, 'code: snake_case'),
          label: z.string().trim().min(3).max(200),
        }),
        response: { 201: rejectReasonSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request).actor;
      const added = await addRejectReason(deps.db, actor, request.body);
      if (!added) return reply.code(409).send({ error: `reason ${request.body.code} exists` });
      return reply.code(201).send(rejectReasonAnswer(added));
    },
  );

  routes.post(
    '/api/reject-reasons/:code/retire',
    {
      onRequest: requirePermission('reasons.manage'),
      schema: {
        params: z.object({ code: z.string().max(64) }),
        body: noBody,
        response: { 200: rejectReasonSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request).actor;
      const retired = await retireRejectReason(deps.db, actor, request.params.code);
      // The erasure cases of MPS order 157 art. 22 are the law's, not ours to retire; the database refuses it too.
      if (retired === 'statutory') {
        return reply
          .code(409)
          .send({ error: `${request.params.code} is a statutory erasure case (MPS order 157, art. 22): it cannot be retired or edited` });
      }
      // Retired, never deleted: past decisions keep pointing at the reason they gave.
      if (!retired) return reply.code(404).send({ error: `no current reason ${request.params.code}` });
      return rejectReasonAnswer(retired);
    },
  );
}
