import { timingSafeEqual } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mayUse, permissionsOf, type Certificate, type Permission, type Role } from '../../core/domain/roles.js';
import type { Db } from '../../db/client.js';
import type { Person } from './people.js';
import { csrfTokenMatches, resolveSession } from './sessions.js';

export const SESSION_COOKIE = 'verity_session';

/** Who is asking: a logged-in person, or the provisioning service holding ADMIN_TOKEN. */
export interface Principal {
  kind: 'person' | 'service';
  /** Person id; 'admin-token' for the service. */
  id: string;
  /** How the audit log names them. */
  actor: string;
  username: string;
  displayName: string;
  roles: Role[];
  certificate: Certificate | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    sessionToken: string | null;
  }
}

/**
 * ADMIN_TOKEN stays as the machine credential for provisioning (the simulator and deployment
 * scripts enrol devices with it); it grants device administration only, never review.
 */
const SERVICE_ROLES: Role[] = ['device_admin'];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearerMatches(request: FastifyRequest, adminToken: string | undefined): boolean {
  const header = request.headers.authorization;
  if (!adminToken || !header?.startsWith('Bearer ')) return false;
  const presented = Buffer.from(header.slice('Bearer '.length));
  const expected = Buffer.from(adminToken);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * Identifies every request once, before any route runs. A cookie-authenticated request that
 * changes something must also carry the session's CSRF token: the cookie alone would be sent
 * by a forged cross-site form too.
 */
export async function installAuthentication(app: FastifyInstance, deps: { db: Db; adminToken: string | undefined }): Promise<void> {
  await app.register(fastifyCookie);
  app.decorateRequest('principal', null);
  app.decorateRequest('sessionToken', null);
  app.addHook('onRequest', async (request, reply) => {
    if (bearerMatches(request, deps.adminToken)) {
      request.principal = {
        kind: 'service',
        id: 'admin-token',
        actor: 'admin-token',
        username: 'admin-token',
        displayName: 'Provisioning service (ADMIN_TOKEN)',
        roles: SERVICE_ROLES,
        certificate: null,
      };
      return;
    }
    if (request.headers.authorization) return reply.code(401).send({ error: 'that bearer token is not valid' });
    const token = request.cookies[SESSION_COOKIE];
    if (!token) return;
    const session = await resolveSession(deps.db, token);
    if (!session) return;
    if (!SAFE_METHODS.has(request.method) && !csrfTokenMatches(token, request.headers['x-csrf-token'] as string | undefined)) {
      return reply.code(403).send({ error: 'missing or wrong CSRF token: reload the page and try again' });
    }
    request.sessionToken = token;
    request.principal = personPrincipal(session.person);
  });
}

/** A logged-in person as routes and the audit log see them. */
export function personPrincipal(person: Person): Principal {
  return {
    kind: 'person',
    id: person.id,
    actor: `person:${person.username}`,
    username: person.username,
    displayName: person.displayName,
    roles: person.roles,
    certificate: person.certificate,
  };
}

function refusal(principal: Principal, permission: Permission): string {
  if (!permissionsOf(principal.roles).has(permission)) return `your role does not allow this (needs ${permission})`;
  if (!principal.certificate) return 'this needs an enforcement certificate, and none is on record for you';
  return `your enforcement certificate ${principal.certificate.number} expired on ${principal.certificate.expiresAt.toISOString().slice(0, 10)}`;
}

/**
 * An onRequest hook that lets a request through only when its principal may; `permissions`
 * names what it asks for (any one of them; none means any logged-in person), so the
 * OpenAPI document and docs/api.md can state what each route enforces.
 */
export type Guard = ((request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) & { readonly permissions: readonly Permission[] };

/** The permissions a route's onRequest guard asks for; null when the route has no guard. */
export function guardedBy(onRequest: unknown): readonly Permission[] | null {
  const hooks: unknown[] = Array.isArray(onRequest) ? onRequest : [onRequest];
  const guard = hooks.find((hook): hook is Guard => typeof hook === 'function' && 'permissions' in hook);
  return guard ? guard.permissions : null;
}

/** An onRequest guard: 401 without a login, 403 when no role (or no valid certificate) allows the permission. */
export function requirePermission(...anyOf: Permission[]): Guard {
  const guard = async (request: FastifyRequest, reply: FastifyReply) => {
    const { principal } = request;
    if (!principal) return reply.code(401).send({ error: 'log in first' });
    const now = new Date();
    if (!anyOf.some((permission) => mayUse(principal, permission, now))) {
      const first = anyOf[0];
      return reply.code(403).send({ error: first ? refusal(principal, first) : 'forbidden' });
    }
  };
  return Object.assign(guard, { permissions: anyOf });
}

/** An onRequest guard for what a person does to their own account: 401 unless a person (not the admin token) is logged in. */
export function requirePerson(): Guard {
  const guard = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.principal?.kind !== 'person') return reply.code(401).send({ error: 'log in first' });
  };
  return Object.assign(guard, { permissions: [] });
}

/** For handlers behind requirePermission, where a principal is guaranteed. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is missing its requirePermission guard');
  return request.principal;
}
