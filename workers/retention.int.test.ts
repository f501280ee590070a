import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClock, type Clock } from '../core/domain/clock.js';
import { loadConfig } from '../core/domain/config.js';
import { createLogger } from '../core/infrastructure/logger.js';
import { FilesystemMediaStore, type MediaStore } from '../core/infrastructure/media-store.js';
import { loadOrCreateSigningKey, type ServerSigningKey } from '../core/infrastructure/signing-key.js';
import { signChainHead } from '../db/audit-checkpoints.js';
import { verifyAuditChain } from '../db/audit-verify.js';
import {
  auditLog,
  captureMedia,
  captures,
  captureTombstones,
  incidents,
  malfunctionWindows,
  media,
  remediationCases,
  rejectReasons,
  tamperingFindings,
} from '../db/schema.js';
import { runAuditCli } from '../review-ui/cli/audit.js';
import { runEvidenceVerifyCli } from '../review-ui/cli/evidence-verify.js';
import { insertReviewableCapture } from '../test/support/captures.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../test/support/review-server.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { purgeCaptures } from './handlers/purge-captures.js';
import { startWorkersRole } from './service.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const settings = loadConfig({}).retention;
const log = createLogger('silent');

describe('retention and erasure with a movable clock (docs/party.md)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let keyDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let reviewer: LoggedIn;
  let signingKey: ServerSigningKey;
  // Each test starts its own clock at the real time; the review server reads whichever is current.
  let clock: TestClock;
  const serverClock: Clock = { now: () => clock.now() };

  // A database of its own for each test: a run purges every capture that is due, so captures
  // another test left behind would change the counts a test checks.
  beforeEach(async () => {
    database = await createTestDatabase('retention');
    mediaDir = await createTempDir('retention-media');
    keyDir = await createTempDir('retention-keys');
    store = new FilesystemMediaStore(mediaDir.dir);
    clock = new TestClock();
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: [] }, clock: serverClock });
    camera = await enrolTestDevice(database.db);
    reviewer = await personLoggedIn(app, database.db, 'li', ['reviewer']);
    signingKey = await loadOrCreateSigningKey(path.join(keyDir.dir, 'server.pem'));
    await database.db.insert(rejectReasons).values({ code: 'blurred_plate', label: 'Plate not legible' });
  });

  afterEach(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
    await keyDir?.remove();
  });

  const post = (url: string, payload: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url, headers: reviewer.headers, payload });
  const get = (url: string) => app.inject({ method: 'GET', url, headers: reviewer.headers });

  async function decided(captureId: string, body: Record<string, unknown>): Promise<{ incidentId: string | null }> {
    expect((await post(`/api/review/captures/${captureId}/claim`)).statusCode).toBe(200);
    const answer = await post(`/api/review/captures/${captureId}/decision`, body);
    expect(answer.statusCode, answer.body).toBe(200);
    return answer.json<{ incidentId: string | null }>();
  }

  async function quarantined(files?: Awaited<ReturnType<typeof testMedia>>): Promise<string> {
    const id = await insertReviewableCapture(database.db, store, camera, files ? { files } : {});
    await database.db
      .update(captures)
      .set({ state: 'quarantined', quarantineReasons: [{ code: 'replayed', detail: 'a different message already used this capture id' }] })
      .where(eq(captures.id, id));
    return id;
  }

  async function excluded(): Promise<string> {
    // Taken two hours ago inside a closed window, so the window covers none of the other captures.
    const id = await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(Date.now() - 2 * HOUR) });
    const [window] = await database.db
      .insert(malfunctionWindows)
      .values({
        deviceId: camera.id,
        source: 'operator',
        startsAt: new Date(Date.now() - 3 * HOUR),
        endsAt: new Date(Date.now() - HOUR),
        reason: 'lens fogged',
        recordedBy: 'test',
      })
      .returning({ id: malfunctionWindows.id });
    await database.db
      .update(captures)
      .set({ state: 'excluded', exclusionWindowIds: [window!.id] })
      .where(eq(captures.id, id));
    return id;
  }

  const mediaOf = async (captureId: string) =>
    (await database.db.select().from(captureMedia).where(eq(captureMedia.captureId, captureId))).map((row) => row.mediaSha256).sort();
  const run = () => purgeCaptures({ database, store, settings, clock, log });
  const rowOf = async (captureId: string) => (await database.db.select().from(captures).where(eq(captures.id, captureId)))[0]!;
  const auditOf = (captureId: string, action: string) =>
    database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectType, 'capture'), eq(auditLog.subjectId, captureId), eq(auditLog.action, action)));

  it('purges rejected, excluded and quarantined captures at 30 days and not at 29, keeping tombstones, audit and evidence intact', async () => {
    const rejected = await insertReviewableCapture(database.db, store, camera);
    await decided(rejected, { outcome: 'rejected', reasonCode: 'blurred_plate' });
    const excludedId = await excluded();
    // A replay of evidence: the same media bytes as an approved capture, quarantined.
    const files = await testMedia();
    const evidence = await insertReviewableCapture(database.db, store, camera, { files });
    const { incidentId } = await decided(evidence, { outcome: 'approved' });
    const replay = await quarantined(files);
    const waiting = await insertReviewableCapture(database.db, store, camera);
    const purgeable = [rejected, excludedId, replay];
    const mediaBefore = new Map(await Promise.all(purgeable.map(async (id) => [id, await mediaOf(id)] as const)));
    const message = new Map(await Promise.all(purgeable.map(async (id) => [id, (await rowOf(id)).messageSha256] as const)));
    await signChainHead(database.db, signingKey);

    clock.advance(29 * DAY);
    expect(await run()).toMatchObject({ retention: 0, erasure: 0, evidence_retention: 0 });
    for (const id of purgeable) expect((await rowOf(id)).purgedAt, id).toBeNull();

    clock.advance(DAY + HOUR);
    const counts = await run();
    expect(counts).toMatchObject({ retention: 3, erasure: 0, evidence_retention: 0 });
    for (const id of purgeable) {
      const row = await rowOf(id);
      expect(row.purgedAt).toEqual(clock.now());
      expect(row.manifest).toBeNull();
      expect(row.rawMessage.length).toBe(0);
      expect(await mediaOf(id)).toEqual([]);
      const [tombstone] = await database.db.select().from(captureTombstones).where(eq(captureTombstones.captureId, id));
      expect(tombstone).toMatchObject({ reason: 'retention', messageSha256: message.get(id), mediaSha256s: mediaBefore.get(id) });
      expect(await auditOf(id, 'capture.purged')).toHaveLength(1);
    }
    // Bytes no other capture holds are gone; the replay's bytes are the evidence's, so they stay.
    for (const sha256 of [...mediaBefore.get(rejected)!, ...mediaBefore.get(excludedId)!]) {
      expect(await store.has(sha256), sha256).toBe(false);
      expect(await database.db.select().from(media).where(eq(media.sha256, sha256))).toEqual([]);
    }
    for (const sha256 of mediaBefore.get(replay)!) expect(await store.has(sha256)).toBe(true);
    const [replayAudit] = await auditOf(replay, 'capture.purged');
    expect(replayAudit?.details).toMatchObject({ mediaFilesDeleted: 0, sharedSha256s: mediaBefore.get(replay) });
    expect(counts.mediaFilesDeleted).toBe(4);
    expect((await rowOf(evidence)).purgedAt).toBeNull();
    expect((await rowOf(waiting)).purgedAt).toBeNull();
    // A purge changes nothing more: the tombstone row refuses every later edit.
    await expect(database.db.update(captures).set({ reviewRound: 9 }).where(eq(captures.id, rejected))).rejects.toThrow();
    await expect(database.db.delete(captureTombstones).where(eq(captureTombstones.captureId, rejected))).rejects.toThrow();

    // What `npm run audit:verify` and `npm run evidence:verify` run, over the purged database.
    const lines: string[] = [];
    const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
    const env = { DATABASE_URL: database.url, SIGNING_KEY_FILE: path.join(keyDir.dir, 'server.pem') };
    expect(await runAuditCli(['verify', '--json'], env, { ...io, progress: { write: () => true } }), lines.join('\n')).toBe(0);
    expect(JSON.parse(lines.join('\n'))).toMatchObject({ ok: true, checkpointProblemCount: 0 });
    const exported = await get(`/api/incidents/${incidentId}/evidence-package?reason=notice+to+the+party`);
    expect(exported.statusCode).toBe(200);
    const packageFile = path.join(keyDir.dir, 'evidence.zip');
    await writeFile(packageFile, exported.rawPayload);
    expect(await runEvidenceVerifyCli([packageFile], io), lines.join('\n')).toBe(0);
    const listed = (await get('/api/captures?limit=200')).json<{ captures: { id: string }[] }>().captures.map((capture) => capture.id);
    expect(listed).toContain(evidence);
    expect(listed).not.toContain(rejected);
  });

  it('purges nothing a tampering finding or an open remediation case holds, and the rest once the case closes', async () => {
    const found = await excluded();
    const [window] = await database.db.select({ ids: captures.exclusionWindowIds }).from(captures).where(eq(captures.id, found));
    await database.db
      .insert(tamperingFindings)
      .values({ captureId: found, windowId: window!.ids![0]!, evidence: 'lens taped', recordedBy: 'zhao' });
    const underCase = await quarantined();
    const [remediation] = await database.db
      .insert(remediationCases)
      .values({ scope: 'device', siteId: camera.id, violationType: 'speeding', suspectedCause: 'device_placement', openedBy: 'analyst' })
      .returning({ id: remediationCases.id });

    clock.advance(31 * DAY);
    await run();
    expect((await rowOf(found)).purgedAt).toBeNull();
    expect((await rowOf(underCase)).purgedAt).toBeNull();

    await database.db
      .update(remediationCases)
      .set({ status: 'dismissed', closedAt: new Date(), closedBy: 'analyst', closingReason: 'placement checked' })
      .where(eq(remediationCases.id, remediation!.id));
    await run();
    expect((await rowOf(underCase)).purgedAt).not.toBeNull();
    expect((await rowOf(found)).purgedAt).toBeNull();
  });

  it('erases a record rejected for a statutory reason on the next run, within 3 days, and shows it nowhere', async () => {
    const wrong = await insertReviewableCapture(database.db, store, camera, { readings: { speedKmh: 80, limitKmh: 60, plate: 'ERASE-1' } });
    const decidedAt = clock.now();
    await decided(wrong, { outcome: 'rejected', reasonCode: 'emergency_avoidance' });
    const ordinary = await insertReviewableCapture(database.db, store, camera);
    await decided(ordinary, { outcome: 'rejected', reasonCode: 'blurred_plate' });
    const files = await mediaOf(wrong);
    // Never in the violation list: a rejection is never evidence, so no incident ever held it.
    expect((await rowOf(wrong)).incidentId).toBeNull();

    clock.advance(HOUR);
    expect(await run()).toMatchObject({ erasure: 1, retention: 0, overdueErasures: 0 });
    const row = await rowOf(wrong);
    expect(row.purgedAt!.getTime() - decidedAt.getTime()).toBeLessThan(settings.erasureWithinMs);
    expect(row.manifest).toBeNull();
    expect(row.rawMessage.length).toBe(0);
    for (const sha256 of files) expect(await store.has(sha256)).toBe(false);
    const [tombstone] = await database.db.select().from(captureTombstones).where(eq(captureTombstones.captureId, wrong));
    expect(tombstone).toMatchObject({ reason: 'erasure', rejectReasonCode: 'emergency_avoidance', mediaSha256s: files });
    const [audit] = await auditOf(wrong, 'capture.erased');
    expect(audit?.details).toMatchObject({ reason: 'erasure', rejectReasonCode: 'emergency_avoidance', mediaFilesDeleted: 2 });
    expect(JSON.stringify(tombstone)).not.toContain('ERASE-1');
    expect((await get(`/api/review/captures/${wrong}?reason=checking+the+erasure`)).statusCode).toBe(404);
    const listed = (await get('/api/captures?state=rejected&limit=200')).json<{ captures: { id: string }[] }>().captures;
    expect(listed.map((capture) => capture.id)).not.toContain(wrong);
    // A rejection for another reason is no erasure: it waits out the 30 days like other non-evidence.
    expect((await rowOf(ordinary)).purgedAt).toBeNull();
  });

  it('counts an erasure a tampering finding holds past its deadline as overdue, for staff to resolve', async () => {
    const held = await insertReviewableCapture(database.db, store, camera);
    await decided(held, { outcome: 'rejected', reasonCode: 'stolen_or_cloned_plate' });
    const [window] = await database.db
      .insert(malfunctionWindows)
      .values({
        deviceId: camera.id,
        source: 'operator',
        startsAt: new Date(Date.now() - 2 * DAY),
        endsAt: new Date(Date.now() - DAY),
        reason: 'cable cut',
        recordedBy: 'test',
      })
      .returning({ id: malfunctionWindows.id });
    await database.db
      .insert(tamperingFindings)
      .values({ captureId: held, windowId: window!.id, evidence: 'plate swapped', recordedBy: 'zhao' });

    clock.advance(2 * DAY);
    expect((await run()).overdueErasures).toBe(0);
    clock.advance(2 * DAY);
    expect((await run()).overdueErasures).toBe(1);
    expect((await rowOf(held)).purgedAt).toBeNull();
  });

  it('keeps evidence for its own period from the approval, then purges it and the plate of its emptied incident', async () => {
    const approved = await insertReviewableCapture(database.db, store, camera, {
      readings: { speedKmh: 75, limitKmh: 60, plate: 'KEEP-2' },
    });
    const { incidentId } = await decided(approved, { outcome: 'approved' });
    const files = await mediaOf(approved);

    clock.advance(settings.evidenceKeepMs - HOUR);
    await run();
    expect((await rowOf(approved)).purgedAt).toBeNull();

    clock.advance(2 * HOUR);
    expect((await run()).evidence_retention).toBeGreaterThanOrEqual(1);
    const [tombstone] = await database.db.select().from(captureTombstones).where(eq(captureTombstones.captureId, approved));
    expect(tombstone).toMatchObject({ reason: 'evidence_retention', state: 'approved', mediaSha256s: files });
    for (const sha256 of files) expect(await store.has(sha256)).toBe(false);
    const [incident] = await database.db.select().from(incidents).where(eq(incidents.id, incidentId!));
    expect(incident?.subject).toBe(`erased:${incidentId}`);
    // No package can be built from purged evidence: asking is refused, saying why.
    const exported = await get(`/api/incidents/${incidentId}/evidence-package?reason=asked+after+retention`);
    expect(exported.statusCode).toBe(409);
    expect(await verifyAuditChain(database.db, { publicKeys: [signingKey.publicKeyPem] })).toMatchObject({ ok: true });
  });

  it('purges each capture once, with one audit row, however many runs race', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => quarantined()));
    clock.advance(31 * DAY);
    const before = (await database.db.select().from(captureTombstones)).length;
    const runs = await Promise.all(Array.from({ length: 20 }, () => run()));
    // Earlier tests' rejections fall due at this clock too: every purge counted is a new tombstone, and no more.
    const purged = runs.reduce((sum, counts) => sum + counts.retention + counts.erasure + counts.evidence_retention, 0);
    expect(purged).toBe((await database.db.select().from(captureTombstones)).length - before);
    expect(purged).toBeGreaterThanOrEqual(ids.length);
    const tombstones = await database.db.select().from(captureTombstones).where(inArray(captureTombstones.captureId, ids));
    expect(tombstones).toHaveLength(ids.length);
    for (const id of ids) expect(await auditOf(id, 'capture.purged')).toHaveLength(1);
    expect(await verifyAuditChain(database.db, { publicKeys: [signingKey.publicKeyPem] })).toMatchObject({ ok: true });
  });

  it('purges the rest when one capture fails, leaves that one whole for the next run, and fails the job to say so', async () => {
    const stuck = await quarantined();
    const fine = await quarantined();
    const [unlucky] = await mediaOf(stuck);
    const failing: MediaStore = {
      put: (bytes) => store.put(bytes),
      get: (sha256) => store.get(sha256),
      has: (sha256) => store.has(sha256),
      delete: (sha256) => (sha256 === unlucky ? Promise.reject(new Error('storage is down')) : store.delete(sha256)),
    };
    clock.advance(31 * DAY);
    await expect(purgeCaptures({ database, store: failing, settings, clock, log })).rejects.toThrow(/purging failed for 1 captures/);
    expect((await rowOf(fine)).purgedAt).not.toBeNull();
    const row = await rowOf(stuck);
    expect(row.purgedAt).toBeNull();
    expect(row.manifest).not.toBeNull();
    expect(await database.db.select().from(captureTombstones).where(eq(captureTombstones.captureId, stuck))).toEqual([]);

    await run();
    expect((await rowOf(stuck)).purgedAt).not.toBeNull();
    expect(await store.has(unlucky!)).toBe(false);
  });

  it('runs as a scheduled job of the workers role, reading the clock it is given', async () => {
    const id = await quarantined();
    clock.advance(31 * DAY);
    const redis = createTestRedis('retention');
    const workers = await startWorkersRole({
      database,
      store,
      redis: redis.redis,
      queuePrefix: redis.prefix,
      concurrency: 1,
      retention: { ...settings, everyMs: 200 },
      clock,
      log,
    });
    const queues = new QueueRegistry(redis.redis, redis.prefix);
    try {
      expect((await queues.get('retention').getJobSchedulers()).map((scheduler) => scheduler.key)).toEqual(['retention-purge']);
      await waitFor('the scheduled purge', async () => ((await rowOf(id)).purgedAt ? true : undefined));
    } finally {
      await queues.close();
      await workers.stop();
      await redis.cleanup();
    }
  });
});
