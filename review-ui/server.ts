import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Queue } from 'bullmq';
import type { Registry } from 'prom-client';
import { registerHealthRoute, type HealthCheck } from '../core/infrastructure/health.js';
import { createMetricsRegistry, registerMetricsRoute } from '../core/infrastructure/metrics.js';
import type { MediaStore } from '../core/infrastructure/media-store.js';
import type { Db } from '../db/client.js';
import { systemClock, type Clock } from '../core/domain/clock.js';
import { tileOrigin } from '../core/domain/config.js';
import type { ReviewSettings } from './review-settings.js';
import { inlineScriptHashes, installSecurityHeaders } from '../core/infrastructure/security-headers.js';
import type { ServerSigningKey } from '../core/infrastructure/signing-key.js';
import { installAuthentication } from './people/authentication.js';
import { installDependencyErrors } from './http/dependency-errors.js';
import { describeCommonAnswers } from './http/common-answers.js';
import { analyticsApi } from './analytics/analytics-api.js';
import { auditApi } from './audit/audit-api.js';
import { deviceHealthApi } from './device-health/device-health-api.js';
import { devicesApi } from './devices/devices-api.js';
import { evidenceApi } from './evidence/evidence-api.js';
import { vendorRoutes } from './http/vendor-routes.js';
import { peopleApi } from './people/people-api.js';
import { queueDashboard } from './queues/queue-dashboard.js';
import { reviewApi } from './review/review-api.js';

export interface ReviewServerDeps {
  db: Db;
  store: MediaStore;
  checks: readonly HealthCheck[];
  adminToken: string | undefined;
  settings: ReviewSettings;
  /** Signs exported evidence packages. */
  signingKey: ServerSigningKey;
  /** What `GET /metrics` reports; all-in-one passes one that every role adds its series to. */
  metrics?: Registry;
  /** Request logging; none when absent. */
  logger?: FastifyBaseLogger;
  /** What the statutory clocks read as now; the real time when absent, a movable one in tests. */
  clock?: Clock;
  /** The job queues the system administrators' dashboard shows; no dashboard when absent. */
  queues?: readonly Queue[];
}

/** Bumped with every incompatible change to a route; docs/api.md keeps the history. */
export const API_VERSION = '2.7.0';

const appDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app');

/** The review server: JSON API and the browser app, every asset served from this process. */
export async function buildReviewServer(deps: ReviewServerDeps): Promise<FastifyInstance> {
  const hops = deps.settings.trustProxy;
  // A hop count as fastify itself reads one (its types leave numbers out): trust the nearest `hops` proxies.
  const trustProxy = typeof hops === 'number' ? (_address: string, hop: number) => hop < hops : hops;
  const app = Fastify({ loggerInstance: deps.logger, trustProxy });
  const tiles = deps.settings.analytics.tiles;
  const tileServer = tiles ? tileOrigin(tiles.urlTemplate) : null;
  await installSecurityHeaders(app, {
    inlineScriptHashes: inlineScriptHashes(appDir),
    imageOrigins: tileServer ? [tileServer] : [],
  });
  installDependencyErrors(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The OpenAPI document is generated from the same zod schemas that validate requests, so it cannot drift.
  await app.register(fastifySwagger, {
    openapi: { info: { title: 'Verity review server API', version: API_VERSION } },
    transform: jsonSchemaTransform,
  });
  describeCommonAnswers(app);
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  registerHealthRoute(app, 'review-ui', deps.checks);
  const metrics = deps.metrics ?? createMetricsRegistry();
  registerMetricsRoute(app, metrics);
  await installAuthentication(app, deps);
  // One plugin per domain: each owns its routes, schemas and services (README's folder table).
  await app.register(peopleApi, { db: deps.db, sessionTtlMs: deps.settings.sessionTtlMs });
  await app.register(reviewApi, { ...deps, metrics, clock: deps.clock ?? systemClock });
  await app.register(devicesApi, deps);
  await app.register(deviceHealthApi, deps);
  await app.register(evidenceApi, deps);
  await app.register(auditApi, deps);
  await app.register(analyticsApi, { db: deps.db, analytics: deps.settings.analytics });
  if (deps.queues) await app.register(queueDashboard, { queues: deps.queues });
  await vendorRoutes(app);
  await app.register(fastifyStatic, { root: appDir, prefix: '/' });
  return app;
}
