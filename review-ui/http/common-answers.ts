import type { FastifyInstance } from 'fastify';
import { guardedBy } from '../people/authentication.js';
import { badRequestSchema, refusalSchema } from './answer-schemas.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Adds to every documented route the answers that come from outside its handler, so the
 * OpenAPI document lists each status a client can get: 400 when the request schema refuses
 * the input, 401 for a wrong bearer token (and no login where a guard needs one), 403 when the
 * guard refuses or a cookie request that changes something lacks its CSRF token, 503 while
 * the database is away. A route's own description of a status wins. The permissions a guard
 * asks for go into the document as `x-permissions`, which docs/api.md is tested against.
 * Must run before any route is registered.
 */
export function describeCommonAnswers(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    if (schema.hide) return;
    const permissions = guardedBy(route.onRequest);
    const changes = [route.method].flat().some((method) => !SAFE_METHODS.has(method));
    const takesInput = Boolean(schema.querystring ?? schema.params ?? schema.body);
    schema.response = {
      ...(takesInput ? { 400: badRequestSchema } : {}),
      401: refusalSchema,
      ...(permissions || changes ? { 403: refusalSchema } : {}),
      503: refusalSchema,
      ...(schema.response as object | undefined),
    };
    if (permissions) schema['x-permissions'] = permissions;
  });
}
