import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { registerHealthRoute, type HealthCheck } from '../core/health.js';
import { createMetricsRegistry, registerMetricsRoute } from '../core/metrics.js';
import type { MediaStore } from '../core/media-store.js';
import type { Db } from '../db/client.js';
import { tileOrigin, type Config } from '../core/config.js';
import { inlineScriptHashes, installSecurityHeaders } from '../core/security-headers.js';
import type { ServerSigningKey } from '../core/signing-key.js';
import { installAuthentication } from './auth.js';
import { installDependencyErrors } from './dependency-errors.js';
import { analyticsRoutes } from './routes/analytics.js';
import { auditRoutes } from './routes/audit.js';
import { vendorRoutes } from './routes/vendor.js';
import { incidentRoutes } from './routes/incidents.js';
import { peopleRoutes } from './routes/people.js';
import { reviewRoutes } from './routes/review.js';
import { sessionRoutes } from './routes/session.js';
import { captureRoutes } from './routes/captures.js';
import { deviceHealthRoutes } from './routes/device-health.js';
import { deviceRoutes } from './routes/devices.js';
import { publicDeviceRoutes } from './routes/public-devices.js';
import { tamperingRoutes } from './routes/tampering.js';

export interface ReviewSettings {
  sessionTtlMs: number;
  /** Whose X-Forwarded-* headers to believe: they decide the audited client address and whether cookies are Secure. */
  trustProxy: Config['http']['trustProxy'];
  review: Config['review'];
  analytics: Config['analytics'];
  /** When a capture counts as stranded, for the reconciliation report. */
  jobs: Config['jobs'];
}

export function reviewSettings(config: Config): ReviewSettings {
  return {
    sessionTtlMs: config.sessions.ttlMs,
    trustProxy: config.http.trustProxy,
    review: config.review,
    analytics: config.analytics,
    jobs: config.jobs,
  };
}

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
}

/** Bumped with every incompatible change to a route; docs/api.md keeps the history. */
export const API_VERSION = '2.1.0';

const publicDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

/** The review server: JSON API and the browser app, every asset served from this process. */
export async function buildReviewServer(deps: ReviewServerDeps): Promise<FastifyInstance> {
  const hops = deps.settings.trustProxy;
  // A hop count as fastify itself reads one (its types leave numbers out): trust the nearest `hops` proxies.
  const trustProxy = typeof hops === 'number' ? (_address: string, hop: number) => hop < hops : hops;
  const app = Fastify({ loggerInstance: deps.logger, trustProxy });
  const tiles = deps.settings.analytics.tiles;
  const tileServer = tiles ? tileOrigin(tiles.urlTemplate) : null;
  await installSecurityHeaders(app, {
    inlineScriptHashes: inlineScriptHashes(publicDir),
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
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  registerHealthRoute(app, 'review-ui', deps.checks);
  registerMetricsRoute(app, deps.metrics ?? createMetricsRegistry());
  await installAuthentication(app, deps);
  await sessionRoutes(app, { db: deps.db, sessionTtlMs: deps.settings.sessionTtlMs });
  peopleRoutes(app, deps);
  captureRoutes(app, { ...deps, stuckAfterMs: deps.settings.jobs.stuckAfterMs });
  deviceRoutes(app, deps);
  deviceHealthRoutes(app, deps);
  publicDeviceRoutes(app, deps);
  tamperingRoutes(app, deps);
  reviewRoutes(app, deps);
  incidentRoutes(app, deps);
  auditRoutes(app, deps);
  analyticsRoutes(app, { db: deps.db, analytics: deps.settings.analytics });
  await vendorRoutes(app);
  await app.register(fastifyStatic, { root: publicDir, prefix: '/' });
  return app;
}
