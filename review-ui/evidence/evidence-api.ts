import type { FastifyPluginAsync } from 'fastify';
import type { EvidencePackageDeps } from './evidence-package.js';
import { incidentRoutes } from './incident-routes.js';

/** Incidents and the signed evidence packages exported from them. */
export const evidenceApi: FastifyPluginAsync<EvidencePackageDeps> = async (app, deps) => {
  incidentRoutes(app, deps);
};
