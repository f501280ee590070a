import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { buildManifest, signManifest, type MediaFile } from '../../device-simulator/device-protocol.js';
import { auditHash, GENESIS_HASH } from '../../core/domain/audit-hash.js';
import { CERTIFICATION_KINDS } from '../../core/domain/certification.js';
import {
  packageJson,
  packagePaths,
  sealEvidencePackage,
  verifyEvidencePackage,
  type AuditEntriesFile,
  type CaptureRecord,
  type CertificationsFile,
  type DecisionsFile,
  type IncidentRecord,
  type VerificationReport,
} from './evidence-verifier.js';
import { publicKeyFingerprint, type ServerSigningKey } from '../../core/infrastructure/signing-key.js';

function serverKey(): ServerSigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, fingerprint: publicKeyFingerprint(publicKeyPem) };
}

const server = serverKey();
const incidentId = '0b7e3a52-5d1c-4f7e-9a61-2f4c8d9e1a00';
const deviceId = 'cam-7';
const capturedAt = new Date('2025-03-04T08:15:00.000Z');
const device = generateKeyPairSync('ed25519');
const devicePem = device.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const deviceFingerprint = publicKeyFingerprint(devicePem);
const reviewer = { personId: '9d0c1f5e-0a4b-4c3e-8f2d-6b7a8c9d0e1f', displayName: 'Officer Wang', certificateNumber: 'ENF-001' };

interface Options {
  /** Signs the first capture with this key instead of the device's. */
  signingKey?: KeyObject;
  certificationsValidTo?: Date;
  firstCaptureDecisions?: DecisionsFile['decisions'];
  mediaBytes?: (captureIndex: number, name: string, bytes: Buffer) => Buffer;
}

/** The files an exporter would write for a two-capture incident, before sealing. */
function incidentFiles(options: Options = {}): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const captureIds = ['c0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000002'];
  const decisions: DecisionsFile['decisions'] = [];
  const entries: AuditEntriesFile['entries'] = [];
  let previousHash = GENESIS_HASH;
  captureIds.forEach((id, position) => {
    const at = new Date(capturedAt.getTime() + position * 20_000);
    const media: MediaFile[] = ['frame-1.jpg', 'frame-2.jpg'].map((name, frame) => ({
      name,
      contentType: 'image/jpeg',
      capturedAt: new Date(at.getTime() + frame * 500),
      bytes: Buffer.from(`jpeg bytes of capture ${position} ${name} `.repeat(40)),
    }));
    const manifest = buildManifest({
      deviceId,
      capturedAt: at,
      clockOffsetMs: 3,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 92, limitKmh: 60 },
      media,
      captureId: `d0000000-0000-4000-8000-00000000000${position + 1}`,
    });
    const signed = signManifest(manifest, position === 0 && options.signingKey ? options.signingKey : device.privateKey, media);
    const record: CaptureRecord = {
      id,
      incidentId,
      deviceId,
      deviceCaptureId: manifest.captureId,
      state: 'approved',
      reviewRound: 0,
      capturedAt: at.toISOString(),
      receivedAt: new Date(at.getTime() + 800).toISOString(),
      deviceKeyPath: packagePaths.deviceKey(deviceId, deviceFingerprint),
      deviceKeyFingerprint: deviceFingerprint,
    };
    files.set(packagePaths.capture(id), packageJson(record));
    files.set(packagePaths.envelope(id), signed.envelope);
    files.set(packagePaths.manifest(id), signed.manifestBytes);
    files.set(packagePaths.quality(id), packageJson({ media: [] }));
    for (const file of media) {
      files.set(packagePaths.media(id, file.name), options.mediaBytes?.(position, file.name, file.bytes) ?? file.bytes);
    }
    const ownDecisions =
      position === 0 && options.firstCaptureDecisions
        ? options.firstCaptureDecisions
        : [
            {
              id: `e0000000-0000-4000-8000-00000000000${position + 1}`,
              captureId: id,
              round: 0,
              step: 'first' as const,
              outcome: 'approved' as const,
              ...reviewer,
              reasonCode: null,
              note: null,
              decidedAt: new Date(at.getTime() + 3_600_000).toISOString(),
            },
          ];
    decisions.push(...ownDecisions);
    const event = {
      actor: 'system:ingest-gateway',
      action: 'capture.verified',
      subjectType: 'capture',
      subjectId: id,
      details: { position },
    };
    const recordedAt = new Date(at.getTime() + 900);
    const hash = auditHash(previousHash, recordedAt, event);
    entries.push({ seq: position + 1, recordedAt: recordedAt.toISOString(), previousHash, hash, ...event });
    previousHash = hash;
  });
  const incident: IncidentRecord = {
    id: incidentId,
    subject: 'plate:粤B12345',
    violationType: 'speeding',
    road: 'Shennan Avenue',
    direction: 'eastbound',
    firstCapturedAt: capturedAt.toISOString(),
    lastCapturedAt: new Date(capturedAt.getTime() + 20_000).toISOString(),
    createdAt: new Date(capturedAt.getTime() + 7_200_000).toISOString(),
    captureIds,
  };
  const certifications: CertificationsFile = {
    deviceId,
    certifications: CERTIFICATION_KINDS.map((kind) => ({
      kind,
      reference: `REF-${kind}`,
      validFrom: '2025-01-01T00:00:00.000Z',
      validTo: (options.certificationsValidTo ?? new Date('2026-01-01T00:00:00.000Z')).toISOString(),
      documentSha256: null,
      recordedAt: '2025-01-01T00:00:00.000Z',
    })),
  };
  files.set(packagePaths.incident, packageJson(incident));
  files.set(packagePaths.decisions, packageJson({ decisions }));
  files.set(packagePaths.audit, packageJson({ entries }));
  files.set(packagePaths.device(deviceId), packageJson({ id: deviceId, road: 'Shennan Avenue' }));
  files.set(packagePaths.deviceKey(deviceId, deviceFingerprint), Buffer.from(devicePem));
  files.set(packagePaths.certifications(deviceId), packageJson(certifications));
  files.set(packagePaths.health(deviceId), packageJson({ deviceId, events: [], heartbeats: [], malfunctionWindows: [] }));
  files.set(packagePaths.summary, Buffer.from('<!doctype html><title>Evidence</title><p>Incident summary</p>\n'));
  return files;
}

