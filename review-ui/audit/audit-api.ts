import type { FastifyPluginAsync } from 'fastify';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import type { Db } from '../../db/client.js';
import { auditRoutes } from './audit-routes.js';

/** The tamper-evident audit log, its verification and signed heads. */
export const auditApi: FastifyPluginAsync<{ db: Db; signingKey: ServerSigningKey }> = async (app, deps) => {
  auditRoutes(app, deps);
};
