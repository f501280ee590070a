import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DECIDING_ROLES, PERMISSIONS, ROLES, permissionsOf } from '../../core/domain/roles.js';
import type { Db } from '../../db/client.js';
import { refusalSchema } from '../http/answer-schemas.js';
import { principalOf, requirePermission } from './authentication.js';
import {
  changePerson,
  clearLoginLock,
  createPerson,
  listPeople,
  loginLockClearingSchema,
  newPersonSchema,
  passwordSchema,
  personChangeSchema,
  setPassword,
} from './people.js';
import { endAllSessions } from './sessions.js';

/** A person as the people page reads one: never the password hash, which the serializer cannot send. */
const personAnswerSchema = z.object({
  id: z.uuid(),
  username: z.string(),
  displayName: z.string(),
  roles: z.array(z.enum(ROLES)),
  certificate: z.object({ number: z.string(), expiresAt: z.date() }).nullable(),
  disabledAt: z.date().nullable(),
  administeredDeviceIds: z.array(z.string()).optional(),
  /** Wrong passwords used up the attempts at `addresses` places: no login from there before `until`. */
  loginLock: z
    .object({ until: z.date(), addresses: z.int().min(1) })
    .nullable()
    .optional(),
});
const personChangedSchema = z.object({ person: personAnswerSchema });
const refusals = { 404: refusalSchema, 409: refusalSchema, 422: refusalSchema };

/** People and roles, kept by system administrators; every change is audited with who made it. */
export function peopleRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('people.manage');
  const params = z.object({ personId: z.uuid() });

  routes.get(
    '/api/people',
    { onRequest, schema: { response: { 200: z.object({ people: z.array(personAnswerSchema.required({ loginLock: true })) }) } } },
    async () => ({
      people: await listPeople(deps.db),
    }),
  );

  // The one list of roles and what each grants, so pages never keep a copy that drifts from core/domain/roles.ts.
  const rolesSchema = z.object({
    roles: z.array(z.object({ role: z.enum(ROLES), permissions: z.array(z.enum(PERMISSIONS)), needsCertificate: z.boolean() })),
  });
  routes.get('/api/roles', { onRequest, schema: { response: { 200: rolesSchema } } }, () => ({
    roles: ROLES.map((role) => ({ role, permissions: [...permissionsOf([role])], needsCertificate: DECIDING_ROLES.includes(role) })),
  }));

  routes.post(
    '/api/people',
    { onRequest, schema: { body: newPersonSchema, response: { 201: personChangedSchema, ...refusals } } },
    async (request, reply) => {
      const outcome = await createPerson(deps.db, principalOf(request).actor, request.body);
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return reply.code(201).send({ person: outcome.person });
    },
  );

  routes.patch(
    '/api/people/:personId',
    { onRequest, schema: { params, body: personChangeSchema, response: { 200: personChangedSchema, ...refusals } } },
    async (request, reply) => {
      const outcome = await changePerson(deps.db, principalOf(request).actor, request.params.personId, request.body);
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return { person: outcome.person };
    },
  );

  routes.post(
    '/api/people/:personId/password',
    {
      onRequest,
      schema: {
        params,
        body: z.strictObject({ password: passwordSchema }),
        response: { 200: z.object({ changed: z.literal(true) }), 404: refusalSchema },
      },
    },
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

  routes.post(
    '/api/people/:personId/login-lock/clear',
    {
      onRequest,
      schema: {
        params,
        body: loginLockClearingSchema,
        response: { 200: z.object({ cleared: z.object({ addresses: z.int() }) }), 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const outcome = await clearLoginLock(deps.db, principalOf(request).actor, request.params.personId, request.body.reason);
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return { cleared: { addresses: outcome.addresses } };
    },
  );
}
