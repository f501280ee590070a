import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/client.js';
import { deviceHealthRoutes } from './device-health-routes.js';

/** Heartbeats, faults and malfunction windows per device. */
export const deviceHealthApi: FastifyPluginAsync<{ db: Db }> = async (app, deps) => {
  deviceHealthRoutes(app, deps);
};
