import type { MqttClient } from 'mqtt';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/domain/protocol.js';
import { sha256Hex } from '../core/infrastructure/media-store.js';
import { changeCaptureState } from '../db/captures.js';
import { auditLog, captures, incidents, malfunctionWindows, mediaChunks } from '../db/schema.js';
import { publishCapture, type SignedCapture } from '../device-simulator/device-protocol.js';
import { enrolTestDevice, type TestDevice } from '../test/support/devices.js';
import { waitFor } from '../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../test/support/review-server.js';
import { rowsOfCapture, signedCapture, startTestGateway, type TestGateway } from '../test/support/test-gateway.js';

/**
 * Test 7 of docs/reliability.md, captures (health reports: ingest/health-replay.int.test.ts).
 * Anyone on the broker can keep a device's signed bytes and publish them again. Passing means:
 * a capture already approved into an incident, republished later by a third client byte for
 * byte (chunks and envelope) or in a re-serialised envelope, is stored once; its row, its
 * incident and its audit trail do not change, and the re-serialised copy is quarantined `replayed`.
 */
describe('a capture replayed by a third client after its approval', () => {
  let gateway: TestGateway;
  let app: FastifyInstance;
  let camera: TestDevice;
  let device: MqttClient;
  let replayer: MqttClient;
  let reviewer: LoggedIn;

  beforeAll(async () => {
    gateway = await startTestGateway('capture_replay');
    app = await buildTestReviewServer({ db: gateway.database.db, store: gateway.store });
    camera = await enrolTestDevice(gateway.database.db);
    device = await gateway.connect('device');
    replayer = await gateway.connect('replayer');
    reviewer = await personLoggedIn(app, gateway.database.db, 'li', ['reviewer']);
  });

  afterAll(async () => {
    await app?.close();
    await gateway?.stop();
  });

  /** Through the gateway, on to review as screening would send it, and approved by a reviewer. */
  async function approvedCapture(): Promise<{ signed: SignedCapture; captureId: string; incidentId: string }> {
    const signed = await signedCapture(camera);
    await publishCapture(device, gateway.topicRoot, signed);
    const [row] = await waitFor('the capture to be verified', async () => {
      const rows = await rowsOfCapture(gateway, signed.manifest.captureId);
      return rows[0]?.state === 'verified' ? rows : undefined;
    });
    await gateway.database.db.transaction((tx) =>
      changeCaptureState(tx, row!.id, { from: 'verified', to: 'awaiting_review', by: 'screening_worker' }),
    );
    const url = `/api/review/captures/${row!.id}`;
    expect((await app.inject({ method: 'POST', url: `${url}/claim`, headers: reviewer.headers })).statusCode).toBe(200);
    const decided = await app.inject({
      method: 'POST',
      url: `${url}/decision`,
      headers: reviewer.headers,
      payload: { outcome: 'approved' },
    });
    expect(decided.statusCode).toBe(200);
    return { signed, captureId: row!.id, incidentId: decided.json<{ incidentId: string }>().incidentId };
  }

  /** What a replay must not change: the capture rows, the device's incidents and windows, and the capture's audit trail. */
  async function recordOf(captureId: string, deviceCaptureId: string) {
    const { db } = gateway.database;
    return {
      rows: await rowsOfCapture(gateway, deviceCaptureId),
      incidents: await db.select().from(incidents),
      windows: await db.select().from(malfunctionWindows).where(eq(malfunctionWindows.deviceId, camera.id)),
      audit: await db.select().from(auditLog).where(eq(auditLog.subjectId, captureId)),
    };
  }

  it('stores the byte-for-byte copy once and changes nothing: no second incident, no new audit entry, no staged chunk', async () => {
    const { signed, captureId, incidentId } = await approvedCapture();
    const before = await recordOf(captureId, signed.manifest.captureId);
    expect(before.rows.map((row) => [row.state, row.incidentId])).toEqual([['approved', incidentId]]);
    const { counters } = gateway.ingest.gateway;
    const [duplicates, chunks] = [counters.duplicates, counters.chunks];

    await publishCapture(replayer, gateway.topicRoot, signed);
    const chunkCount = signed.media.length;
    await waitFor('the replayed envelope to be handled', async () => (counters.duplicates > duplicates ? true : undefined));
    expect(counters.chunks - chunks).toBeGreaterThanOrEqual(chunkCount);

    expect(await recordOf(captureId, signed.manifest.captureId)).toEqual(before);
    expect(await gateway.database.db.select().from(mediaChunks).where(eq(mediaChunks.deviceId, camera.id))).toEqual([]);
  });

  it('quarantines the same signed manifest in a re-serialised envelope as replayed, leaving the approved capture and its incident alone', async () => {
    const { signed, captureId } = await approvedCapture();
    const before = await recordOf(captureId, signed.manifest.captureId);
    const { manifest, signature } = JSON.parse(signed.envelope.toString()) as { manifest: string; signature: string };
    const reordered = Buffer.from(JSON.stringify({ signature, manifest }, null, 1));

    await replayer.publishAsync(topics.capture(gateway.topicRoot, camera.id), reordered, { qos: 1 });
    const [copy] = await waitFor('the re-serialised copy', async () => {
      const rows = await gateway.database.db
        .select()
        .from(captures)
        .where(eq(captures.messageSha256, sha256Hex(reordered)));
      return rows.length > 0 ? rows : undefined;
    });
    expect(copy!.state).toBe('quarantined');
    expect(copy!.quarantineReasons?.map((reason) => reason.code)).toEqual(['replayed']);
    expect(copy!.incidentId).toBeNull();

    const after = await recordOf(captureId, signed.manifest.captureId);
    expect(after.rows.filter((row) => row.id !== copy!.id)).toEqual(before.rows);
    expect(after.incidents).toEqual(before.incidents);
    expect(after.windows).toEqual(before.windows);
    expect(after.audit).toEqual(before.audit);
  });
});
