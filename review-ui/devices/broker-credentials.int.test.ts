import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoPasswordHash, passwordFileLine } from '../../core/infrastructure/broker-password.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { createTempDir, createTestDatabase, waitFor } from '../../test/support/isolated.js';
import { buildTestReviewServer } from '../../test/support/review-server.js';
import { startShippedMosquitto, type ShippedMosquitto } from '../../test/support/shipped-mosquitto.js';

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN_TOKEN = 'test-admin-token-0123456789';
const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
const gateway = { username: 'verity-gateway', password: 'gateway-password-for-the-test' };

interface BrokerAccount {
  username: string;
  password: string;
}

describe('broker credentials from enrolment to the shipped broker', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let broker: ShippedMosquitto;

  beforeAll(async () => {
    database = await createTestDatabase('broker_credentials');
    mediaDir = await createTempDir('broker-credentials-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), adminToken: ADMIN_TOKEN });
    // As docker-compose.yml's mosquitto-accounts leaves it, plus a device line no registry knows of.
    const stale = passwordFileLine('CAM-NOT-IN-REGISTRY', mosquittoPasswordHash('whatever'));
    broker = await startShippedMosquitto(
      `${passwordFileLine(gateway.username, mosquittoPasswordHash(gateway.password))}\n${stale}\n`,
      gateway,
    );
  });

  afterAll(async () => {
    await app?.close();
    await broker?.remove();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function enrol(id: string) {
    const { publicKey } = generateKeyPairSync('ed25519');
    const payload = {
      kind: 'traffic_camera',
      model: 'Cam 7',
      serial: `SERIAL-${id}`,
      agency: 'City Traffic Police',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      road: 'Harbour Road',
      direction: 'eastbound',
      latitude: 22.54,
      longitude: 114.05,
    };
    const first = await app.inject({ method: 'PUT', url: `/api/devices/${id}`, headers, payload });
    const again = await app.inject({ method: 'PUT', url: `/api/devices/${id}`, headers, payload });
    return { first, again };
  }

  async function writePasswordFile(): Promise<string> {
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'review-ui/cli/broker-passwords.ts', '--out', broker.passwordFile],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, DATABASE_URL: database.url, LOG_LEVEL: 'silent' },
      },
    );
    await broker.reload();
    return stdout;
  }

  async function connects(account: BrokerAccount): Promise<boolean> {
    const client = await mqtt.connectAsync(broker.url, { ...account, reconnectPeriod: 0, connectTimeout: 5000 }).catch(() => undefined);
    await client?.endAsync();
    return client !== undefined;
  }

  it('issues a password at enrolment, once, that the broker takes after the file is written, until the device is revoked', async () => {
    // Not uniqueName's `verity_…`: with dashes that would be a service account's name.
    const idA = `CAM-A-${randomBytes(6).toString('hex')}`;
    const idB = `CAM-B-${randomBytes(6).toString('hex')}`;
    const a = await enrol(idA);
    const b = await enrol(idB);
    expect(a.first.statusCode).toBe(201);
    const accountA = a.first.json<{ broker: BrokerAccount }>().broker;
    const accountB = b.first.json<{ broker: BrokerAccount }>().broker;
    expect(accountA.username).toBe(idA);
    expect(accountA.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Only a hash is kept: a repeated enrolment cannot show the password again. No gateway has started here, so no gateway key either.
    expect(a.again.statusCode).toBe(200);
    expect(a.again.json()).toEqual({ id: idA, outcome: 'unchanged', gatewayKey: null });

    // Not known to the broker until the password file is written from the registry.
    expect(await connects(accountA)).toBe(false);
    const report = await writePasswordFile();
    expect(report).toMatch(/2 device account\(s\), service accounts kept: verity-gateway/);
    expect(await connects(accountA)).toBe(true);
    expect(await connects(accountB)).toBe(true);
    expect(await connects(gateway)).toBe(true);
    const written = await readFile(broker.passwordFile, 'utf8');
    expect(written).not.toContain('CAM-NOT-IN-REGISTRY');
    // Mosquitto reads the file as its own user: the rewrite keeps the owner and the 0600 mode.
    expect((await stat(broker.passwordFile)).mode & 0o777).toBe(0o600);

    // A new password replaces the old one; a revoked device gets none and loses its account.
    const connectedB = await mqtt.connectAsync(broker.url, { ...accountB, reconnectPeriod: 0 });
    const reissued = await app.inject({ method: 'POST', url: `/api/devices/${idA}/broker-password`, headers });
    expect(reissued.statusCode).toBe(201);
    const newA = reissued.json<{ broker: BrokerAccount }>().broker;
    const revoked = await app.inject({
      method: 'POST',
      url: `/api/devices/${idB}/status`,
      headers,
      payload: { status: 'revoked', reason: 'key leaked' },
    });
    expect(revoked.statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: `/api/devices/${idB}/broker-password`, headers })).statusCode).toBe(409);
    expect((await app.inject({ method: 'POST', url: `/api/devices/NO-SUCH-CAM/broker-password`, headers })).statusCode).toBe(404);
    expect(await writePasswordFile()).toMatch(/1 device account\(s\)/);
    // The reload ends the revoked device's open connection too.
    await waitFor('the revoked device to be disconnected', async () => (connectedB.connected ? undefined : true), 5000);
    await connectedB.endAsync(true);
    expect(await connects(newA)).toBe(true);
    expect(await connects(accountA)).toBe(false);
    expect(await connects(accountB)).toBe(false);
  });

  it('never gives a device a service account name', async () => {
    const { first } = await enrol('verity-gateway');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ id: 'verity-gateway', outcome: 'enrolled', gatewayKey: null });
    expect((await app.inject({ method: 'POST', url: '/api/devices/verity-gateway/broker-password', headers })).statusCode).toBe(409);
  });
});
