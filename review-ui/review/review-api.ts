import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../../core/domain/clock.js';
import type { MediaStore } from '../../core/infrastructure/media-store.js';
import type { Db } from '../../db/client.js';
import type { ReviewSettings } from '../review-settings.js';
import { captureRoutes } from './capture-routes.js';
import { reviewRoutes } from './review-routes.js';
import { tamperingRoutes } from './tampering-routes.js';

export interface ReviewApiDeps {
  db: Db;
  store: MediaStore;
  settings: ReviewSettings;
  /** The statutory review clock and the claim leases read it (docs/party.md). */
  clock: Clock;
  /** Where the decision counts and latencies go: the server's `/metrics`. */
  metrics: Registry;
}

/** Captures, the review queue and its decisions, tampering findings: everything a reviewer acts on. */
export const reviewApi: FastifyPluginAsync<ReviewApiDeps> = async (app, deps) => {
  captureRoutes(app, { ...deps, stuckAfterMs: deps.settings.jobs.stuckAfterMs });
  tamperingRoutes(app, deps);
  reviewRoutes(app, deps);
};
