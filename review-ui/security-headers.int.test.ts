import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { auditLog } from '../db/schema.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn } from '../test/support/review-server.js';
import { createPerson } from './people/people.js';

const appDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app');
const pages = readdirSync(appDir).filter((name) => name.endsWith('.html'));

function directivesOf(response: LightMyRequestResponse): Map<string, string[]> {
  const header = String(response.headers['content-security-policy'] ?? '');
  return new Map(
    header
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name = '', ...values]) => [name, values]),
  );
}

function expectStrictHeaders(response: LightMyRequestResponse): void {
  const csp = directivesOf(response);
  expect(csp.get('default-src')).toEqual(["'self'"]);
  expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  expect(csp.get('object-src')).toEqual(["'none'"]);
  expect(csp.get('script-src-attr')).toEqual(["'none'"]);
  expect(csp.get('style-src')).toEqual(["'self'"]);
  // Nothing but this origin and hashed inline scripts: no 'unsafe-inline', no 'unsafe-eval', no hosts.
  expect(csp.get('script-src')?.every((source) => source === "'self'" || /^'sha256-[A-Za-z0-9+/]+=*'$/.test(source))).toBe(true);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['x-frame-options']).toBe('DENY');
  expect(response.headers['referrer-policy']).toBe('no-referrer');
}

describe('security headers on the review server', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('headers');
    mediaDir = await createTempDir('headers-media');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await database?.drop();
    await mediaDir?.remove();
  });

  async function build(options: Omit<Parameters<typeof buildTestReviewServer>[0], 'db' | 'store'> = {}) {
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), ...options });
    return app;
  }

  it('sends the strict policy, nosniff and no framing on every page, API answer, asset and error', async () => {
    const server = await build();
    const person = await personLoggedIn(server, database.db, 'headers.admin', ['system_admin']);
    const requests = [
      ...pages.map((page) => ({ method: 'GET' as const, url: `/${page}` })),
      { method: 'GET' as const, url: '/' },
      { method: 'GET' as const, url: '/style.css' },
      { method: 'GET' as const, url: '/vendor/chart.js/chart.js' },
      { method: 'GET' as const, url: '/api/session' },
      { method: 'GET' as const, url: '/api/session', headers: person.headers },
      { method: 'GET' as const, url: '/api/people', headers: person.headers },
      { method: 'GET' as const, url: '/api/public/devices' },
      { method: 'GET' as const, url: '/api/public/gateway-keys' },
      { method: 'GET' as const, url: '/api/openapi.json' },
      { method: 'GET' as const, url: '/health' },
      { method: 'GET' as const, url: '/metrics' },
      { method: 'GET' as const, url: '/no/such/thing' },
      { method: 'POST' as const, url: '/api/session', payload: { username: 'nobody', password: 'wrong' } },
      { method: 'POST' as const, url: '/api/session', payload: { nonsense: true } },
    ];
    const statuses = new Set<number>();
    for (const request of requests) {
      const response = await server.inject(request);
      statuses.add(response.statusCode);
      expectStrictHeaders(response);
      // Over plain HTTP, with no proxy trusted, there is no TLS to pin.
      expect(response.headers['strict-transport-security']).toBeUndefined();
    }
    expect([...statuses].sort()).toEqual([200, 400, 401, 404]);
  });

  it('allows each inline script of the pages by its hash, and no other', async () => {
    const server = await build();
    const expected = new Set<string>();
    for (const page of pages) {
      const html = readFileSync(path.join(appDir, page), 'utf8');
      for (const [, body] of html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)) {
        expected.add(
          `'sha256-${createHash('sha256')
            .update(body ?? '')
            .digest('base64')}'`,
        );
      }
    }
    expect(expected.size).toBe(1);
    const scriptSrc = directivesOf(await server.inject({ method: 'GET', url: '/analytics.html' })).get('script-src');
    expect(scriptSrc).toEqual(["'self'", ...expected]);
  });

  it('lets images come from the configured tile server and nowhere else', async () => {
    const plain = directivesOf(await (await build()).inject({ method: 'GET', url: '/analytics.html' }));
    expect(plain.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
    await app?.close();
    const tiled = await build({ analytics: { tiles: { urlTemplate: 'https://{s}.tiles.example.org/{z}/{x}/{y}.png', attribution: '©' } } });
    expect(directivesOf(await tiled.inject({ method: 'GET', url: '/analytics.html' })).get('img-src')).toEqual([
      "'self'",
      'data:',
      'blob:',
      'https://*.tiles.example.org',
    ]);
  });

  async function logIn(server: FastifyInstance, username: string, headers: Record<string, string>) {
    const password = `pw-${username}-0123456789`;
    const created = await createPerson(database.db, 'test', {
      username,
      displayName: username,
      password,
      roles: ['auditor'],
      certificate: null,
      administeredDeviceIds: [],
    });
    if (!created.ok) throw new Error(created.error);
    const response = await server.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username, password },
      remoteAddress: '10.0.0.2',
      headers,
    });
    expect(response.statusCode).toBe(200);
    const cookie = response.cookies.find((entry) => entry.name === 'verity_session');
    const [started] = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'session.started'), eq(auditLog.subjectId, created.person.id)));
    return { response, cookie, auditedIp: (started?.details as { ip?: string } | undefined)?.ip };
  }

  const viaTlsProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' };

  it('behind a trusted TLS proxy (by address or by hop count): a Secure cookie, HSTS, and the client address in the audit log', async () => {
    for (const [index, trustProxy] of [['10.0.0.2'], 1].entries()) {
      const server = await build({ trustProxy });
      const { response, cookie, auditedIp } = await logIn(server, `behind.proxy.${index}`, viaTlsProxy);
      expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
      expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(auditedIp).toBe('203.0.113.9');
      await app?.close();
      app = undefined;
    }
  });

  it('believes no forwarded header from a peer it does not trust', async () => {
    for (const [index, trustProxy] of [false, ['10.9.9.9']].entries()) {
      const server = await build({ trustProxy });
      const { response, cookie, auditedIp } = await logIn(server, `untrusted.${index}`, viaTlsProxy);
      expect(cookie?.secure).toBeFalsy();
      expect(response.headers['strict-transport-security']).toBeUndefined();
      expect(auditedIp).toBe('10.0.0.2');
      await app?.close();
      app = undefined;
    }
  });
});
