import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../core/domain/clock.js';
import { loadConfig } from '../../core/domain/config.js';
import type { HealthCheck } from '../../core/infrastructure/health.js';
import type { MediaStore } from '../../core/infrastructure/media-store.js';
import type { Role } from '../../core/domain/roles.js';
import { loadOrCreateSigningKey } from '../../core/infrastructure/signing-key.js';
import type { Db } from '../../db/client.js';
import { buildReviewServer } from '../../review-ui/server.js';
import { reviewSettings, type ReviewSettings } from '../../review-ui/review-settings.js';
import { createPerson } from '../../review-ui/people/people.js';

/** A review server with the default settings, a throwaway signing key and the given overrides. */
export async function buildTestReviewServer(options: {
  db: Db;
  store: MediaStore;
  adminToken?: string;
  checks?: readonly HealthCheck[];
  settings?: Partial<ReviewSettings['review']>;
  analytics?: Partial<ReviewSettings['analytics']>;
  trustProxy?: ReviewSettings['trustProxy'];
  clock?: Clock;
  queues?: readonly Queue[];
}): Promise<FastifyInstance> {
  const defaults = reviewSettings(loadConfig({}));
  return buildReviewServer({
    db: options.db,
    store: options.store,
    adminToken: options.adminToken,
    checks: options.checks ?? [],
    settings: {
      ...defaults,
      trustProxy: options.trustProxy ?? defaults.trustProxy,
      review: { ...defaults.review, ...options.settings },
      analytics: { ...defaults.analytics, ...options.analytics },
    },
    signingKey: await loadOrCreateSigningKey(path.join(os.tmpdir(), `verity-test-key-${randomBytes(6).toString('hex')}.pem`)),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.queues ? { queues: options.queues } : {}),
  });
}

export interface LoggedIn {
  personId: string;
  username: string;
  /** Headers for app.inject: the session cookie, plus the CSRF token unsafe methods need. */
  headers: { cookie: string; 'x-csrf-token': string };
}

const inAYear = () => new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();

/** Creates a person with the given roles (a certificate when `certified`) and logs them in. */
export async function personLoggedIn(
  app: FastifyInstance,
  db: Db,
  username: string,
  roles: Role[],
  options: { certificateExpiresAt?: string | null; administeredDeviceIds?: string[] } = {},
): Promise<LoggedIn> {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const certified = roles.includes('reviewer') || roles.includes('legal_reviewer');
  const expiresAt = options.certificateExpiresAt === undefined ? inAYear() : options.certificateExpiresAt;
  const created = await createPerson(db, 'test', {
    username,
    displayName: username,
    password,
    roles,
    certificate: certified && expiresAt ? { number: `ENF-${username}`, expiresAt } : null,
    administeredDeviceIds: options.administeredDeviceIds ?? [],
  });
  if (!created.ok) throw new Error(created.error);
  const response = await app.inject({ method: 'POST', url: '/api/session', payload: { username, password } });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.body}`);
  const cookie = response.cookies.find((entry) => entry.name === 'verity_session');
  if (!cookie) throw new Error('no session cookie');
  return {
    personId: created.person.id,
    username,
    headers: { cookie: `verity_session=${cookie.value}`, 'x-csrf-token': response.json<{ csrfToken: string }>().csrfToken },
  };
}
