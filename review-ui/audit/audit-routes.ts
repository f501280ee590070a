import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import type { Db } from '../../db/client.js';
import { auditCheckpoints, auditEntries } from './audit-record.js';
import { requirePermission } from '../people/authentication.js';

/** Every column, the hashes included: an auditor recomputes the chain from exactly these. */
const entriesSchema = z.object({
  entries: z.array(
    z.object({
      seq: z.number().int(),
      recordedAt: z.date(),
      actor: z.string(),
      action: z.string(),
      subjectType: z.string(),
      subjectId: z.string(),
      details: z.unknown(),
      previousHash: z.string(),
      hash: z.string(),
    }),
  ),
  nextBeforeSeq: z.number().int().nullable().describe('pass as beforeSeq for the next page; null on the last'),
});

const checkpointsSchema = z.object({
  publicKeyPem: z.string(),
  keyFingerprint: z.string(),
  checkpoints: z.array(
    z.object({ seq: z.number().int(), hash: z.string(), signedAt: z.date(), keyFingerprint: z.string(), signature: z.string() }),
  ),
});

/**
 * The record for auditors: entries filtered by subject, actor or action, newest first, and the
 * signed chain heads with the key that signed them, so copies can be kept outside this system
 * and compared later (`npm run audit:verify` checks the whole chain).
 */
export function auditRoutes(app: FastifyInstance, deps: { db: Db; signingKey: ServerSigningKey }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('audit.read');

  routes.get(
    '/api/audit/entries',
    {
      onRequest,
      schema: {
        querystring: z.object({
          subjectType: z.string().max(64).optional(),
          subjectId: z.string().max(200).optional(),
          actor: z.string().max(200).optional(),
          action: z.string().max(100).optional(),
          beforeSeq: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: { 200: entriesSchema },
      },
    },
    async (request) => {
      return auditEntries(deps.db, request.query);
    },
  );

  routes.get(
    '/api/audit/checkpoints',
    {
      onRequest,
      schema: {
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(20) }),
        response: { 200: checkpointsSchema },
      },
    },
    async (request) => auditCheckpoints(deps.db, deps.signingKey, request.query.limit),
  );
}
