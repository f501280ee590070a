import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { registerHealthRoute, type HealthCheck } from '../core/health.js';
import type { MediaStore } from '../core/media-store.js';
import type { Db } from '../db/client.js';
import { captureRoutes } from './routes/captures.js';
import { deviceHealthRoutes } from './routes/device-health.js';
import { deviceRoutes } from './routes/devices.js';
import { publicDeviceRoutes } from './routes/public-devices.js';
import { tamperingRoutes } from './routes/tampering.js';

export interface ReviewServerDeps {
  db: Db;
  store: MediaStore;
  checks: readonly HealthCheck[];
  adminToken: string | undefined;
  /** Request logging; none when absent. */
  logger?: FastifyBaseLogger;
}

/** Bumped with every incompatible change to a route; docs/api.md keeps the history. */
export const API_VERSION = '1.0.0';

const publicDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

/** The review server: JSON API and the browser app, every asset served from this process. */
export async function buildReviewServer(deps: ReviewServerDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The OpenAPI document is generated from the same zod schemas that validate requests, so it cannot drift.
  await app.register(fastifySwagger, {
    openapi: { info: { title: 'Verity review server API', version: API_VERSION } },
    transform: jsonSchemaTransform,
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  registerHealthRoute(app, 'review-ui', deps.checks);
  captureRoutes(app, deps);
  deviceRoutes(app, deps);
  deviceHealthRoutes(app, deps);
  publicDeviceRoutes(app, deps);
  tamperingRoutes(app, deps);
  await app.register(fastifyStatic, { root: publicDir, prefix: '/' });
  return app;
}
