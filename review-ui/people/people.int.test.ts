import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog, people } from '../../db/schema.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

describe('people, logins and sessions over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let admin: LoggedIn;

  // A database of its own for each test: "the last administrator" is a fact about all the people in
  // it, so one test's extra administrators, or its demoted one, would change what another proves.
  beforeEach(async () => {
    database = await createTestDatabase('people');
    mediaDir = await createTempDir('people-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir) });
    admin = await personLoggedIn(app, database.db, 'root.admin', ['system_admin']);
  });

  afterEach(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const create = (body: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/api/people', headers: admin.headers, payload: body });
  const login = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/api/session', payload: { username, password } });

  it('stores only a password hash, refuses a reviewer without a certificate and a taken username', async () => {
    const password = 'correct horse battery';
    const noCertificate = await create({ username: 'nocert', displayName: 'No Cert', password, roles: ['reviewer'] });
    expect(noCertificate.statusCode).toBe(422);
    const certificate = { number: 'ENF-0042', expiresAt: new Date(Date.now() + 86_400_000).toISOString() };
    const created = await create({ username: 'Officer.Liu', displayName: 'Liu', password, roles: ['reviewer'], certificate });
    expect(created.statusCode).toBe(201);
    const [row] = await database.db.select().from(people).where(eq(people.username, 'officer.liu'));
    expect(row?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(row?.passwordHash).not.toContain(password);
    expect((await create({ username: 'officer.liu', displayName: 'Again', password, roles: ['analyst'] })).statusCode).toBe(409);
    expect((await login('OFFICER.LIU', password)).statusCode).toBe(200);
    expect((await login('officer.liu', 'wrong password!')).statusCode).toBe(401);
    const refused = await database.db.select().from(auditLog).where(eq(auditLog.action, 'session.refused'));
    expect(refused.map((entry) => entry.subjectId)).toContain('officer.liu');
  });

  it('ends every session of a person whose password is reset or who is disabled', async () => {
    const person = await personLoggedIn(app, database.db, 'temp.analyst', ['analyst']);
    const who = () => app.inject({ method: 'GET', url: '/api/session', headers: person.headers });
    expect((await who()).statusCode).toBe(200);
    const reset = await app.inject({
      method: 'POST',
      url: `/api/people/${person.personId}/password`,
      headers: admin.headers,
      payload: { password: 'a brand new passphrase' },
    });
    expect(reset.statusCode).toBe(200);
    expect((await who()).statusCode).toBe(401);
    await app.inject({
      method: 'PATCH',
      url: `/api/people/${person.personId}`,
      headers: admin.headers,
      payload: { disabled: true, reason: 'left the service' },
    });
    expect((await login('temp.analyst', 'a brand new passphrase')).statusCode).toBe(401);
  });

  it('disables a login only with a reason, and keeps that reason in the audit entry', async () => {
    const person = await personLoggedIn(app, database.db, 'leaving.analyst', ['analyst']);
    const change = (payload: Record<string, unknown>) =>
      app.inject({ method: 'PATCH', url: `/api/people/${person.personId}`, headers: admin.headers, payload });
    const silent = await change({ disabled: true });
    expect(silent.statusCode).toBe(400);
    expect(silent.body).toMatch(/reason/);
    expect((await app.inject({ method: 'GET', url: '/api/session', headers: person.headers })).statusCode).toBe(200);
    expect((await change({ disabled: true, reason: 'contract ended 30 Nov' })).statusCode).toBe(200);
    const entries = await database.db.select().from(auditLog).where(eq(auditLog.subjectId, person.personId));
    const disabling = entries.find((entry) => entry.action === 'person.changed');
    expect(disabling?.actor).toBe(`person:${admin.username}`);
    expect(disabling?.details).toMatchObject({ disabled: true, reason: 'contract ended 30 Nov' });
  });

  it('never leaves the system without an administrator', async () => {
    const self = await app.inject({
      method: 'PATCH',
      url: `/api/people/${admin.personId}`,
      headers: admin.headers,
      payload: { roles: ['auditor'] },
    });
    expect(self.statusCode).toBe(409);
    expect(self.json<{ error: string }>().error).toMatch(/last active system administrator/);
    const second = await personLoggedIn(app, database.db, 'second.admin', ['system_admin']);
    const handover = await app.inject({
      method: 'PATCH',
      url: `/api/people/${admin.personId}`,
      headers: second.headers,
      payload: { roles: ['auditor'] },
    });
    expect(handover.statusCode).toBe(200);
  });

  it('publishes the role table pages use, and keeps it from everyone but administrators', async () => {
    const other = await personLoggedIn(app, database.db, 'plain.auditor', ['auditor']);
    expect((await app.inject({ method: 'GET', url: '/api/roles', headers: other.headers })).statusCode).toBe(403);
    const admins = await personLoggedIn(app, database.db, 'third.admin', ['system_admin']);
    const roles = await app.inject({ method: 'GET', url: '/api/roles', headers: admins.headers });
    const reviewer = roles
      .json<{ roles: { role: string; permissions: string[]; needsCertificate: boolean }[] }>()
      .roles.find((entry) => entry.role === 'reviewer');
    expect(reviewer).toMatchObject({ needsCertificate: true, permissions: expect.arrayContaining(['review.decide']) as unknown });
  });
});
