import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { buildTestReviewServer } from '../test/support/review-server.js';

interface Operation {
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
  responses?: Record<string, { content?: Record<string, unknown> }>;
  'x-permissions'?: string[];
}
type Paths = Record<string, Record<string, Operation>>;

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
const TAKES_BODY = new Set(['put', 'post', 'patch']);

/**
 * Routes left out of the OpenAPI document on purpose, each with why: everything else the
 * server registers must be in it.
 */
const SCHEMALESS: Record<string, string> = {
  'GET /api/openapi.json': 'the OpenAPI document itself',
  'GET /*': "the browser app's static files",
  'GET /vendor/panzoom/*': 'a browser library served as static files',
  'GET /vendor/leaflet/*': 'a browser library served as static files',
  'GET /vendor/chart.js/*': 'a browser library served as static files',
  'GET /vendor/kurkle-color/*': 'a browser library served as static files',
  'GET /vendor/canonicalize/*': 'a browser library served as static files',
};

const docsApi = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'api.md'), 'utf8');

/** Every method and path the server registers, read from fastify's route tree (HEAD twins left out). */
function registeredRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    prefixes.length = depth;
    const route = prefixes.join('') + match[2]!;
    prefixes.push(match[2]!);
    for (const method of match[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push(`${method} ${route.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

/** The permission column docs/api.md must show for an operation, from the guard the route runs. */
function permissionText(operation: Operation): string {
  const permissions = operation['x-permissions'];
  if (!permissions) return 'none';
  if (permissions.length === 0) return 'logged in';
  return permissions.map((permission) => `\`${permission}\``).join(' or ');
}

/** docs/api.md's route table: `METHOD /path` → its permission cell and its request cell. */
function documentedRoutes(): Map<string, { permission: string; request: string }> {
  const rows = new Map<string, { permission: string; request: string }>();
  for (const line of docsApi.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const route = /^`([A-Z]+ \/\S*)`$/.exec(cells[1] ?? '')?.[1];
    if (route) rows.set(route, { request: cells[2] ?? '', permission: cells[3] ?? '' });
  }
  return rows;
}

describe('the OpenAPI document and docs/api.md', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let paths: Paths;
  const operations = () =>
    Object.entries(paths).flatMap(([route, methods]) =>
      Object.entries(methods)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${route}`, method, route, operation })),
    );

  beforeAll(async () => {
    database = await createTestDatabase('openapi');
    mediaDir = await createTempDir('openapi-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir) });
    paths = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Paths }>().paths;
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  it('holds every route the server registers, except the named schemaless ones', () => {
    const documented = new Set(operations().map(({ name }) => name));
    const missing = registeredRoutes(app).filter((route) => !documented.has(route) && !(route in SCHEMALESS));
    expect(missing).toEqual([]);
    // An entry for a route that no longer exists would excuse the next one to take its name.
    expect(Object.keys(SCHEMALESS).filter((route) => !registeredRoutes(app).includes(route))).toEqual([]);
  });

  it('describes the answer of every route for each status it sends, and the request of every route that takes one', () => {
    const all = operations();
    expect(all.length).toBeGreaterThanOrEqual(60);
    const problems: string[] = [];
    for (const { name, method, route, operation } of all) {
      const responses = Object.entries(operation.responses ?? {});
      // A 204 has no body to describe; every other answer names its content type and shape.
      for (const [status, answer] of responses) {
        if (answer.content === undefined && status !== '204') problems.push(`${name}: ${status} has no content`);
      }
      if (!responses.some(([status]) => /^[23]/.test(status))) problems.push(`${name}: no success described`);
      const pathParameters = [...route.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
      const described = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
      if (described.sort().join() !== pathParameters.join()) problems.push(`${name}: path parameters not described`);
      // Without a body schema a route would accept any body unchecked; routes that take none say so with an empty one.
      // Query strings are held by the type provider instead: a handler cannot read one its schema does not declare.
      if (TAKES_BODY.has(method) && !operation.requestBody) problems.push(`${name}: no request body schema`);
      if ((operation.requestBody || operation.parameters?.length) && !operation.responses?.['400']) problems.push(`${name}: no 400`);
    }
    expect(problems).toEqual([]);
    expect(Object.keys(paths['/api/devices/{deviceId}']!.put!.responses!).sort()).toEqual([
      '200',
      '201',
      '400',
      '401',
      '403',
      '409',
      '503',
    ]);
    expect(Object.keys(paths['/api/review/captures/{captureId}/media/{sha256}']!.get!.responses!['200']!.content!)).toEqual([
      'image/*',
      'video/*',
    ]);
  });

  it('lists in docs/api.md every route with the permission its guard enforces and the body it takes', () => {
    const rows = documentedRoutes();
    for (const { name, operation } of operations()) {
      const row = rows.get(name);
      expect(row, `${name} is missing from docs/api.md`).toBeDefined();
      expect(row!.permission, `${name} permission`).toBe(permissionText(operation));
      const body = (operation.requestBody as { content?: Record<string, { schema?: { properties?: object } }> } | undefined)?.content?.[
        'application/json'
      ]?.schema?.properties;
      for (const field of Object.keys(body ?? {})) expect(row!.request, `${name} body field ${field}`).toContain(`\`${field}\``);
    }
  });

  it('names no route in docs/api.md that the server does not have', () => {
    const normalise = (route: string) => route.replace(/\{[^}]*\}/g, '{}').replace(/[?#].*$/, '');
    const known = new Set([...operations().map(({ name }) => name), ...Object.keys(SCHEMALESS)].map(normalise));
    const named = [...docsApi.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]*)`/g)].map((match) => `${match[1]} ${match[2]}`);
    expect(named.length).toBeGreaterThan(60);
    expect(named.filter((route) => !known.has(normalise(route)))).toEqual([]);
  });
});
