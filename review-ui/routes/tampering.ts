import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { confirmTamperingFinding, recordTamperingFinding } from '../../db/tampering-findings.js';
import { requireAdminToken } from './devices.js';

/**
 * Tampering findings: the only way back from a malfunction exclusion (law L4). Until people
 * log in, the reviewer names who acts; the two-person rule is also enforced by the database.
 */
export function tamperingRoutes(app: FastifyInstance, deps: { db: Db; adminToken: string | undefined }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requireAdminToken(deps.adminToken);
  const reviewer = z.string().trim().min(2).max(100);

  routes.post(
    '/api/captures/:captureId/tampering-findings',
    {
      onRequest,
      schema: {
        params: z.object({ captureId: z.uuid() }),
        body: z.strictObject({ windowId: z.uuid(), evidence: z.string().trim().min(10).max(5000), reviewer }),
      },
    },
    async (request, reply) => {
      const { windowId, evidence, reviewer: recordedBy } = request.body;
      const outcome = await deps.db.transaction((tx) =>
        recordTamperingFinding(tx, { captureId: request.params.captureId, windowId, evidence, recordedBy: `reviewer:${recordedBy}` }),
      );
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return reply.code(201).send({ id: outcome.value });
    },
  );

  routes.post(
    '/api/tampering-findings/:findingId/confirm',
    { onRequest, schema: { params: z.object({ findingId: z.uuid() }), body: z.strictObject({ reviewer }) } },
    async (request, reply) => {
      const outcome = await deps.db.transaction((tx) =>
        confirmTamperingFinding(tx, request.params.findingId, `reviewer:${request.body.reviewer}`),
      );
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return reply.send(outcome.value);
    },
  );
}
