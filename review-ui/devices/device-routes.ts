import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isBackdated } from '../../core/domain/certification.js';
import { certificationSchema, enrolmentSchema } from '../../core/domain/device-registration.js';
import { deviceIdSchema } from '../../core/domain/protocol.js';
import type { Db } from '../../db/client.js';
import { listGatewayKeys } from '../../db/gateway-keys.js';
import { DEVICE_STATUSES } from '../../db/devices.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import { listExpiringCertifications } from './certification-expiry.js';
import { confirmCertification } from './certification-rejudging.js';
import { listDevices } from './device-listing.js';
import { isServiceAccount, mosquittoPasswordHash, newBrokerPassword } from '../../core/infrastructure/broker-password.js';
import { noBody, refusalSchema } from '../http/answer-schemas.js';
import {
  brokerPasswordAnswerSchema,
  certificationAddedSchema,
  certificationConfirmedSchema,
  deviceListSchema,
  enrolmentAnswerSchema,
  expiringCertificationsSchema,
  keyRotatedSchema,
  statusChangedSchema,
} from './device-answers.js';
import { addCertification, changeDeviceStatus, enrolDevice, issueBrokerPassword, rotateDeviceKey } from './device-registry.js';

/** Every registry change says why, so the audit log explains itself to a later reader. */
const reasonSchema = z.string().trim().min(3, 'reason: at least 3 characters').max(500, 'reason: at most 500 characters');

export function deviceRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('devices.manage');
  const readable = requirePermission('devices.read', 'devices.manage');
  const params = z.object({ deviceId: deviceIdSchema });

  routes.get('/api/devices', { onRequest: readable, schema: { response: { 200: deviceListSchema } } }, async () => {
    const asOf = new Date();
    return { asOf, devices: await listDevices(deps.db, asOf) };
  });

  routes.put(
    '/api/devices/:deviceId',
    {
      onRequest,
      schema: { params, body: enrolmentSchema, response: { 200: enrolmentAnswerSchema, 201: enrolmentAnswerSchema, 409: refusalSchema } },
    },
    async (request, reply) => {
      const { deviceId } = request.params;
      const brokerPassword = isServiceAccount(deviceId) ? undefined : newBrokerPassword();
      const outcome = await enrolDevice(
        deps.db,
        principalOf(request).actor,
        deviceId,
        request.body,
        brokerPassword && mosquittoPasswordHash(brokerPassword),
      );
      if (outcome === 'conflict') {
        return reply.code(409).send({ error: `device ${deviceId} is enrolled with different details; key rotation is a separate action` });
      }
      // Only the hash is kept, so the password is in this answer once; a repeat gets none (ask for a new one instead).
      const broker = outcome === 'enrolled' && brokerPassword ? { broker: { username: deviceId, password: brokerPassword } } : {};
      // The device needs the gateway's key to verify acknowledgements; null until a gateway has started once.
      const [current] = await listGatewayKeys(deps.db);
      const gatewayKey = current ? { fingerprint: current.fingerprint, publicKeyPem: current.publicKeyPem } : null;
      return reply.code(outcome === 'enrolled' ? 201 : 200).send({ id: deviceId, outcome, ...broker, gatewayKey });
    },
  );

  routes.post(
    '/api/devices/:deviceId/broker-password',
    {
      onRequest,
      schema: { params, body: noBody, response: { 201: brokerPasswordAnswerSchema, 404: refusalSchema, 409: refusalSchema } },
    },
    async (request, reply) => {
      const { deviceId } = request.params;
      if (isServiceAccount(deviceId)) {
        return reply
          .code(409)
          .send({ error: `device ids starting verity- are reserved for service accounts: ${deviceId} gets no broker account` });
      }
      const brokerPassword = newBrokerPassword();
      const outcome = await issueBrokerPassword(deps.db, principalOf(request).actor, deviceId, mosquittoPasswordHash(brokerPassword));
      switch (outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no device ${deviceId}` });
        case 'revoked':
          return reply.code(409).send({ error: `device ${deviceId} is revoked: it has no broker account` });
        case 'issued':
          return reply.code(201).send({ id: deviceId, broker: { username: deviceId, password: brokerPassword } });
      }
    },
  );

  routes.post(
    '/api/devices/:deviceId/certifications',
    { onRequest, schema: { params, body: certificationSchema, response: { 201: certificationAddedSchema, 404: refusalSchema } } },
    async (request, reply) => {
      const now = new Date();
      const id = await addCertification(deps.db, principalOf(request).actor, request.params.deviceId, request.body, now);
      if (!id) return reply.code(404).send({ error: `no device ${request.params.deviceId}` });
      return reply.code(201).send({ id, needsConfirmation: isBackdated({ validFrom: new Date(request.body.validFrom), recordedAt: now }) });
    },
  );

  routes.post(
    '/api/certifications/:certificationId/confirm',
    {
      onRequest,
      schema: {
        params: z.object({ certificationId: z.uuid() }),
        body: noBody,
        response: { 200: certificationConfirmedSchema, 403: refusalSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const person = principalOf(request);
      const outcome = await confirmCertification(deps.db, request.params.certificationId, {
        actor: person.actor,
        isPerson: person.kind === 'person',
      });
      if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
      return outcome;
    },
  );

  routes.post(
    '/api/devices/:deviceId/status',
    {
      onRequest,
      schema: {
        params,
        body: z.strictObject({ status: z.enum(DEVICE_STATUSES), reason: reasonSchema }),
        response: { 200: statusChangedSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { deviceId } = request.params;
      const outcome = await changeDeviceStatus(deps.db, principalOf(request).actor, deviceId, request.body);
      switch (outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no device ${deviceId}` });
        case 'revoked_is_final':
          return reply
            .code(409)
            .send({ error: `device ${deviceId} is revoked, and revocation is final: enrol a replacement device under a new id` });
        case 'changed':
        case 'unchanged':
          return { id: deviceId, status: request.body.status, outcome };
      }
    },
  );

  routes.post(
    '/api/devices/:deviceId/keys',
    {
      onRequest,
      schema: {
        params,
        body: z.strictObject({ publicKeyPem: enrolmentSchema.shape.publicKeyPem, reason: reasonSchema }),
        response: { 200: keyRotatedSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { deviceId } = request.params;
      const outcome = await rotateDeviceKey(deps.db, principalOf(request).actor, deviceId, request.body);
      switch (outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no device ${deviceId}` });
        case 'revoked':
          return reply.code(409).send({ error: `device ${deviceId} is revoked; a revoked device's key cannot be rotated` });
        case 'same_key':
          return reply.code(409).send({ error: `device ${deviceId} already uses this key; rotation needs a new one` });
        case 'rotated':
          return { id: deviceId, outcome };
      }
    },
  );

  routes.get(
    '/api/certifications/expiring',
    {
      onRequest: readable,
      schema: {
        querystring: z.object({ days: z.coerce.number().int().min(1).max(365).default(30) }),
        response: { 200: expiringCertificationsSchema },
      },
    },
    async (request) => {
      const asOf = new Date();
      return { asOf, days: request.query.days, certifications: await listExpiringCertifications(deps.db, asOf, request.query.days) };
    },
  );
}
