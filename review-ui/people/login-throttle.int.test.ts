import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer } from '../../test/support/review-server.js';
import { LOGIN_LIMITS } from './login-throttle.js';
import { createPerson } from './people.js';

const pairLimit = LOGIN_LIMITS.perUsernameAndAddress.attempts;
const addressLimit = LOGIN_LIMITS.perAddress.attempts;

describe('login throttling over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;

  beforeAll(async () => {
    database = await createTestDatabase('throttle');
    mediaDir = await createTempDir('throttle-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir) });
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  /** A person with a random name, so each test has counters of its own. */
  async function person(label: string) {
    const username = `${label}.${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const created = await createPerson(database.db, 'test', {
      username,
      displayName: username,
      password,
      roles: ['auditor'],
      certificate: null,
      administeredDeviceIds: [],
    });
    if (!created.ok) throw new Error(created.error);
    return { username, password };
  }
  /** A documentation address (RFC 5737) of its own per call. */
  let octet = 0;
  const freshAddress = () => `203.0.113.${++octet}`;

  const logIn = (username: string, password: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/api/session', payload: { username, password }, remoteAddress });

  it('lets 5 of 20 parallel guesses from one address reach the password check; the person still logs in from another', async () => {
    const victim = await person('victim');
    const attacker = freshAddress();
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, index) => logIn(victim.username, `guess-${index}-${randomBytes(4).toString('hex')}`, attacker)),
    );
    const statuses = guesses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(pairLimit);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20 - pairLimit);
    for (const refused of guesses.filter((response) => response.statusCode === 429)) {
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(LOGIN_LIMITS.perUsernameAndAddress.blockSeconds - 60);
      expect(retryAfter).toBeLessThanOrEqual(LOGIN_LIMITS.perUsernameAndAddress.blockSeconds);
      expect(refused.json<{ error: string }>().error).toBe('too many login attempts from this address: try again in 15 min');
    }
    // Even the right password waits at the attacker's address (the throttle cannot tell who types it)...
    expect((await logIn(victim.username, victim.password, attacker)).statusCode).toBe(429);
    // ...and the username in other letter case is the same username.
    expect((await logIn(victim.username.toUpperCase(), victim.password, attacker)).statusCode).toBe(429);
    // From the person's own address the login goes through at once, while the attacker still waits.
    expect((await logIn(victim.username, victim.password, freshAddress())).statusCode).toBe(200);
    expect((await logIn(victim.username, victim.password, attacker)).statusCode).toBe(429);
  });

  it('gives the count back on success, so a person who mistypes a few times is never locked out', async () => {
    const someone = await person('typo');
    const at = freshAddress();
    for (let round = 0; round < 3; round += 1) {
      for (let miss = 0; miss < pairLimit - 1; miss += 1) expect((await logIn(someone.username, 'mistyped', at)).statusCode).toBe(401);
      expect((await logIn(someone.username, someone.password, at)).statusCode).toBe(200);
    }
  });

  it(`stops one address after ${addressLimit} attempts at any usernames, and only that address`, async () => {
    const sprayer = freshAddress();
    const names = Array.from({ length: addressLimit + 10 }, (_, index) => `nobody${index}.${randomBytes(3).toString('hex')}`);
    const statuses: number[] = [];
    for (let start = 0; start < names.length; start += 20) {
      const batch = await Promise.all(names.slice(start, start + 20).map((name) => logIn(name, 'whatever', sprayer)));
      statuses.push(...batch.map((response) => response.statusCode));
    }
    expect(statuses.filter((status) => status === 401)).toHaveLength(addressLimit);
    expect(statuses.filter((status) => status === 429)).toHaveLength(10);
    const bystander = await person('bystander');
    expect((await logIn(bystander.username, bystander.password, sprayer)).statusCode).toBe(429);
    expect((await logIn(bystander.username, bystander.password, freshAddress())).statusCode).toBe(200);
  });
});
