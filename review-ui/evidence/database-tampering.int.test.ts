import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog, captureMedia } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import type { CaptureDetail } from '../review/capture-detail.js';
import { runAuditCli } from '../cli/audit.js';
import { verifyEvidencePackage } from './evidence-verifier.js';

/**
 * Test 14 of docs/reliability.md: a database superuser edits, with triggers switched off, what
 * the application would refuse to change. Passing means each edit is reported by a verifier:
 * `npm run audit:verify` names the rewritten audit row, the server refuses to export a package
 * that would carry it, and the review API shows a capture whose stored file changed as not
 * intact and exports nothing from it, and so is a capture whose state says approved without a
 * recorded approval. Edits of the manifest, the signed columns and the media
 * links are shown in review-ui/review/review-integrity.int.test.ts.
 */
describe('direct database tampering, seen by the verifiers', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let wang: LoggedIn;
  /** A superuser's own connection, outside the application: what a person with database access has. */
  let superuser: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('tampering');
    mediaDir = await createTempDir('tampering-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store });
    camera = await enrolTestDevice(database.db);
    wang = await personLoggedIn(app, database.db, 'wang', ['reviewer']);
    superuser = new pg.Client({ connectionString: database.url });
    await superuser.connect();
  });

  afterAll(async () => {
    await superuser?.end();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  /** `session_replication_role = replica` switches off the triggers that refuse these edits to anyone else. */
  async function withoutTriggers(statement: string, values: unknown[]) {
    await superuser.query('set session_replication_role = replica');
    try {
      await superuser.query(statement, values);
    } finally {
      await superuser.query('set session_replication_role = origin');
    }
  }

  const detailOf = async (captureId: string) =>
    (
      await app.inject({ method: 'GET', url: `/api/review/captures/${captureId}?reason=integrity+check`, headers: wang.headers })
    ).json<CaptureDetail>();

  /** A capture approved through the review API, with the incident the approval put it in. */
  async function approvedCapture() {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    const claim = await app.inject({ method: 'POST', url: `/api/review/captures/${captureId}/claim`, headers: wang.headers });
    expect(claim.statusCode).toBe(200);
    const decided = await app.inject({
      method: 'POST',
      url: `/api/review/captures/${captureId}/decision`,
      headers: wang.headers,
      payload: { outcome: 'approved' },
    });
    expect(decided.statusCode).toBe(200);
    return { captureId, incidentId: decided.json<{ incidentId: string }>().incidentId };
  }

  const exportOf = (incidentId: string) =>
    app.inject({
      method: 'GET',
      url: `/api/incidents/${incidentId}/evidence-package?reason=court+hearing+2026-12-09`,
      headers: wang.headers,
    });

  const failedChecks = (bytes: Buffer) =>
    verifyEvidencePackage(bytes)
      .checks.filter((check) => check.status === 'failed')
      .flatMap((check) => check.failures);

  /** `npm run audit:verify -- --json`, run in this process. */
  async function auditVerify(): Promise<{ code: number; report: { ok: boolean; firstBroken: { seq: number; problem: string } | null } }> {
    const out: string[] = [];
    const env = { DATABASE_URL: database.url, SIGNING_KEY_FILE: path.join(mediaDir.dir, 'absent.pem'), LOG_LEVEL: 'silent' };
    const io = { out: (line: string) => out.push(line), err: () => undefined, progress: { write: () => true } };
    const code = await runAuditCli(['verify', '--json'], env, io);
    return { code, report: JSON.parse(out.join('\n')) as { ok: boolean; firstBroken: { seq: number; problem: string } | null } };
  }

  it('reports a rewritten approval in the audit log: audit:verify names its row, and the server exports no package carrying it', async () => {
    const { captureId, incidentId } = await approvedCapture();
    const before = await exportOf(incidentId);
    expect(before.statusCode).toBe(200);
    expect(failedChecks(before.rawPayload)).toEqual([]);
    expect((await auditVerify()).code).toBe(0);

    const [entry] = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, captureId), eq(auditLog.action, 'capture.approved')));
    await withoutTriggers(`update audit_log set details = jsonb_set(details, '{certificateNumber}', '"ENF-FORGED"') where seq = $1`, [
      entry!.seq,
    ]);

    const audit = await auditVerify();
    expect(audit.code).toBe(1);
    expect(audit.report).toMatchObject({ ok: false, firstBroken: { seq: entry!.seq, problem: 'hash_mismatch' } });
    const after = await exportOf(incidentId);
    expect(after.statusCode).toBe(409);
    expect(after.json<{ error: string }>().error).toContain(`audit entry ${entry!.seq} (capture.approved) does not match its hash`);
  });

  it('reports one flipped byte of a stored media file: not intact in review, no package exported', async () => {
    const { captureId, incidentId } = await approvedCapture();
    const [link] = await database.db.select().from(captureMedia).where(eq(captureMedia.captureId, captureId)).limit(1);
    const file = path.join(mediaDir.dir, link!.mediaSha256.slice(0, 2), link!.mediaSha256.slice(2, 4), link!.mediaSha256);
    const bytes = await readFile(file);
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(file, bytes);

    const detail = await detailOf(captureId);
    expect(detail.integrity.intact).toBe(false);
    expect(detail.integrity.problems).toEqual([
      expect.stringMatching(new RegExp(`^${link!.name}: stored bytes hash to [0-9a-f]{64}, signed`)),
    ]);
    const refused = await exportOf(incidentId);
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain(`${link!.name}: stored bytes hash to`);
  });

  it('reports a capture set to approved with no decision recorded: not intact in review, no package exported', async () => {
    const forged = await insertReviewableCapture(database.db, store, camera);
    const { incidentId } = await approvedCapture();
    await withoutTriggers(`update captures set state = 'approved', incident_id = $2 where id = $1`, [forged, incidentId]);
    const detail = await detailOf(forged);
    expect(detail.integrity.intact).toBe(false);
    expect(detail.integrity.problems).toEqual([
      'its state says approved, but no reviewer decision is recorded in its current review round',
    ]);
    const refused = await exportOf(incidentId);
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain('no reviewer decision is recorded');
  });
});
