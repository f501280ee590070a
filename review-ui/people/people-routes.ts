import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DECIDING_ROLES, ROLES, permissionsOf } from '../../core/domain/roles.js';
import type { Db } from '../../db/client.js';
import { principalOf, requirePermission } from './authentication.js';
import { changePerson, createPerson, listPeople, newPersonSchema, passwordSchema, personChangeSchema, setPassword } from './people.js';
import { endAllSessions } from './sessions.js';

/** People and roles, kept by system administrators; every change is audited with who made it. */
export function peopleRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('people.manage');
  const params = z.object({ personId: z.uuid() });

  routes.get('/api/people', { onRequest }, async () => ({ people: await listPeople(deps.db) }));

  // The one list of roles and what each grants, so pages never keep a copy that drifts from core/domain/roles.ts.
  routes.get('/api/roles', { onRequest }, () => ({
    roles: ROLES.map((role) => ({ role, permissions: [...permissionsOf([role])], needsCertificate: DECIDING_ROLES.includes(role) })),
  }));

  routes.post('/api/people', { onRequest, schema: { body: newPersonSchema } }, async (request, reply) => {
    const outcome = await createPerson(deps.db, principalOf(request).actor, request.body);
    if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
    return reply.code(201).send({ person: outcome.person });
  });

  routes.patch('/api/people/:personId', { onRequest, schema: { params, body: personChangeSchema } }, async (request, reply) => {
    const outcome = await changePerson(deps.db, principalOf(request).actor, request.params.personId, request.body);
    if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
    return { person: outcome.person };
  });

  routes.post(
    '/api/people/:personId/password',
    { onRequest, schema: { params, body: z.strictObject({ password: passwordSchema }) } },
    async (request, reply) => {
      const changed = await setPassword(
        deps.db,
        principalOf(request).actor,
        request.params.personId,
        request.body.password,
        endAllSessions,
      );
      if (!changed) return reply.code(404).send({ error: `no person ${request.params.personId}` });
      return { changed };
    },
  );
}
