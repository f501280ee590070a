import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deviceIdSchema } from '../../core/domain/protocol.js';
import type { Db } from '../../db/client.js';
import { closeOpenWindow, deviceTimeline, fleetHealth, recordOperatorWindow, withdrawKnownWindow } from './device-health.js';
import { badRequestSchema, refusalSchema } from '../http/answer-schemas.js';
import { principalOf, requirePermission } from '../people/authentication.js';
import { deviceTimelineSchema, fleetHealthSchema, windowAnswerSchema } from './device-health-answers.js';

const moment = z.iso.datetime({ offset: true });
/** A window changes which captures may carry a penalty, so every change says why, for the audit log. */
const reasonSchema = z.string().trim().min(3, 'reason: at least 3 characters').max(500, 'reason: at most 500 characters');

const openWindowBody = z
  .strictObject({ startsAt: moment, endsAt: moment.nullish(), reason: reasonSchema })
  .refine((body) => !body.endsAt || Date.parse(body.endsAt) > Date.parse(body.startsAt), {
    message: 'endsAt must be after startsAt',
    path: ['endsAt'],
  });

export function deviceHealthRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const onRequest = requirePermission('health.manage');
  const readable = requirePermission('health.read');
  const deviceParams = z.object({ deviceId: deviceIdSchema });
  const windowParams = z.object({ windowId: z.uuid() });

  routes.post(
    '/api/devices/:deviceId/windows',
    { onRequest, schema: { params: deviceParams, body: openWindowBody, response: { 201: windowAnswerSchema, 404: refusalSchema } } },
    async (request, reply) => {
      const { deviceId } = request.params;
      const { startsAt, endsAt, reason } = request.body;
      const window = await recordOperatorWindow(deps.db, deviceId, {
        startsAt: new Date(startsAt),
        endsAt: endsAt ? new Date(endsAt) : null,
        reason,
        recordedBy: principalOf(request).actor,
      });
      if (!window) return reply.code(404).send({ error: `no device ${deviceId}` });
      return reply.code(201).send(window);
    },
  );

  routes.post(
    '/api/windows/:windowId/close',
    {
      onRequest,
      schema: {
        params: windowParams,
        body: z.strictObject({ endsAt: moment, reason: reasonSchema }),
        response: { 200: windowAnswerSchema, 400: badRequestSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { windowId } = request.params;
      const { endsAt, reason } = request.body;
      const result = await closeOpenWindow(deps.db, windowId, { endsAt: new Date(endsAt), by: principalOf(request).actor, reason });
      switch (result.outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no window ${windowId}` });
        case 'not_open':
          return reply.code(409).send({ error: `window ${windowId} is already closed or withdrawn` });
        case 'ends_before_start':
          return reply.code(400).send({ error: 'endsAt must be after the window starts' });
        case 'closed':
          return result.window;
      }
    },
  );

  routes.post(
    '/api/windows/:windowId/withdraw',
    {
      onRequest,
      schema: {
        params: windowParams,
        body: z.strictObject({ reason: reasonSchema }),
        response: { 200: windowAnswerSchema, 404: refusalSchema, 409: refusalSchema },
      },
    },
    async (request, reply) => {
      const { windowId } = request.params;
      const result = await withdrawKnownWindow(deps.db, windowId, { by: principalOf(request).actor, reason: request.body.reason });
      switch (result.outcome) {
        case 'not_found':
          return reply.code(404).send({ error: `no window ${windowId}` });
        case 'already_withdrawn':
          return reply.code(409).send({ error: `window ${windowId} is already withdrawn` });
        case 'withdrawn':
          return result.window;
      }
    },
  );

  routes.get(
    '/api/devices/:deviceId/health',
    {
      onRequest: readable,
      schema: {
        params: deviceParams,
        querystring: z.object({ hours: z.coerce.number().int().min(1).max(168).default(48) }),
        response: { 200: deviceTimelineSchema, 404: refusalSchema },
      },
    },
    async (request, reply) => {
      const timeline = await deviceTimeline(deps.db, request.params.deviceId, new Date(), request.query.hours);
      if (!timeline) return reply.code(404).send({ error: `no device ${request.params.deviceId}` });
      return timeline;
    },
  );

  routes.get('/api/fleet/health', { onRequest: readable, schema: { response: { 200: fleetHealthSchema } } }, async () => {
    const asOf = new Date();
    return { asOf, devices: await fleetHealth(deps.db, asOf) };
  });
}
