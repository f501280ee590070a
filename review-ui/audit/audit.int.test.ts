import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditExport } from '../../core/domain/audit-export.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { loadOrCreateSigningKey, type ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { signChainHead } from '../../db/audit-checkpoints.js';
import { appendAudit, type AuditEvent } from '../../db/audit-log.js';
import { auditLog } from '../../db/schema.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import { runAuditCli } from '../cli/audit.js';

type Entries = { entries: { seq: number; actor: string; action: string; subjectId: string; details: Record<string, unknown> }[] };

describe('the audit API for auditors over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let auditor: LoggedIn;
  let reviewer: LoggedIn;
  let key: ServerSigningKey;
  const captureId = randomUUID();
  const otherCaptureId = randomUUID();
  const incidentId = randomUUID();
  const mergedIncidentId = randomUUID();
  let beforeSeeding: Date;
  let afterSeeding: Date;

  const append = (event: AuditEvent) => database.db.transaction((tx) => appendAudit(tx, event));

  beforeAll(async () => {
    database = await createTestDatabase('audit_api');
    dir = await createTempDir('audit-api');
    key = await loadOrCreateSigningKey(path.join(dir.dir, 'server.pem'));
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(dir.dir) });
    auditor = await personLoggedIn(app, database.db, 'auditor.li', ['auditor']);
    reviewer = await personLoggedIn(app, database.db, 'officer.wu', ['reviewer']);
    beforeSeeding = new Date();
    // The shapes db/incidents.ts and the review flow write, around one capture's life.
    await append({ actor: 'device:CAM-1', action: 'capture.received', subjectType: 'capture', subjectId: captureId, details: {} });
    await append({ actor: 'device:CAM-1', action: 'capture.received', subjectType: 'capture', subjectId: otherCaptureId, details: {} });
    await append({
      actor: 'person:officer.wu',
      action: 'capture.approved',
      subjectType: 'capture',
      subjectId: captureId,
      details: { note: 'plate 100% legible' },
    });
    await append({
      actor: 'system',
      action: 'incident.opened',
      subjectType: 'incident',
      subjectId: incidentId,
      details: { captureIds: [captureId], reason: 'approved' },
    });
    await append({
      actor: 'system',
      action: 'incident.opened',
      subjectType: 'incident',
      subjectId: mergedIncidentId,
      details: { captureIds: [otherCaptureId], reason: 'approved' },
    });
    await append({
      actor: 'system',
      action: 'incident.merged',
      subjectType: 'incident',
      subjectId: incidentId,
      details: { merged: [mergedIncidentId], captureIds: [captureId, otherCaptureId], reason: 'same act' },
    });
    await append({
      actor: 'system',
      action: 'incident.closed',
      subjectType: 'incident',
      subjectId: mergedIncidentId,
      details: { into: [incidentId], reason: 'merged: same act' },
    });
    await append({
      actor: 'person:officer.wu',
      action: 'capture.rejected',
      subjectType: 'capture',
      subjectId: randomUUID(),
      details: { note: 'unrelated' },
    });
    afterSeeding = new Date(Date.now() + 1);
    await signChainHead(database.db, key);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await dir?.remove();
  });

  const get = (url: string, as: LoggedIn = auditor) => app.inject({ method: 'GET', url, headers: as.headers });

  it('finds entries by a part of the actor, by text anywhere in them and by when they were recorded', async () => {
    const byActor = (await get('/api/audit/entries?actor=WU')).json<Entries>();
    expect(new Set(byActor.entries.map((entry) => entry.actor))).toEqual(new Set(['person:officer.wu']));
    expect(byActor.entries.map((entry) => entry.action)).toEqual(expect.arrayContaining(['capture.approved', 'capture.rejected']));

    const byText = (await get(`/api/audit/entries?text=${encodeURIComponent('100% legible')}`)).json<Entries>();
    expect(byText.entries.map((entry) => entry.action)).toEqual(['capture.approved']);
    // LIKE's wildcards are taken literally: `%` alone matches only entries holding a `%`.
    const percent = (await get('/api/audit/entries?text=%25')).json<Entries>();
    expect(percent.entries.map((entry) => entry.action)).toEqual(['capture.approved']);
    const underscore = (await get('/api/audit/entries?text=_&actor=device')).json<Entries>();
    expect(underscore.entries).toEqual([]);

    const inRange = (
      await get(`/api/audit/entries?from=${beforeSeeding.toISOString()}&until=${afterSeeding.toISOString()}&limit=500`)
    ).json<Entries>();
    const seeded = inRange.entries.filter(
      (entry) => entry.actor !== 'test' && !entry.action.startsWith('session.') && !entry.action.startsWith('person.'),
    );
    expect(seeded).toHaveLength(8);
    const none = (await get(`/api/audit/entries?until=${beforeSeeding.toISOString()}&action=capture.`)).json<Entries>();
    expect(none.entries).toEqual([]);
    expect((await get('/api/audit/entries?from=yesterday')).statusCode).toBe(400);
  });

  it("lists a capture's chain of custody, oldest first, with the incident entries that name it", async () => {
    const response = await get(`/api/audit/custody?captureId=${captureId}`);
    expect(response.statusCode).toBe(200);
    const custody = response.json<Entries & { truncated: boolean }>();
    expect(custody.entries.map((entry) => entry.action)).toEqual([
      'capture.received',
      'capture.approved',
      'incident.opened',
      'incident.merged',
    ]);
    expect(custody.entries.map((entry) => entry.seq)).toEqual([...custody.entries.map((entry) => entry.seq)].sort((a, b) => a - b));
    expect(custody.truncated).toBe(false);
  });

  it("lists an incident's custody with what it merged and every capture it holds", async () => {
    const custody = (await get(`/api/audit/custody?incidentId=${incidentId}`)).json<Entries>();
    expect(custody.entries.map((entry) => `${entry.action} ${entry.subjectId}`)).toEqual([
      `capture.received ${captureId}`,
      `capture.received ${otherCaptureId}`,
      `capture.approved ${captureId}`,
      `incident.opened ${incidentId}`,
      `incident.opened ${mergedIncidentId}`,
      `incident.merged ${incidentId}`,
      `incident.closed ${mergedIncidentId}`,
    ]);
    expect((await get(`/api/audit/custody?incidentId=${incidentId}&captureId=${captureId}`)).statusCode).toBe(400);
    expect((await get('/api/audit/custody')).statusCode).toBe(400);
  });

  it('exports a range the offline verifier checks, and records who exported it', async () => {
    const response = await get(`/api/audit/export?from=${beforeSeeding.toISOString()}&until=${afterSeeding.toISOString()}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toMatch(/^attachment; filename="verity-audit-\d+-\d+\.json"$/);
    const exported = response.json<AuditExport>();
    expect(exported.entries.length).toBeGreaterThanOrEqual(8);
    expect(exported.checkpoints).toHaveLength(1);
    const [recorded] = await database.db.select().from(auditLog).where(eq(auditLog.action, 'audit.exported'));
    expect(recorded).toMatchObject({ actor: 'person:auditor.li', subjectId: `${exported.range.fromSeq}-${exported.range.toSeq}` });

    const keyFile = path.join(dir.dir, 'server.pem');
    const verify = async (file: string, ...extra: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runAuditCli(
        ['verify', '--export', file, ...extra],
        {},
        { out: (line) => out.push(line), err: (line) => err.push(line), progress: { write: () => true } },
      );
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const file = path.join(dir.dir, 'export.json');
    await writeFile(file, response.body);
    const intact = await verify(file, '--public-key', keyFile);
    expect(intact.err).toBe('');
    expect(intact.code).toBe(0);
    expect(intact.out).toContain(`Export of seq ${exported.range.fromSeq} to ${exported.range.toSeq}`);

    // Without a key of its own the verifier uses the file's, and says so: here it is the
    // server's, which did not sign this test's head, so the head does not vouch.
    const ownKey = await verify(file);
    expect(ownKey.err).toContain(exported.signingKey.fingerprint);
    expect(ownKey.code).toBe(1);

    const edited = structuredClone(exported);
    const approval = edited.entries.find((entry) => entry.action === 'capture.approved');
    if (!approval) throw new Error('no approval exported');
    approval.details = { note: 'plate illegible' };
    await writeFile(file, JSON.stringify(edited));
    const editedReport = await verify(file, '--public-key', keyFile, '--json');
    expect(editedReport.code).toBe(1);
    expect(JSON.parse(editedReport.out)).toMatchObject({ ok: false, firstBroken: { seq: approval.seq, problem: 'hash_mismatch' } });

    const cut = { ...exported, entries: exported.entries.slice(0, -1) };
    await writeFile(file, JSON.stringify(cut));
    const cutReport = await verify(file, '--public-key', keyFile);
    expect(cutReport.code).toBe(1);
    expect(cutReport.out).toContain('Entries missing at an end');

    await writeFile(file, JSON.stringify({ ...exported, format: 'something else' }));
    const wrongFormat = await verify(file, '--public-key', keyFile);
    expect(wrongFormat.code).toBe(2);
    expect(wrongFormat.err).toMatch(/is not an audit export: format/);
    expect(await readFile(file, 'utf8')).toContain('something else');
  });

  it('answers 20 exports at once, each recorded once, and the chain still verifies', async () => {
    const before = await database.db
      .select({ count: sql<number>`count(*)::int` })
      .from(auditLog)
      .where(eq(auditLog.action, 'audit.exported'));
    const answers = await Promise.all(Array.from({ length: 20 }, () => get('/api/audit/export')));
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array(20).fill(200));
    const after = await database.db
      .select({ count: sql<number>`count(*)::int` })
      .from(auditLog)
      .where(eq(auditLog.action, 'audit.exported'));
    expect((after[0]?.count ?? 0) - (before[0]?.count ?? 0)).toBe(20);
    const out: string[] = [];
    const code = await runAuditCli(
      ['verify', '--json'],
      { DATABASE_URL: database.url, SIGNING_KEY_FILE: path.join(dir.dir, 'server.pem') },
      { out: (line) => out.push(line), err: () => undefined, progress: { write: () => true } },
    );
    expect(JSON.parse(out.join('\n'))).toMatchObject({ ok: true });
    expect(code).toBe(0);
  });

  it('refuses an empty range, and a reviewer', async () => {
    const empty = await get(`/api/audit/export?until=${new Date(0).toISOString()}`);
    expect(empty.statusCode).toBe(404);
    expect(empty.json()).toEqual({ error: 'no entries were recorded in that range' });
    expect((await get(`/api/audit/export?from=${afterSeeding.toISOString()}&until=${beforeSeeding.toISOString()}`)).statusCode).toBe(400);
    expect((await get('/api/audit/export', reviewer)).statusCode).toBe(403);
    expect((await get(`/api/audit/custody?captureId=${captureId}`, reviewer)).statusCode).toBe(403);
  });
});
