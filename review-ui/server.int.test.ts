import { generateKeyPairSync } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { databaseCheck, redisCheck, strandedCapturesCheck } from '../core/infrastructure/probes.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { captures, mediaChunks, outbox } from '../db/schema.js';
import { buildTestReviewServer, personLoggedIn } from '../test/support/review-server.js';
import { API_VERSION } from './server.js';
import type { Reconciliation } from './review/capture-listing.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const appDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app');

function enrolment(publicKeyPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()) {
  return {
    kind: 'speed_radar',
    model: 'Radar 9',
    serial: 'R9-1',
    agency: 'Test Agency',
    publicKeyPem,
    road: 'Binhe Avenue',
    direction: 'westbound',
    latitude: 22.52,
    longitude: 114.04,
  };
}

describe('review server over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('review');
    mediaDir = await createTempDir('review-media');
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    await database?.drop();
    await mediaDir?.remove();
  });

  async function build(checks = [databaseCheck(database)]) {
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), adminToken: ADMIN_TOKEN, checks });
    return app;
  }

  it('reports healthy when its dependencies answer', async () => {
    const response = await (await build()).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', failing: [] });
  });

  it('answers 503 naming the dependency that is down', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    unreachable.on('error', () => undefined);
    const response = await (await build([databaseCheck(database), redisCheck(unreachable)])).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: 'unavailable', failing: ['redis'] });
    unreachable.disconnect();
  });

  it('refuses registry changes without the admin token', async () => {
    const server = await build();
    const anonymous = await server.inject({ method: 'PUT', url: '/api/devices/RADAR-1', payload: enrolment() });
    expect(anonymous.statusCode).toBe(401);
    const wrong = await server.inject({
      method: 'PUT',
      url: '/api/devices/RADAR-1',
      payload: enrolment(),
      headers: { authorization: 'Bearer wrong-token-of-some-length' },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('enrols a device once, confirms an identical retry and refuses a silent key change', async () => {
    const server = await build();
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const details = enrolment();
    const first = await server.inject({ method: 'PUT', url: '/api/devices/RADAR-2', payload: details, headers });
    expect(first.statusCode).toBe(201);
    const again = await server.inject({ method: 'PUT', url: '/api/devices/RADAR-2', payload: details, headers });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ outcome: 'unchanged' });
    const otherKey = await server.inject({ method: 'PUT', url: '/api/devices/RADAR-2', payload: enrolment(), headers });
    expect(otherKey.statusCode).toBe(409);
  });

  it('explains a bad enrolment or certification instead of storing it', async () => {
    const server = await build();
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const badKey = await server.inject({ method: 'PUT', url: '/api/devices/RADAR-3', payload: enrolment('not a key'), headers });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.body).toContain('Ed25519');
    await server.inject({ method: 'PUT', url: '/api/devices/RADAR-3', payload: enrolment(), headers });
    const backwards = await server.inject({
      method: 'POST',
      url: '/api/devices/RADAR-3/certifications',
      payload: { kind: 'signage', reference: 'S-1', validFrom: '2026-02-01T00:00:00Z', validTo: '2026-01-01T00:00:00Z' },
      headers,
    });
    expect(backwards.statusCode).toBe(400);
    expect(backwards.body).toContain('validTo');
    const noDevice = await server.inject({
      method: 'POST',
      url: '/api/devices/NOPE-1/certifications',
      payload: { kind: 'signage', reference: 'S-1', validFrom: '2026-01-01T00:00:00Z', validTo: '2027-01-01T00:00:00Z' },
      headers,
    });
    expect(noDevice.statusCode).toBe(404);
  });

  it('lists captures with a count for every state to people allowed to, and rejects a bad filter', async () => {
    const server = await build();
    const reviewer = await personLoggedIn(server, database.db, 'list.reviewer', ['reviewer']);
    const analyst = await personLoggedIn(server, database.db, 'list.analyst', ['analyst']);
    expect((await server.inject({ method: 'GET', url: '/api/captures?limit=10' })).statusCode).toBe(401);
    // Analysts see aggregates only, never single captures (law L7).
    expect((await server.inject({ method: 'GET', url: '/api/captures?limit=10', headers: analyst.headers })).statusCode).toBe(403);
    const response = await server.inject({ method: 'GET', url: '/api/captures?limit=10', headers: reviewer.headers });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ captures: unknown[]; counts: Record<string, number> }>();
    expect(Object.keys(body.counts)).toContain('quarantined');
    const bad = await server.inject({ method: 'GET', url: '/api/captures?state=lost', headers: reviewer.headers });
    expect(bad.statusCode).toBe(400);
  });

  it('serves the review page and its assets from this process', async () => {
    const server = await build();
    const page = await server.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    expect(page.body).not.toMatch(/https?:\/\//);
    const script = await server.inject({ method: 'GET', url: '/app.js' });
    expect(script.statusCode).toBe(200);
  });

  it('links an icon from every page, served as SVG, so no browser asks for a missing /favicon.ico', async () => {
    const server = await build();
    const analyst = await personLoggedIn(server, database.db, 'icon.analyst', ['analyst']);
    const pages = [
      ...readdirSync(appDir)
        .filter((file) => file.endsWith('.html'))
        .map((file) => ({ url: `/${file}`, headers: {} })),
      { url: '/api/analytics/report.html', headers: analyst.headers },
    ];
    for (const { url, headers } of pages) {
      const page = await server.inject({ method: 'GET', url, headers });
      expect(page.statusCode, url).toBe(200);
      const href = /<link rel="icon" href="([^"]+)" type="image\/svg\+xml"/.exec(page.body)?.[1];
      expect(href, `${url} links no SVG icon`).toBeDefined();
      const icon = await server.inject({ method: 'GET', url: href! });
      expect(icon.statusCode, `${url} links ${href}`).toBe(200);
      expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
    }
  });

  it('serves only thumbnails by hash, not originals', async () => {
    const server = await build();
    const response = await server.inject({
      method: 'GET',
      url: `/api/thumbnails/${'a'.repeat(64)}`,
      headers: { authorization: 'Bearer nope' },
    });
    expect(response.statusCode).toBe(401);
    const reviewer = await personLoggedIn(server, database.db, 'thumb.reviewer', ['reviewer']);
    const unknown = await server.inject({ method: 'GET', url: `/api/thumbnails/${'a'.repeat(64)}`, headers: reviewer.headers });
    expect(unknown.statusCode).toBe(404);
  });

  it('reconciles every capture message: accepted + quarantined + in flight', async () => {
    const base = { deviceId: 'RECON-1', capturedAt: new Date(), manifest: {}, rawMessage: Buffer.from('x') };
    await database.db.insert(captures).values([
      // Verified ten minutes ago and still not screened: past the default five minutes, so stranded.
      { ...base, messageSha256: 'r1', deviceCaptureId: 'c1', state: 'verified', receivedAt: new Date(Date.now() - 600_000) },
      { ...base, messageSha256: 'r2', deviceCaptureId: 'c2', state: 'awaiting_review' },
      { ...base, messageSha256: 'r3', deviceCaptureId: 'c3', state: 'received' },
      {
        ...base,
        messageSha256: 'r4',
        deviceCaptureId: 'c4',
        state: 'quarantined',
        quarantineReasons: [{ code: 'replayed', detail: 'test' }],
      },
    ]);
    await database.db
      .insert(mediaChunks)
      .values({ sha256: 'f'.repeat(64), chunkIndex: 0, chunkCount: 2, deviceId: 'RECON-1', data: Buffer.from('chunk') });
    await database.db.insert(outbox).values({ queue: 'media', jobName: 'derive-thumbnails', jobId: 'j1', payload: {} });
    const response = await (
      await build()
    ).inject({ method: 'GET', url: '/api/ingest/reconciliation', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const body = response.json<Reconciliation>();
    expect(body).toMatchObject({ received: 4, accepted: 2, quarantined: 1, inFlight: 1, stagedChunks: 1, jobsAwaitingQueue: 1 });
    expect(Object.keys(body.states).sort()).toEqual([...captures.state.enumValues].sort());
    expect(body.states.verified.count).toBe(1);
    expect(body.states.verified.oldestAgeSeconds).toBeGreaterThanOrEqual(599);
    expect(body.states.approved).toEqual({ count: 0, oldestAgeSeconds: null });
    expect(body.stranded.stuckAfterSeconds).toBe(300);
    expect(body.stranded.screening.count).toBe(1);
    expect(body.stranded.screening.oldestAgeSeconds).toBeGreaterThanOrEqual(599);
    // Neither has media rows, so no derivation is awaited.
    expect(body.stranded.media).toEqual({ count: 0, oldestAgeSeconds: null });
    // The stranded capture degrades /health without making it 503: the server still serves.
    const report = await (
      await build([databaseCheck(database), strandedCapturesCheck(database, 300_000)])
    ).inject({
      method: 'GET',
      url: '/health',
    });
    expect(report.statusCode).toBe(200);
    expect(report.json()).toMatchObject({ status: 'degraded', failing: [], degraded: ['stranded-captures'] });
    expect(report.body).toContain('1 waiting for screening');
  });

  it('describes its API as OpenAPI, generated from the validating schemas', async () => {
    const response = await (await build()).inject({ method: 'GET', url: '/api/openapi.json' });
    const document = response.json<{
      openapi: string;
      info: { version: string };
      paths: Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>;
    }>();
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.version).toBe(API_VERSION);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/api/captures', '/api/devices/{deviceId}', '/api/public/devices', '/api/public/gateway-keys']),
    );
    // Device makers read the answer's shape from here: each key with its fingerprint.
    expect(JSON.stringify(document.paths['/api/public/gateway-keys']?.get?.responses?.['200'])).toContain('fingerprint');
    expect(document.paths['/api/devices/{deviceId}']?.put?.requestBody).toBeDefined();
  });
});
