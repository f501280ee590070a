import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq } from 'drizzle-orm';
import { unzipSync, zipSync } from 'fflate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packagePaths, type AuditEntriesFile, type DecisionsFile } from './evidence-verifier.js';
import { FilesystemMediaStore, sha256Hex } from '../../core/infrastructure/media-store.js';
import { loadOrCreateSigningKey, type ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { appendAudit } from '../../db/audit-log.js';
import { changeCaptureState } from '../../db/captures.js';
import { openWindow } from '../../db/malfunction-windows.js';
import { auditLog, captures, deviceHealthEvents, incidents, people, reviewDecisions } from '../../db/schema.js';
import { buildManifest, chunkMedia, signManifest } from '../../device-simulator/device-protocol.js';
import { CaptureIngestor } from '../../ingest/capture-ingestor.js';
import { DeviceDirectory } from '../../ingest/device-directory.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase, uniqueName } from '../../test/support/isolated.js';
import { deriveMedia } from '../../workers/handlers/derive-media.js';
import { buildEvidencePackage } from './evidence-package.js';
import { runEvidenceVerifyCli } from '../cli/evidence-verify.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MINUTE = 60_000;

/** Runs the verifier CLI as a separate process, as someone holding only the file would, to check the script's wiring. */
function verifyWithSpawnedCli(file: string, ...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'review-ui/cli/evidence-verify.ts', file, ...args],
      { cwd: repoRoot },
      (error, stdout, stderr) => resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, output: stdout + stderr }),
    );
  });
}

/** The verifier CLI in this process: the same report and exit code without the Node start. */
async function verifyWithCli(file: string, ...args: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runEvidenceVerifyCli([file, ...args], { out: (line) => lines.push(line), err: (line) => lines.push(line) });
  return { code, output: lines.join('\n') };
}

