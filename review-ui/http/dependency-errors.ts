import type { FastifyError, FastifyInstance } from 'fastify';
import { databaseUnavailability } from '../../db/unavailable.js';

/**
 * Answers a request that failed because a dependency is busy or away with 503 and a sentence,
 * never a hang or a 500 carrying a driver's message; every other error keeps fastify's answer.
 */
export function installDependencyErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const unavailable = databaseUnavailability(error);
    if (unavailable) {
      request.log.warn({ err: error }, unavailable);
      return reply.code(503).header('retry-after', '5').send({ error: unavailable });
    }
    if ((error.statusCode ?? 500) >= 500) request.log.error({ err: error }, 'request failed');
    const statusCode = error.statusCode ?? 500;
    return reply.code(statusCode).send(statusCode >= 500 ? { error: 'internal error; it has been logged' } : error);
  });
}
