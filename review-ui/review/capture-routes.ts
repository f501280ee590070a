import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readVerified, type MediaStore } from '../../core/infrastructure/media-store.js';
import type { Db } from '../../db/client.js';
import { CAPTURE_STATES } from '../../core/domain/capture-lifecycle.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import { readerOf, refusalToRead } from './capture-access.js';
import { countByState, isThumbnail, listCaptures, reconcile } from './capture-listing.js';
import { refusalSchema } from '../http/answer-schemas.js';
import { captureListSchema, reconciliationSchema, thumbnailAnswer } from './review-answers.js';

export function captureRoutes(app: FastifyInstance, deps: { db: Db; store: MediaStore; stuckAfterMs: number }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/api/captures',
    {
      onRequest: requirePermission('captures.list'),
      schema: {
        querystring: z.object({
          state: z.enum(CAPTURE_STATES).optional(),
          before: z.iso.datetime({ offset: true }).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: { 200: captureListSchema },
      },
    },
    async (request) => {
      const { state, before, limit } = request.query;
      const [list, counts] = await Promise.all([
        listCaptures(deps.db, { state, before: before ? new Date(before) : undefined, limit }),
        countByState(deps.db),
      ]);
      return { captures: list, counts };
    },
  );

  routes.get(
    '/api/ingest/reconciliation',
    { onRequest: requirePermission('captures.list', 'audit.read'), schema: { response: { 200: reconciliationSchema } } },
    async () => reconcile(deps.db, deps.stuckAfterMs),
  );

  routes.get(
    '/api/thumbnails/:sha256',
    // Thumbnails show plates too: only people who may view evidence get them (law L7).
    {
      onRequest: requirePermission('evidence.view'),
      schema: {
        params: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
        response: { 200: thumbnailAnswer, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { sha256 } = request.params;
      if (!(await isThumbnail(deps.db, sha256))) return reply.code(404).send({ error: 'no such thumbnail' });
      const refusal = await refusalToRead(deps.db, await readerOf(deps.db, principalOf(request)), { mediaSha256: sha256 });
      if (refusal) return reply.code(403).send({ error: refusal });
      const read = await readVerified(deps.store, sha256);
      if (!read.ok) return reply.code(409).send({ error: read.problem });
      // Content-addressed and verified just now: the bytes behind a hash can never change.
      return reply.header('cache-control', 'private, max-age=31536000, immutable').type('image/jpeg').send(read.bytes);
    },
  );
}
