import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTIFICATION_KINDS, type CertificationKind } from '../../core/domain/certification.js';
import { signatureVerifies } from '../../core/domain/capture-verifier.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { recordGatewayKey } from '../../db/gateway-keys.js';
import { auditLog, deviceKeys, devices } from '../../db/schema.js';
import { DeviceDirectory } from '../../ingest/device-directory.js';
import { createTempDir, createTestDatabase, uniqueName } from '../../test/support/isolated.js';
import { testGatewayKey } from '../../test/support/acks.js';
import { buildTestReviewServer } from '../../test/support/review-server.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
const DAY = 24 * 3600 * 1000;

interface Certification {
  kind: CertificationKind;
  reference: string;
  validFrom: Date;
  validTo: Date;
}

function newKeyPair(): { privateKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Every kind valid for a year around now, unless `overrides` replaces a kind's periods. */
function certificationSet(overrides: Partial<Record<CertificationKind, { validFrom: Date; validTo: Date }[]>> = {}): Certification[] {
  const now = Date.now();
  return CERTIFICATION_KINDS.flatMap((kind) =>
    (overrides[kind] ?? [{ validFrom: new Date(now - 180 * DAY), validTo: new Date(now + 180 * DAY) }]).map((period, index) => ({
      kind,
      reference: `${kind.toUpperCase()}-${index + 1}`,
      ...period,
    })),
  );
}

describe('device registry and public device list over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;

  beforeAll(async () => {
    database = await createTestDatabase('devices');
    mediaDir = await createTempDir('devices-media');
    app = await buildTestReviewServer({
      db: database.db,
      store: new FilesystemMediaStore(mediaDir.dir),
      adminToken: ADMIN_TOKEN,
    });
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  /** Enrols a device through the API, as an operator would, with the given certifications. */
  async function enrol(certifications = certificationSet(), keys = newKeyPair()) {
    const id = uniqueName('dev').replaceAll('_', '-').slice(0, 60);
    const enrolment = await app.inject({
      method: 'PUT',
      url: `/api/devices/${id}`,
      headers,
      payload: {
        kind: 'traffic_camera',
        model: 'Cam 7',
        serial: `SERIAL-${id}`,
        agency: 'City Traffic Police',
        publicKeyPem: keys.publicKeyPem,
        road: 'Harbour Road',
        direction: 'eastbound',
        latitude: 22.54,
        longitude: 114.05,
      },
    });
    expect(enrolment.statusCode).toBe(201);
    for (const certification of certifications) {
      const response = await app.inject({
        method: 'POST',
        url: `/api/devices/${id}/certifications`,
        headers,
        payload: { ...certification, validFrom: certification.validFrom.toISOString(), validTo: certification.validTo.toISOString() },
      });
      expect(response.statusCode).toBe(201);
    }
    return { id, ...keys };
  }

  function setStatus(id: string, status: string, reason = 'routine maintenance') {
    return app.inject({ method: 'POST', url: `/api/devices/${id}/status`, headers, payload: { status, reason } });
  }

  async function listed(id: string) {
    const response = await app.inject({ method: 'GET', url: '/api/devices', headers });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ devices: Record<string, unknown>[] }>();
    return body.devices.find((device) => device.id === id);
  }

  async function publicList() {
    const response = await app.inject({ method: 'GET', url: '/api/public/devices' });
    expect(response.statusCode).toBe(200);
    return response;
  }

  it('lists each device with its key fingerprint, certifications and standing now', async () => {
    const certified = await enrol();
    const lapsed = await enrol(
      certificationSet({ signage: [{ validFrom: new Date(Date.now() - 60 * DAY), validTo: new Date(Date.now() - DAY) }] }),
    );
    const certifiedView = await listed(certified.id);
    expect(certifiedView).toMatchObject({ status: 'enabled', road: 'Harbour Road', certifiedNow: true, certificationGaps: [] });
    expect(certifiedView?.keyFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(certifiedView?.certifications).toHaveLength(CERTIFICATION_KINDS.length);
    expect(certifiedView).not.toHaveProperty('publicKeyPem');
    expect(await listed(lapsed.id)).toMatchObject({ certifiedNow: false, certificationGaps: [{ kind: 'signage', problem: 'expired' }] });
  });

  it('changes a device status and audits each change with its reason', async () => {
    const device = await enrol();
    const disabled = await setStatus(device.id, 'disabled', 'lens cracked, awaiting repair');
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json()).toMatchObject({ status: 'disabled', outcome: 'changed' });
    expect(await listed(device.id)).toMatchObject({ status: 'disabled' });
    expect((await setStatus(device.id, 'enabled', 'lens replaced')).statusCode).toBe(200);
    expect((await setStatus(device.id, 'enabled', 'asked twice')).json()).toMatchObject({ outcome: 'unchanged' });

    const entries = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, device.id), eq(auditLog.action, 'device.status_changed')))
      .orderBy(asc(auditLog.seq));
    expect(entries.map((entry) => [entry.actor, entry.details])).toEqual([
      ['admin-token', { from: 'enabled', to: 'disabled', reason: 'lens cracked, awaiting repair' }],
      ['admin-token', { from: 'disabled', to: 'enabled', reason: 'lens replaced' }],
    ]);
  });

  it('refuses a status change without a reason of 3 to 500 characters', async () => {
    const device = await enrol();
    expect((await setStatus(device.id, 'disabled', ' x ')).statusCode).toBe(400);
    expect((await setStatus(device.id, 'disabled', 'x'.repeat(501))).statusCode).toBe(400);
    expect((await setStatus(device.id, 'paused')).statusCode).toBe(400);
    expect((await setStatus('NOPE-1', 'disabled')).statusCode).toBe(404);
  });

  it('treats revocation as final', async () => {
    const device = await enrol();
    expect((await setStatus(device.id, 'revoked', 'private key found on a public forum')).statusCode).toBe(200);
    for (const status of ['enabled', 'disabled']) {
      const response = await setStatus(device.id, status, 'trying to undo');
      expect(response.statusCode).toBe(409);
      expect(response.json<{ error: string }>().error).toMatch(/revoked.*final/);
    }
    expect(await listed(device.id)).toMatchObject({ status: 'revoked' });
    const bypass = database.db.update(devices).set({ status: 'enabled' }).where(eq(devices.id, device.id));
    await expect(bypass, 'the database refuses it even outside the registry service').rejects.toMatchObject({
      cause: { message: expect.stringMatching(/revocation is final/) as unknown },
    });
    const rotation = await app.inject({
      method: 'POST',
      url: `/api/devices/${device.id}/keys`,
      headers,
      payload: { publicKeyPem: newKeyPair().publicKeyPem, reason: 'new key after compromise' },
    });
    expect(rotation.statusCode).toBe(409);
  });

  it('rotates a key, keeping its history, and the gateway refuses the old key afterwards', async () => {
    const device = await enrol();
    const directory = new DeviceDirectory(database.db);
    const message = Buffer.from('a manifest');
    const oldSignature = sign(null, message, device.privateKey);
    const before = await directory.find(device.id);
    expect(signatureVerifies(message, oldSignature, before!.publicKey)).toBe(true);
    const fingerprintBefore = (await listed(device.id))?.keyFingerprint;

    const next = newKeyPair();
    const response = await app.inject({
      method: 'POST',
      url: `/api/devices/${device.id}/keys`,
      headers,
      payload: { publicKeyPem: next.publicKeyPem, reason: 'scheduled yearly rotation' },
    });
    expect(response.statusCode).toBe(200);

    const after = await directory.find(device.id);
    expect(signatureVerifies(message, oldSignature, after!.publicKey)).toBe(false);
    expect(signatureVerifies(message, sign(null, message, next.privateKey), after!.publicKey)).toBe(true);
    const fingerprintAfter = (await listed(device.id))?.keyFingerprint;
    expect(fingerprintAfter).not.toBe(fingerprintBefore);

    const history = await database.db
      .select()
      .from(deviceKeys)
      .where(eq(deviceKeys.deviceId, device.id))
      .orderBy(asc(deviceKeys.validFrom));
    expect(history.map((key) => [key.publicKeyPem, key.fingerprint, key.reason])).toEqual([
      [device.publicKeyPem, fingerprintBefore, 'enrolment'],
      [next.publicKeyPem, fingerprintAfter, 'scheduled yearly rotation'],
    ]);
    expect(history[0]!.validTo).toEqual(history[1]!.validFrom);
    expect(history[1]!.validTo).toBeNull();

    const [audit] = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, device.id), eq(auditLog.action, 'device.key_rotated')));
    expect(audit?.details).toMatchObject({
      previousFingerprint: fingerprintBefore,
      fingerprint: fingerprintAfter,
      reason: 'scheduled yearly rotation',
    });
  });

  it('refuses rotating to the key already in use, however its PEM is wrapped', async () => {
    const device = await enrol();
    const response = await app.inject({
      method: 'POST',
      url: `/api/devices/${device.id}/keys`,
      headers,
      payload: { publicKeyPem: `${device.publicKeyPem}\n`, reason: 'rotation by mistake' },
    });
    expect(response.statusCode).toBe(409);
    expect(await database.db.select().from(deviceKeys).where(eq(deviceKeys.deviceId, device.id))).toHaveLength(1);
  });

  it('lists certifications expiring soon that nothing renews, soonest first', async () => {
    const now = Date.now();
    const endsIn10Days = { validFrom: new Date(now - 300 * DAY), validTo: new Date(now + 10 * DAY) };
    const unrenewed = await enrol(certificationSet({ metrological_verification: [endsIn10Days] }));
    const renewed = await enrol(
      certificationSet({
        metrological_verification: [endsIn10Days, { validFrom: new Date(now + 9 * DAY), validTo: new Date(now + 375 * DAY) }],
      }),
    );
    const sooner = await enrol(certificationSet({ signage: [{ validFrom: new Date(now - 300 * DAY), validTo: new Date(now + 3 * DAY) }] }));

    const response = await app.inject({ method: 'GET', url: '/api/certifications/expiring', headers });
    expect(response.statusCode).toBe(200);
    const body = response.json<{
      days: number;
      certifications: { deviceId: string; kind: string; reference: string; daysLeft: number }[];
    }>();
    expect(body.days).toBe(30);
    const ours = body.certifications.filter((item) => [unrenewed.id, renewed.id, sooner.id].includes(item.deviceId));
    expect(ours).toEqual([
      expect.objectContaining({ deviceId: sooner.id, kind: 'signage', reference: 'SIGNAGE-1', daysLeft: 3 }),
      expect.objectContaining({ deviceId: unrenewed.id, kind: 'metrological_verification', daysLeft: 10 }),
    ]);

    const narrower = await app.inject({ method: 'GET', url: '/api/certifications/expiring?days=5', headers });
    expect(narrower.json<typeof body>().certifications.map((item) => item.deviceId)).not.toContain(unrenewed.id);
    expect((await app.inject({ method: 'GET', url: '/api/certifications/expiring?days=0', headers })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/certifications/expiring?days=366', headers })).statusCode).toBe(400);
  });

  it('publishes only enabled devices whose location publication is valid now, without keys or serials', async () => {
    const published = await enrol();
    const disabled = await enrol();
    expect((await setStatus(disabled.id, 'disabled', 'taken down for roadworks')).statusCode).toBe(200);
    const tomorrow = new Date(Date.now() + DAY);
    const notYetPublished = await enrol(
      certificationSet({ location_publication: [{ validFrom: tomorrow, validTo: new Date(tomorrow.getTime() + 365 * DAY) }] }),
    );

    const response = await publicList();
    const body = response.json<{ devices: Record<string, unknown>[] }>();
    const ids = body.devices.map((device) => device.id);
    expect(ids).toContain(published.id);
    expect(ids).not.toContain(disabled.id);
    expect(ids).not.toContain(notYetPublished.id);
    const entry = body.devices.find((device) => device.id === published.id);
    expect(Object.keys(entry!).sort()).toEqual(['agency', 'direction', 'id', 'kind', 'latitude', 'longitude', 'publishedSince', 'road']);
    expect(entry).toMatchObject({ road: 'Harbour Road', direction: 'eastbound', kind: 'traffic_camera', agency: 'City Traffic Police' });
    expect(Date.parse(entry!.publishedSince as string)).toBeLessThan(Date.now());
    expect(response.body).not.toContain('PUBLIC KEY');
    expect(response.body).not.toMatch(/publicKeyPem|serial|SERIAL-/i);
  });

  it('serves the public device list without a token, and no registry route without one', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/public/devices' })).statusCode).toBe(200);
    const device = await enrol();
    const adminRoutes = [
      { method: 'GET', url: '/api/devices' },
      { method: 'GET', url: '/api/certifications/expiring' },
      { method: 'PUT', url: `/api/devices/${device.id}`, payload: {} },
      { method: 'POST', url: `/api/devices/${device.id}/certifications`, payload: {} },
      { method: 'POST', url: `/api/devices/${device.id}/status`, payload: { status: 'revoked', reason: 'no token at all' } },
      { method: 'POST', url: `/api/devices/${device.id}/keys`, payload: { publicKeyPem: newKeyPair().publicKeyPem, reason: 'no token' } },
    ] as const;
    for (const route of adminRoutes) {
      const anonymous = await app.inject(route);
      expect(anonymous.statusCode, `${route.method} ${route.url}`).toBe(401);
      const wrong = await app.inject({ ...route, headers: { authorization: 'Bearer wrong-token-of-some-length' } });
      expect(wrong.statusCode, `${route.method} ${route.url} with a wrong token`).toBe(401);
    }
    expect(await listed(device.id)).toMatchObject({ status: 'enabled' });
  });

  it('gives devices the gateway keys that sign acknowledgements: in the enrolment answer and publicly, current first', async () => {
    const enrolAnswer = async (keys = newKeyPair()) => {
      const id = uniqueName('gwkey').replaceAll('_', '-').slice(0, 60);
      const payload = {
        kind: 'traffic_camera',
        model: 'Cam 7',
        serial: `SERIAL-${id}`,
        agency: 'City Traffic Police',
        publicKeyPem: keys.publicKeyPem,
        road: 'Harbour Road',
        direction: 'eastbound',
        latitude: 22.54,
        longitude: 114.05,
      };
      const first = await app.inject({ method: 'PUT', url: `/api/devices/${id}`, headers, payload });
      const again = await app.inject({ method: 'PUT', url: `/api/devices/${id}`, headers, payload });
      expect([first.statusCode, again.statusCode]).toEqual([201, 200]);
      expect(again.json<unknown>()).toEqual({ ...first.json<object>(), outcome: 'unchanged' });
      return first.json<{ gatewayKey: { fingerprint: string; publicKeyPem: string } | null }>();
    };
    const gatewayKeys = async () => {
      const response = await app.inject({ method: 'GET', url: '/api/public/gateway-keys' });
      expect(response.statusCode).toBe(200);
      return response.json<{ keys: { fingerprint: string; publicKeyPem: string }[] }>().keys.map((key) => key.fingerprint);
    };
    expect((await enrolAnswer()).gatewayKey).toBeNull();
    expect(await gatewayKeys()).toEqual([]);

    const retired = testGatewayKey();
    const current = testGatewayKey();
    await recordGatewayKey(database.db, retired);
    await recordGatewayKey(database.db, current);
    expect(await gatewayKeys()).toEqual([current.fingerprint, retired.fingerprint]);
    expect((await enrolAnswer()).gatewayKey).toEqual({ fingerprint: current.fingerprint, publicKeyPem: current.publicKeyPem });

    // A gateway restarted on the older key makes it current again; nothing is listed twice.
    await recordGatewayKey(database.db, retired);
    expect(await gatewayKeys()).toEqual([retired.fingerprint, current.fingerprint]);
    expect((await enrolAnswer()).gatewayKey?.fingerprint).toBe(retired.fingerprint);
  });

  it('serves the device pages from this process, with no remote asset', async () => {
    for (const page of ['/devices.html', '/public-devices.html', '/devices.js', '/public-devices.js', '/admin.css']) {
      const response = await app.inject({ method: 'GET', url: page });
      expect(response.statusCode, page).toBe(200);
      expect(response.body, page).not.toMatch(/https?:\/\//);
    }
  });
});