function seal(files: Map<string, Uint8Array>, key = server): Uint8Array {
  return sealEvidencePackage(
    files,
    {
      incidentId,
      createdAt: '2025-03-05T09:00:00.000Z',
      exportedBy: { personId: reviewer.personId, actor: `person:${reviewer.personId}`, displayName: reviewer.displayName },
      reason: 'court hearing 2025-041',
    },
    key,
  );
}

const intact = seal(incidentFiles());

/** Unzips, lets `change` edit the files, and zips again without re-signing: what a forger with a zip tool can do. */
function rezip(zip: Uint8Array, change: (files: Record<string, Uint8Array>) => void): Uint8Array {
  const files = unzipSync(zip);
  change(files);
  return zipSync(files);
}

function flipByte(zip: Uint8Array, path: string, offset: number, mask = 0x01): Uint8Array {
  return rezip(zip, (files) => {
    const bytes = Uint8Array.from(files[path]!);
    bytes[offset] = bytes[offset]! ^ mask;
    files[path] = bytes;
  });
}

function failures(report: VerificationReport): string[] {
  return report.checks.filter((check) => check.status === 'failed').flatMap((check) => check.failures);
}

function failedChecks(report: VerificationReport): string[] {
  return report.checks.filter((check) => check.status === 'failed').map((check) => check.name);
}

