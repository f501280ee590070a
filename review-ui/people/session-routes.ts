import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PERMISSIONS, ROLES, mayUse } from '../../core/domain/roles.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import { refusalSchema } from '../http/answer-schemas.js';
import { SESSION_COOKIE, personPrincipal, principalOf, requirePerson, type Principal } from './authentication.js';
import { createLoginThrottle, LOGIN_LIMITS } from './login-throttle.js';
import { authenticate, passwordSchema, setPassword } from './people.js';
import { csrfTokenFor, endAllSessions, endSession, startSession } from './sessions.js';

/** What the pages need to know about the person: which actions to offer is decided by `permissions`, valid now. */
function describe(principal: Principal) {
  const now = new Date();
  return {
    username: principal.username,
    displayName: principal.displayName,
    roles: principal.roles,
    permissions: PERMISSIONS.filter((permission) => mayUse(principal, permission, now)),
    certificate: principal.certificate,
  };
}

/** Who is logged in, as the pages read it; the serializer sends only these fields. */
const sessionPersonSchema = z.object({
  username: z.string(),
  displayName: z.string(),
  roles: z.array(z.enum(ROLES)),
  permissions: z.array(z.enum(PERMISSIONS)),
  certificate: z.object({ number: z.string(), expiresAt: z.date() }).nullable(),
});

/** Log in, find out who you are, change your password, log out. */
export async function sessionRoutes(app: FastifyInstance, deps: { db: Db; sessionTtlMs: number }): Promise<void> {
  const throttle = createLoginThrottle(deps.db);
  const sweeper = setInterval(() => {
    throttle.sweep().catch((error: unknown) => app.log.warn({ err: error }, 'could not sweep expired login counters'));
  }, LOGIN_LIMITS.perUsernameAndAddress.windowSeconds * 1000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/api/session',
    {
      schema: {
        body: z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(1).max(200) }),
        response: {
          200: z.object({ person: sessionPersonSchema, csrfToken: z.string(), expiresAt: z.date() }),
          401: refusalSchema,
          429: refusalSchema,
        },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const attempt = await throttle.attempt(username, request.ip);
      if (!attempt.allowed) {
        request.log.warn({ username, ip: request.ip, retryAfterSeconds: attempt.retryAfterSeconds }, 'login attempt throttled');
        return reply
          .code(429)
          .header('retry-after', String(attempt.retryAfterSeconds))
          .send({ error: `too many login attempts from this address: try again in ${Math.ceil(attempt.retryAfterSeconds / 60)} min` });
      }
      const person = await authenticate(deps.db, username, password);
      if (!person) {
        await deps.db.transaction((tx) =>
          appendAudit(tx, {
            actor: 'anonymous',
            action: 'session.refused',
            subjectType: 'username',
            subjectId: username.trim().toLowerCase(),
            details: { ip: request.ip },
          }),
        );
        return reply.code(401).send({ error: 'wrong username or password' });
      }
      await attempt.succeeded();
      const principal = personPrincipal(person);
      const session = await deps.db.transaction(async (tx) => {
        const started = await startSession(tx, person.id, deps.sessionTtlMs);
        await appendAudit(tx, {
          actor: principal.actor,
          action: 'session.started',
          subjectType: 'person',
          subjectId: person.id,
          details: { ip: request.ip, expiresAt: started.expiresAt.toISOString() },
        });
        return started;
      });
      reply.setCookie(SESSION_COOKIE, session.token, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: 'auto',
        expires: session.expiresAt,
      });
      return {
        person: describe(principal),
        csrfToken: csrfTokenFor(session.token),
        expiresAt: session.expiresAt,
      };
    },
  );

  const sessionAnswer = z.object({ person: sessionPersonSchema, csrfToken: z.string().nullable() });
  routes.get('/api/session', { schema: { response: { 200: sessionAnswer, 401: refusalSchema } } }, async (request, reply) => {
    const { principal } = request;
    if (!principal) return reply.code(401).send({ error: 'not logged in' });
    return { person: describe(principal), csrfToken: request.sessionToken ? csrfTokenFor(request.sessionToken) : null };
  });

  routes.delete(
    '/api/session',
    { schema: { response: { 204: z.void().describe('logged out; the session cookie is cleared') } } },
    async (request, reply) => {
      const { principal, sessionToken } = request;
      if (principal && sessionToken) {
        await endSession(deps.db, sessionToken);
        await deps.db.transaction((tx) =>
          appendAudit(tx, { actor: principal.actor, action: 'session.ended', subjectType: 'person', subjectId: principal.id, details: {} }),
        );
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );

  routes.post(
    '/api/session/password',
    {
      schema: {
        body: z.strictObject({ currentPassword: z.string().min(1).max(200), newPassword: passwordSchema }),
        response: { 200: z.object({ changed: z.literal(true), loggedOut: z.literal(true) }), 401: refusalSchema, 403: refusalSchema },
      },
      onRequest: requirePerson(),
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (!(await authenticate(deps.db, principal.username, request.body.currentPassword))) {
        return reply.code(403).send({ error: 'the current password is wrong' });
      }
      await setPassword(deps.db, principal.actor, principal.id, request.body.newPassword, endAllSessions);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { changed: true as const, loggedOut: true as const };
    },
  );
}