describe('evidence package of an approved incident', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let workDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let signingKey: ServerSigningKey;
  let camera: TestDevice;
  let firstReviewer: typeof people.$inferSelect;
  let secondReviewer: typeof people.$inferSelect;
  let incidentId: string;
  let captureIds: string[];

  async function person(displayName: string, certificateNumber: string) {
    const [row] = await database.db
      .insert(people)
      .values({
        username: uniqueName('officer'),
        displayName,
        passwordHash: 'not used here',
        roles: ['reviewer'],
        certificateNumber,
        certificateExpiresAt: new Date(Date.now() + 365 * 24 * 60 * MINUTE),
      })
      .returning();
    return row!;
  }

  /** Sends a real signed capture through the gateway's ingestor and derives its quality, as the workers would. */
  async function ingest(capturedAt: Date): Promise<string> {
    const media = await testMedia(capturedAt);
    const manifest = buildManifest({
      deviceId: camera.id,
      capturedAt,
      clockOffsetMs: 4,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 97, limitKmh: 60 },
      media,
    });
    const signed = signManifest(manifest, camera.privateKey, media);
    const ingestor = new CaptureIngestor(database.db, store, new DeviceDirectory(database.db));
    for (const file of media) {
      const chunks = chunkMedia(file.bytes);
      for (const [chunkIndex, chunk] of chunks.entries()) {
        await ingestor.ingestChunk({ deviceId: camera.id, sha256: sha256Hex(file.bytes), chunkIndex, chunkCount: chunks.length }, chunk);
      }
    }
    const result = await ingestor.ingestCapture(camera.id, signed.envelope);
    expect(result.ack).toMatchObject({ status: 'accepted', reasons: [] });
    const [row] = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, manifest.captureId));
    await deriveMedia({ database, store }, { captureId: row!.id });
    return row!.id;
  }

  /** Records the decisions first: the database refuses an approved capture without one. */
  async function approve(captureId: string, reviewers: (typeof people.$inferSelect)[]) {
    for (const [position, reviewer] of reviewers.entries()) {
      await database.db.insert(reviewDecisions).values({
        captureId,
        round: 0,
        step: position === 0 ? 'first' : 'second',
        outcome: 'approved',
        personId: reviewer.id,
        certificateNumber: reviewer.certificateNumber!,
        note: 'plate legible, speed reading plausible',
      });
    }
    await database.db.transaction(async (tx) => {
      // The lawful road from the gateway to approval: the database refuses a shortcut.
      await changeCaptureState(tx, captureId, { from: 'verified', to: 'awaiting_review', by: 'screening_worker' });
      await changeCaptureState(tx, captureId, { from: 'awaiting_review', to: 'approved', by: 'reviewer', set: { incidentId } });
      await appendAudit(tx, {
        actor: `person:${reviewers.at(-1)!.id}`,
        action: 'capture.approved',
        subjectType: 'capture',
        subjectId: captureId,
        details: { incidentId },
      });
    });
  }

  async function exportPackage(reason: string) {
    const outcome = await buildEvidencePackage({ db: database.db, store, signingKey }, incidentId, {
      personId: firstReviewer.id,
      actor: `person:${firstReviewer.id}`,
      reason,
    });
    if (outcome.outcome !== 'built') throw new Error(`expected a package, got ${outcome.outcome}`);
    return outcome;
  }

  /** Writes a copy of the package with one byte of one file flipped, re-zipped as a forger would. */
  async function tamperedCopy(bytes: Uint8Array, file: string, offset: (size: number) => number): Promise<string> {
    const files = unzipSync(bytes);
    const changed = Uint8Array.from(files[file]!);
    const at = offset(changed.byteLength);
    changed[at] = changed[at]! ^ 0x04;
    files[file] = changed;
    const target = path.join(workDir.dir, `tampered-${randomUUID()}.zip`);
    await writeFile(target, zipSync(files));
    return target;
  }

  // A database of its own for each test: every export is audited against the incident, so another
  // test's exports would be the audit entries a test reads as its own.
  beforeEach(async () => {
    database = await createTestDatabase('evidence');
    workDir = await createTempDir('evidence');
    store = new FilesystemMediaStore(path.join(workDir.dir, 'media'));
    signingKey = await loadOrCreateSigningKey(path.join(workDir.dir, 'server-key.pem'));
    camera = await enrolTestDevice(database.db);
    firstReviewer = await person('Officer Li Na', 'ENF-2025-0042');
    secondReviewer = await person('Officer Chen Wei', 'ENF-2025-0107');

    const firstAt = new Date(Date.now() - 10 * MINUTE);
    await database.db.insert(deviceHealthEvents).values([
      { deviceId: camera.id, kind: 'heartbeat', reportedAt: new Date(firstAt.getTime() - 2 * MINUTE), payload: {} },
      { deviceId: camera.id, kind: 'heartbeat', reportedAt: new Date(firstAt.getTime() - MINUTE), payload: {} },
      {
        deviceId: camera.id,
        kind: 'self_test',
        reportedAt: new Date(firstAt.getTime() - 30 * MINUTE),
        payload: { passed: true, detail: 'all sensors nominal' },
      },
    ]);
    await database.db.transaction((tx) =>
      openWindow(tx, {
        deviceId: camera.id,
        source: 'operator',
        startsAt: new Date(firstAt.getTime() - 5 * 60 * MINUTE),
        endsAt: new Date(firstAt.getTime() - 4 * 60 * MINUTE),
        reason: 'lens cleaning',
        recordedBy: 'person:operator',
      }),
    );

    captureIds = [await ingest(firstAt), await ingest(new Date(firstAt.getTime() + 20_000))];
    const [incident] = await database.db
      .insert(incidents)
      .values({
        subject: 'plate:粤B·D1234',
        violationType: 'speeding',
        road: 'Test Road',
        direction: 'northbound',
        firstCapturedAt: firstAt,
        lastCapturedAt: new Date(firstAt.getTime() + 20_000),
      })
      .returning();
    incidentId = incident!.id;
    await approve(captureIds[0]!, [firstReviewer]);
    await approve(captureIds[1]!, [firstReviewer, secondReviewer]);
  });

  afterEach(async () => {
    await database?.drop();
    await workDir?.remove();
  });

  it('builds a package that verifies offline, and logs the export with its reason', async () => {
    const built = await exportPackage('court hearing 2025-041');
    expect(built.fileName).toMatch(new RegExp(`^evidence-${incidentId}-\\d{8}T\\d{6}Z\\.zip$`));
    expect(built.checks.every((check) => check.status === 'passed')).toBe(true);

    const file = path.join(workDir.dir, built.fileName);
    await writeFile(file, built.bytes);
    const verified = await verifyWithSpawnedCli(file, '--trust', signingKey.fingerprint);
    expect(verified.output).toContain('VERIFIED');
    expect(verified.output).not.toContain('✗');
    expect(verified.code).toBe(0);

    const files = unzipSync(built.bytes);
    for (const captureId of captureIds) {
      expect(Object.keys(files)).toEqual(
        expect.arrayContaining([
          packagePaths.envelope(captureId),
          packagePaths.manifest(captureId),
          packagePaths.media(captureId, 'frame-1.jpg'),
          packagePaths.media(captureId, 'frame-2.jpg'),
          packagePaths.quality(captureId),
        ]),
      );
    }
    const summary = Buffer.from(files[packagePaths.summary]!).toString();
    expect(summary).toContain('plate:粤B·D1234');
    expect(summary).toContain('Officer Chen Wei');
    expect(summary).toContain(`<img src="${packagePaths.media(captureIds[0]!, 'frame-1.jpg')}"`);
    const decisions = JSON.parse(Buffer.from(files[packagePaths.decisions]!).toString()) as DecisionsFile;
    expect(decisions.decisions.map((decision) => [decision.displayName, decision.certificateNumber])).toEqual(
      expect.arrayContaining([
        ['Officer Li Na', 'ENF-2025-0042'],
        ['Officer Chen Wei', 'ENF-2025-0107'],
      ]),
    );
    const health = JSON.parse(Buffer.from(files[packagePaths.health(camera.id)]!).toString()) as {
      events: { kind: string }[];
      heartbeatsPerHour: { count: number }[];
      malfunctionWindows: { reason: string }[];
    };
    expect(health.events.map((event) => event.kind)).toEqual(['self_test']);
    expect(health.heartbeatsPerHour.reduce((sum, hour) => sum + hour.count, 0)).toBe(2);
    expect(health.malfunctionWindows.map((window) => window.reason)).toEqual(['lens cleaning']);

    const [logged] = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'evidence.exported'), eq(auditLog.subjectId, incidentId)));
    expect(logged).toMatchObject({
      actor: `person:${firstReviewer.id}`,
      subjectType: 'incident',
      details: { reason: 'court hearing 2025-041', packageSha256: sha256Hex(built.bytes), fileName: built.fileName },
    });
  });

  it.each([
    ['a media file', () => packagePaths.media(captureIds[1]!, 'frame-2.jpg')],
    ['the manifest', () => packagePaths.manifest(captureIds[0]!)],
    ['the summary', () => packagePaths.summary],
    ['index.json', () => packagePaths.index],
  ])('fails verification, naming the file, after one byte of %s changes', async (_what, fileOf) => {
    const built = await exportPackage('defence request to inspect');
    const file = fileOf();
    const tampered = await tamperedCopy(built.bytes, file, (size) => Math.floor(size / 2));
    const result = await verifyWithCli(tampered, '--trust', signingKey.fingerprint);
    expect(result.output).toContain(`✗`);
    expect(result.output).toContain(file);
    expect(result.output).toContain('NOT VERIFIED');
    expect(result.code).toBe(1);
  });

  it('carries earlier exports of the incident in its audit entries', async () => {
    const first = await exportPackage('first request');
    const second = await exportPackage('second request');
    const audit = JSON.parse(Buffer.from(unzipSync(second.bytes)[packagePaths.audit]!).toString()) as AuditEntriesFile;
    const exports = audit.entries.filter((entry) => entry.action === 'evidence.exported').map((entry) => entry.details.packageSha256);
    expect(exports).toContain(first.sha256);
    expect(exports).not.toContain(second.sha256);
    expect(
      audit.entries
        .filter((entry) => entry.action === 'capture.verified')
        .map((entry) => entry.subjectId)
        .sort(),
    ).toEqual([...captureIds].sort());
  });

  it('builds nothing for an unknown incident, or one without approved captures, and logs nothing', async () => {
    const request = { personId: firstReviewer.id, actor: `person:${firstReviewer.id}`, reason: 'check' };
    const deps = { db: database.db, store, signingKey };
    expect(await buildEvidencePackage(deps, randomUUID(), request)).toEqual({ outcome: 'not_found' });
    expect(await buildEvidencePackage(deps, 'not-an-id', request)).toEqual({ outcome: 'not_found' });
    const [empty] = await database.db
      .insert(incidents)
      .values({
        subject: 'plate:X',
        violationType: 'speeding',
        road: 'R',
        direction: 'north',
        firstCapturedAt: new Date(),
        lastCapturedAt: new Date(),
      })
      .returning();
    expect(await buildEvidencePackage(deps, empty!.id, request)).toMatchObject({ outcome: 'not_approved' });
    const logged = await database.db.select().from(auditLog).where(eq(auditLog.subjectId, empty!.id));
    expect(logged).toEqual([]);
  });
});