describe('verifyEvidencePackage', () => {
  it('passes an intact package, and says the server key was not compared with a trusted one', () => {
    const report = verifyEvidencePackage(intact);
    expect(failures(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.incidentId).toBe(incidentId);
    expect(report.checks.filter((check) => check.status === 'skipped').map((check) => check.name)).toEqual([
      'the server key is the one you trust',
    ]);
    expect(report.checks.find((check) => check.status === 'skipped')?.detail).toContain(server.fingerprint);
  });

  it('passes every check when the server key is the trusted one, however the fingerprint is written', () => {
    const colons = server.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:');
    for (const trusted of [server.fingerprint, colons]) {
      const report = verifyEvidencePackage(intact, { trustedServerKeyFingerprint: trusted });
      expect(report.checks.every((check) => check.status === 'passed')).toBe(true);
    }
  });

  it('seals the same files into the same bytes', () => {
    expect(Buffer.from(seal(incidentFiles())).equals(Buffer.from(intact))).toBe(true);
  });

  const paths = Object.keys(unzipSync(intact)).sort();

  it.each(paths)('fails, naming %s, when one byte in it changes', (path) => {
    const size = unzipSync(intact)[path]!.byteLength;
    for (const offset of [0, Math.floor(size / 2), size - 1]) {
      const report = verifyEvidencePackage(flipByte(intact, path, offset));
      expect(report.ok).toBe(false);
      expect(failures(report).some((failure) => failure.includes(path))).toBe(true);
    }
  });

  it('fails whichever byte of whichever file changes, to whatever value', () => {
    const sizes = Object.entries(unzipSync(intact)).map(([path, bytes]) => ({ path, size: bytes.byteLength }));
    fc.assert(
      fc.property(
        fc.constantFrom(...sizes),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 255 }),
        ({ path, size }, where, mask) => {
          const report = verifyEvidencePackage(flipByte(intact, path, Math.floor(where * size), mask));
          return !report.ok && failures(report).some((failure) => failure.includes(path));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('fails when a byte of a stored media file changes inside the archive itself', () => {
    const media = unzipSync(intact)[packagePaths.media('c0000000-0000-4000-8000-000000000001', 'frame-2.jpg')]!;
    const raw = Buffer.from(intact);
    const at = raw.indexOf(Buffer.from(media));
    expect(at).toBeGreaterThan(0);
    raw[at + 100] = raw[at + 100]! ^ 0x20;
    expect(failures(verifyEvidencePackage(raw)).join('\n')).toContain('captures/c0000000-0000-4000-8000-000000000001/media/frame-2.jpg');
  });

  it('fails on a file the index does not list, and on a listed file that is gone', () => {
    const added = verifyEvidencePackage(rezip(intact, (files) => (files['captures/extra.jpg'] = Uint8Array.of(1, 2, 3))));
    expect(failures(added)).toContain('captures/extra.jpg is not listed in index.json');
    const removed = verifyEvidencePackage(rezip(intact, (files) => delete files[packagePaths.summary]));
    expect(failures(removed)).toContain('summary.html is listed in index.json but missing');
  });

  it('refuses what is not a ZIP archive', () => {
    const report = verifyEvidencePackage(Buffer.from('not a zip at all'));
    expect(report.ok).toBe(false);
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]?.failures[0]).toMatch(/not a readable ZIP archive/);
  });

  it('tells a package re-sealed with another key apart only when given the trusted fingerprint', () => {
    const forged = seal(incidentFiles(), serverKey());
    expect(verifyEvidencePackage(forged).ok).toBe(true);
    const report = verifyEvidencePackage(forged, { trustedServerKeyFingerprint: server.fingerprint });
    expect(failedChecks(report)).toEqual(['the server key is the one you trust']);
  });

  it('fails a signed index whose server key is swapped for another', () => {
    const other = serverKey();
    const report = verifyEvidencePackage(rezip(intact, (files) => (files[packagePaths.serverKey] = Buffer.from(other.publicKeyPem))));
    expect(failedChecks(report)).toEqual(
      expect.arrayContaining([
        'index.json is signed by the server key in server-public-key.pem',
        'the server key is the one the signed index names',
      ]),
    );
  });
});

describe('checks on what a correctly sealed package says', () => {
  const firstCapture = 'c0000000-0000-4000-8000-000000000001';

  it('fails a medium that is not the one the device signed for, even when the index lists it', () => {
    const report = verifyEvidencePackage(
      seal(
        incidentFiles({
          mediaBytes: (capture, name, bytes) => (capture === 0 && name === 'frame-1.jpg' ? Buffer.from(bytes).fill(7, 0, 1) : bytes),
        }),
      ),
    );
    expect(failedChecks(report)).toEqual(['every media file is the one the device signed for (SHA-256 and size)']);
    expect(failures(report)[0]).toMatch(
      new RegExp(`^captures/${firstCapture}/media/frame-1.jpg has SHA-256 [0-9a-f]{64}, the signed manifest says`),
    );
  });

  it("fails a manifest signed by a key other than the device's packaged key", () => {
    const report = verifyEvidencePackage(seal(incidentFiles({ signingKey: generateKeyPairSync('ed25519').privateKey })));
    expect(failures(report)).toEqual([
      `captures/${firstCapture}/envelope.json: the device signature does not verify with ${packagePaths.deviceKey(deviceId, deviceFingerprint)}`,
    ]);
  });

  it('fails a manifest copy that differs from the signed bytes', () => {
    const files = incidentFiles();
    files.set(
      packagePaths.manifest(firstCapture),
      packageJson(JSON.parse(Buffer.from(files.get(packagePaths.manifest(firstCapture))!).toString())),
    );
    expect(failures(verifyEvidencePackage(seal(files)))).toEqual([
      `captures/${firstCapture}/manifest.json is not byte for byte the manifest signed in envelope.json`,
    ]);
  });

  it('fails a capture taken after a certification expired', () => {
    const report = verifyEvidencePackage(seal(incidentFiles({ certificationsValidTo: new Date(capturedAt.getTime() + 10_000) })));
    expect(failedChecks(report)).toEqual(['each device held every certification at the moment it captured']);
    expect(failures(report)).toHaveLength(1);
    expect(failures(report)[0]).toContain('legal_review expired');
  });

  it('fails a capture with no approval in its current round, and one a reviewer rejected', () => {
    const decision = {
      id: 'x',
      captureId: firstCapture,
      step: 'first' as const,
      ...reviewer,
      note: null,
      decidedAt: capturedAt.toISOString(),
    };
    const earlierRound = verifyEvidencePackage(
      seal(incidentFiles({ firstCaptureDecisions: [{ ...decision, round: 1, outcome: 'approved', reasonCode: null }] })),
    );
    expect(failures(earlierRound)).toEqual([`decisions.json holds no approval of capture ${firstCapture} in round 0`]);
    const rejected = verifyEvidencePackage(
      seal(
        incidentFiles({
          firstCaptureDecisions: [
            { ...decision, round: 0, outcome: 'approved', reasonCode: null },
            { ...decision, id: 'y', step: 'second', round: 0, outcome: 'rejected', reasonCode: 'unclear_record' },
          ],
        }),
      ),
    );
    expect(failures(rejected)).toEqual([`decisions.json: Officer Wang rejected capture ${firstCapture} in round 0`]);
  });

  it('fails an audit entry whose content no longer matches its hash, and a broken link', () => {
    const files = incidentFiles();
    const audit = JSON.parse(Buffer.from(files.get(packagePaths.audit)!).toString()) as AuditEntriesFile;
    audit.entries[0]!.details = { position: 5 };
    audit.entries[1]!.previousHash = 'f'.repeat(64);
    files.set(packagePaths.audit, packageJson(audit));
    expect(failures(verifyEvidencePackage(seal(files)))).toEqual([
      'audit/entries.json: entry 1 (capture.verified) does not match its hash',
      'audit/entries.json: entry 2 (capture.verified) does not match its hash',
      'audit/entries.json: entry 2 does not follow entry 1',
    ]);
  });

  it('fails a capture that is not approved or belongs elsewhere, and files of captures the incident does not list', () => {
    const files = incidentFiles();
    const record = JSON.parse(Buffer.from(files.get(packagePaths.capture(firstCapture))!).toString()) as CaptureRecord;
    files.set(packagePaths.capture(firstCapture), packageJson({ ...record, state: 'awaiting_review', incidentId: 'another' }));
    files.set('captures/stray/capture.json', packageJson(record));
    expect(failures(verifyEvidencePackage(seal(files)))).toEqual([
      `${packagePaths.capture(firstCapture)} belongs to incident another`,
      `${packagePaths.capture(firstCapture)}: the capture is awaiting_review, not approved`,
      'captures/stray/capture.json belongs to no capture incident.json lists',
    ]);
  });
});
