import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { certificationSchema, enrolmentSchema } from '../../core/device-registration.js';
import { deviceIdSchema } from '../../core/protocol.js';
import type { Db } from '../../db/client.js';
import { addCertification, enrolDevice } from '../services/device-registry.js';

/** Until people and roles exist, registry changes need the operator's admin token. */
function requireAdminToken(adminToken: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!adminToken) return reply.code(503).send({ error: 'device registry changes are disabled: set ADMIN_TOKEN' });
    const presented = Buffer.from(request.headers.authorization?.replace(/^Bearer /, '') ?? '');
    const expected = Buffer.from(adminToken);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      return reply.code(401).send({ error: 'a valid admin token is required (Authorization: Bearer …)' });
    }
  };
}

export function deviceRoutes(app: FastifyInstance, deps: { db: Db; adminToken: string | undefined }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requireAdminToken(deps.adminToken);
  const params = z.object({ deviceId: deviceIdSchema });

  routes.put('/api/devices/:deviceId', { onRequest, schema: { params, body: enrolmentSchema } }, async (request, reply) => {
    const outcome = await enrolDevice(deps.db, 'admin-token', request.params.deviceId, request.body);
    if (outcome === 'conflict') {
      return reply
        .code(409)
        .send({ error: `device ${request.params.deviceId} is enrolled with different details; key rotation is a separate action` });
    }
    return reply.code(outcome === 'enrolled' ? 201 : 200).send({ id: request.params.deviceId, outcome });
  });

  routes.post(
    '/api/devices/:deviceId/certifications',
    { onRequest, schema: { params, body: certificationSchema } },
    async (request, reply) => {
      const id = await addCertification(deps.db, 'admin-token', request.params.deviceId, request.body);
      if (!id) return reply.code(404).send({ error: `no device ${request.params.deviceId}` });
      return reply.code(201).send({ id });
    },
  );
}
