import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { captureOfFinding, confirmTamperingFinding, recordTamperingFinding } from '../../db/tampering-findings.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import { readerOf, refusalToRead } from './capture-access.js';
import { noBody, refusalSchema } from '../http/answer-schemas.js';
import { createdSchema, findingConfirmedSchema } from './review-answers.js';

/**
 * Tampering findings: the only way back from a malfunction exclusion (law L4). Both the person
 * recording and the one confirming must be logged in with a valid enforcement certificate, and
 * must differ; the database refuses the same person twice as well.
 */
export function tamperingRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('tampering.record');

  routes.post(
    '/api/captures/:captureId/tampering-findings',
    {
      onRequest,
      schema: {
        params: z.object({ captureId: z.uuid() }),
        body: z.strictObject({ windowId: z.uuid(), evidence: z.string().trim().min(10).max(5000) }),
        response: { 201: createdSchema, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { windowId, evidence } = request.body;
      const person = principalOf(request);
      const refusal = await refusalToRead(deps.db, await readerOf(deps.db, person), { captureId: request.params.captureId });
      if (refusal) return reply.code(403).send({ error: refusal });
      const outcome = await deps.db.transaction((tx) =>
        recordTamperingFinding(tx, {
          captureId: request.params.captureId,
          windowId,
          evidence,
          recordedBy: person.actor,
          certificateNumber: person.certificate?.number ?? null,
        }),
      );
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return reply.code(201).send({ id: outcome.value });
    },
  );

  routes.post(
    '/api/tampering-findings/:findingId/confirm',
    {
      onRequest,
      schema: {
        params: z.object({ findingId: z.uuid() }),
        body: noBody,
        response: { 200: findingConfirmedSchema, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const person = principalOf(request);
      const captureId = await captureOfFinding(deps.db, request.params.findingId);
      const refusal = captureId && (await refusalToRead(deps.db, await readerOf(deps.db, person), { captureId }));
      if (refusal) return reply.code(403).send({ error: refusal });
      const outcome = await deps.db.transaction((tx) =>
        confirmTamperingFinding(tx, request.params.findingId, person.actor, person.certificate?.number ?? null),
      );
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return reply.send(outcome.value);
    },
  );
}
