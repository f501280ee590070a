import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../core/domain/config.js';
import type { Db } from '../../db/client.js';
import { analyticsRoutes } from './analytics-routes.js';

/** Hotspot reports, before/after studies and their exports for analysts. */
export const analyticsApi: FastifyPluginAsync<{ db: Db; analytics: Config['analytics'] }> = async (app, deps) => {
  analyticsRoutes(app, deps);
};
