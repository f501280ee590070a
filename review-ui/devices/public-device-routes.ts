import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { listGatewayKeys } from '../../db/gateway-keys.js';
import { listPublishedDevices } from './public-devices.js';

/** The serializer keeps only these fields, so a column added to the query later cannot reach the public by accident. */
const publishedDevicesSchema = z.object({
  asOf: z.date(),
  devices: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      agency: z.string(),
      road: z.string(),
      direction: z.string(),
      latitude: z.number(),
      longitude: z.number(),
      publishedSince: z.date(),
    }),
  ),
});

const gatewayKeysSchema = z.object({
  keys: z.array(z.object({ fingerprint: z.string(), publicKeyPem: z.string(), firstUsedAt: z.date() })),
});

/** No login: the law wants published device locations to be public. */
export function publicDeviceRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get('/api/public/devices', { schema: { response: { 200: publishedDevicesSchema } } }, async (_request, reply) => {
    const asOf = new Date();
    const devices = await listPublishedDevices(deps.db, asOf);
    // A minute's staleness is harmless here, and lets a proxy absorb public traffic.
    return reply.header('cache-control', 'public, max-age=60').send({ asOf, devices });
  });

  // No login: a device verifies every acknowledgement with these, and a public key is no secret.
  routes.get('/api/public/gateway-keys', { schema: { response: { 200: gatewayKeysSchema } } }, async (_request, reply) => {
    // Short-lived, so a device that meets an unknown `gatewayKey` after a rotation soon sees the new key.
    return reply.header('cache-control', 'public, max-age=60').send({ keys: await listGatewayKeys(deps.db) });
  });
}
