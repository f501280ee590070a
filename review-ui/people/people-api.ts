import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/client.js';
import { peopleRoutes } from './people-routes.js';
import { sessionRoutes } from './session-routes.js';

/** Sessions (log in, out, password) and the people who may use the system. */
export const peopleApi: FastifyPluginAsync<{ db: Db; sessionTtlMs: number }> = async (app, deps) => {
  await sessionRoutes(app, deps);
  peopleRoutes(app, deps);
};
