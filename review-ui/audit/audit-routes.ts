import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditExportSchema } from '../../core/domain/audit-export.js';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import type { Db } from '../../db/client.js';
import { auditCheckpoints, auditEntries, auditExport, auditCustody, MAX_CUSTODY_ENTRIES, MAX_EXPORT_ENTRIES } from './audit-record.js';
import { principalOf, requirePermission } from '../people/authentication.js';

/** Every column, the hashes included: an auditor recomputes the chain from exactly these. */
const entrySchema = z.object({
  seq: z.number().int(),
  recordedAt: z.date(),
  actor: z.string(),
  action: z.string(),
  subjectType: z.string(),
  subjectId: z.string(),
  details: z.unknown(),
  previousHash: z.string(),
  hash: z.string(),
});

const entriesSchema = z.object({
  entries: z.array(entrySchema),
  nextBeforeSeq: z.number().int().nullable().describe('pass as beforeSeq for the next page; null on the last'),
});

const refusalSchema = z.object({ error: z.string() });

/** A moment as ISO 8601 with its offset, as the page's date fields send it. */
const momentParameter = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

const custodySchema = z.object({
  subjectType: z.enum(['capture', 'incident']),
  subjectId: z.string(),
  entries: z.array(entrySchema),
  truncated: z.boolean().describe(`true when more than ${MAX_CUSTODY_ENTRIES} entries matched: only the oldest are listed`),
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
          text: z.string().max(200).optional().describe('matched anywhere in the actor, action, subject or details'),
          from: momentParameter.optional().describe('recorded at or after'),
          until: momentParameter.optional().describe('recorded before'),
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

  routes.get(
    '/api/audit/export',
    {
      onRequest,
      schema: {
        description: `A range of entries with the signed heads among them, as a file \`npm run audit:verify -- --export FILE\` checks offline; at most ${MAX_EXPORT_ENTRIES} entries. The export is itself audited.`,
        querystring: z
          .object({
            from: momentParameter.optional().describe('recorded at or after'),
            until: momentParameter.optional().describe('recorded before'),
          })
          .refine((range) => !range.from || !range.until || range.from < range.until, { message: 'from must be before until' }),
        response: { 200: auditExportSchema, 404: refusalSchema, 413: refusalSchema },
      },
    },
    async (request, reply) => {
      const outcome = await auditExport(deps.db, deps.signingKey, principalOf(request).actor, request.query);
      if (outcome.kind === 'empty') return reply.code(404).send({ error: 'no entries were recorded in that range' });
      if (outcome.kind === 'too_large') {
        return reply.code(413).send({
          error: `${outcome.count} entries in that range, more than the ${MAX_EXPORT_ENTRIES} one file holds: export a shorter range`,
        });
      }
      const { exported } = outcome;
      return reply
        .header('content-disposition', `attachment; filename="verity-audit-${exported.range.fromSeq}-${exported.range.toSeq}.json"`)
        .send(exported);
    },
  );

  routes.get(
    '/api/audit/custody',
    {
      onRequest,
      schema: {
        description: "A capture's or an incident's chain of custody: every entry about it, oldest first.",
        querystring: z
          .object({ captureId: z.string().min(1).max(200).optional(), incidentId: z.uuid().optional() })
          .refine((query) => (query.captureId === undefined) !== (query.incidentId === undefined), {
            message: 'give either captureId or incidentId',
          }),
        response: { 200: custodySchema },
      },
    },
    async (request) => {
      const { captureId, incidentId } = request.query;
      const subject =
        incidentId !== undefined
          ? { subjectType: 'incident' as const, subjectId: incidentId }
          : { subjectType: 'capture' as const, subjectId: captureId ?? '' };
      return { ...subject, ...(await auditCustody(deps.db, subject)) };
    },
  );
}
