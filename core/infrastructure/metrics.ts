import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { z } from 'zod';

/** One Prometheus registry per process, with Node's own process and event-loop series. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** `GET /metrics` in Prometheus's text format: counts and timings only, nothing about a person or a capture. */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry): void {
  const exposition = { description: "Prometheus's text exposition format", content: { [registry.contentType]: { schema: z.string() } } };
  app.get('/metrics', { schema: { response: { 200: exposition } } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
