import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog } from '../../db/schema.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import { LOGIN_LIMITS } from './login-throttle.js';
import { createPerson } from './people.js';

interface ListedPerson {
  id: string;
  username: string;
  loginLock: { until: string; addresses: number } | null;
}

describe('a locked login, seen and cleared by a system administrator, over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let admin: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('login-lock');
    mediaDir = await createTempDir('login-lock-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir) });
    admin = await personLoggedIn(app, database.db, 'lock.admin', ['system_admin']);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function person(username: string, password: string) {
    const created = await createPerson(database.db, 'test', {
      username,
      displayName: username,
      password,
      roles: ['analyst'],
      certificate: null,
      administeredDeviceIds: [],
    });
    if (!created.ok) throw new Error(created.error);
    return created.person;
  }
  const logIn = (username: string, password: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/api/session', payload: { username, password }, remoteAddress });
  const listed = async (username: string) => {
    const response = await app.inject({ method: 'GET', url: '/api/people', headers: admin.headers });
    expect(response.statusCode).toBe(200);
    return response.json<{ people: ListedPerson[] }>().people.find((entry) => entry.username === username);
  };
  const clear = (personId: string, headers: LoggedIn['headers'], payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/api/people/${personId}/login-lock/clear`, headers, payload });

  it('shows a login locked by wrong passwords from one address, and clears it only with a reason, audited', async () => {
    const password = 'the right passphrase';
    const locked = await person('locked.analyst', password);
    const blocked = '198.51.100.7';
    expect((await listed('locked.analyst'))?.loginLock).toBeNull();

    const before = Date.now();
    for (let miss = 0; miss < LOGIN_LIMITS.perUsernameAndAddress.attempts; miss += 1) {
      expect((await logIn('locked.analyst', 'not the passphrase', blocked)).statusCode).toBe(401);
    }
    expect((await logIn('locked.analyst', password, blocked)).statusCode).toBe(429);
    const lock = (await listed('locked.analyst'))?.loginLock;
    expect(lock?.addresses).toBe(1);
    const until = new Date(lock!.until).getTime();
    expect(until).toBeGreaterThan(before + (LOGIN_LIMITS.perUsernameAndAddress.blockSeconds - 60) * 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + LOGIN_LIMITS.perUsernameAndAddress.blockSeconds * 1000);
    // Another person's counters are theirs: the administrator's own row shows no lock.
    expect((await listed('lock.admin'))?.loginLock).toBeNull();

    const outsider = await personLoggedIn(app, database.db, 'lock.auditor', ['auditor']);
    expect((await clear(locked.id, outsider.headers, { reason: 'trying my luck' })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/people', headers: outsider.headers })).statusCode).toBe(403);

    const silent = await clear(locked.id, admin.headers, {});
    expect(silent.statusCode).toBe(400);
    expect(silent.body).toMatch(/reason/);
    expect((await clear(locked.id, admin.headers, { reason: 'no' })).statusCode).toBe(400);
    expect((await logIn('locked.analyst', password, blocked)).statusCode).toBe(429);

    const cleared = await clear(locked.id, admin.headers, { reason: 'phoned the service desk, identity checked' });
    expect(cleared.statusCode).toBe(200);
    expect(cleared.json<{ cleared: { addresses: number } }>().cleared.addresses).toBe(1);
    expect((await listed('locked.analyst'))?.loginLock).toBeNull();
    const entries = await database.db.select().from(auditLog).where(eq(auditLog.subjectId, locked.id));
    const clearing = entries.find((entry) => entry.action === 'person.login_lock_cleared');
    expect(clearing?.actor).toBe('person:lock.admin');
    expect(clearing?.details).toMatchObject({
      reason: 'phoned the service desk, identity checked',
      username: 'locked.analyst',
      addresses: [blocked],
    });
    expect((await logIn('locked.analyst', password, blocked)).statusCode).toBe(200);

    // Nothing left to clear is a conflict, not a second audit entry.
    const again = await clear(locked.id, admin.headers, { reason: 'once more' });
    expect(again.statusCode).toBe(409);
    expect((await clear('00000000-0000-4000-8000-000000000000', admin.headers, { reason: 'nobody' })).statusCode).toBe(404);
  });

  it('counts each address a login is locked at, and does not take a typed username with a bar for the person', async () => {
    const password = 'another right passphrase';
    const target = await person('often.guessed', password);
    for (const address of ['192.0.2.10', '192.0.2.11']) {
      for (let miss = 0; miss < LOGIN_LIMITS.perUsernameAndAddress.attempts; miss += 1) {
        expect((await logIn('often.guessed', 'wrong', address)).statusCode).toBe(401);
      }
    }
    // The pair key is `username|address`: a username typed with a bar in it must not pass for this person.
    for (let miss = 0; miss < LOGIN_LIMITS.perUsernameAndAddress.attempts; miss += 1) {
      expect((await logIn('decoy|x', 'wrong', '192.0.2.12')).statusCode).toBe(401);
    }
    const bystander = await person('decoy', password);
    expect((await listed('often.guessed'))?.loginLock?.addresses).toBe(2);
    expect((await listed('decoy'))?.loginLock).toBeNull();

    const cleared = await clear(target.id, admin.headers, { reason: 'user back from leave' });
    expect(cleared.json<{ cleared: { addresses: number } }>().cleared.addresses).toBe(2);
    expect((await logIn('often.guessed', password, '192.0.2.11')).statusCode).toBe(200);
    expect((await clear(bystander.id, admin.headers, { reason: 'not locked' })).statusCode).toBe(409);
  });
});
