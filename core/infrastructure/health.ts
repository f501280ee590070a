import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { registerMetricsRoute } from './metrics.js';

/** A dependency a role needs; `probe` rejects when it is unreachable. */
export interface HealthCheck {
  name: string;
  probe: () => Promise<unknown>;
  /**
   * A failure that only degrades the role (work is stranded, but the process serves and a
   * restart would not help): reported as `degraded` with HTTP 200, so an orchestrator does
   * not restart it in a loop while monitoring still sees the status and the reason.
   */
  degradesOnly?: boolean;
}

const PROBE_TIMEOUT_MS = 2000;

async function withTimeout(probe: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every probe at once; the report names each dependency and why it failed. */
export async function checkHealth(checks: readonly HealthCheck[]) {
  const results = await Promise.all(
    checks.map(async (check) => {
      try {
        await withTimeout(check.probe);
        return { name: check.name, ok: true as const };
      } catch (error) {
        return { name: check.name, ok: false as const, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  const failed = (degradesOnly: boolean) =>
    results.filter((result, index) => !result.ok && (checks[index]?.degradesOnly ?? false) === degradesOnly).map((result) => result.name);
  const failing = failed(false);
  const degraded = failed(true);
  const status = failing.length > 0 ? ('unavailable' as const) : degraded.length > 0 ? ('degraded' as const) : ('ok' as const);
  return { status, failing, degraded, checks: results };
}

const healthReportSchema = z.object({
  role: z.string(),
  status: z.enum(['ok', 'degraded', 'unavailable']),
  failing: z.array(z.string()).describe('dependencies that are down: the role cannot serve'),
  degraded: z.array(z.string()).describe('checks that found work stranded: the role serves, but someone should look'),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().optional() })),
});

/** `GET /health`: 200 when every dependency answers (status `degraded` if work is stranded), 503 naming the ones that do not. */
export function registerHealthRoute(app: FastifyInstance, role: string, checks: readonly HealthCheck[]): void {
  app.get('/health', { schema: { response: { 200: healthReportSchema, 503: healthReportSchema } } }, async (_request, reply) => {
    const report = await checkHealth(checks);
    return reply.code(report.status === 'unavailable' ? 503 : 200).send({ role, ...report });
  });
}

/** A server that only answers `GET /health` and `GET /metrics`, for roles with no other HTTP surface. */
export function buildHealthServer(role: string, checks: readonly HealthCheck[], metrics: Registry): FastifyInstance {
  const app = Fastify({ logger: false });
  // The routes describe their answers with zod, as the review server's do.
  app.setSerializerCompiler(serializerCompiler);
  registerHealthRoute(app, role, checks);
  registerMetricsRoute(app, metrics);
  return app;
}
