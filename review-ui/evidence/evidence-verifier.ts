import { createPublicKey } from 'node:crypto';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { z } from 'zod';
import { auditHash } from '../../core/domain/audit-hash.js';
import { readEnvelope, signatureVerifies } from '../../core/domain/capture-verifier.js';
import { CERTIFICATION_KINDS, certificationGapsAt } from '../../core/domain/certification.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';
import type { Manifest } from '../../core/domain/protocol.js';
import { publicKeyFingerprint, signBytes, verifyBytes, type ServerSigningKey } from '../../core/infrastructure/signing-key.js';

/**
 * An evidence package (docs/evidence-package.md): its layout, the shape of its JSON files, how
 * it is sealed and how it is verified, in one module so the exporter writes exactly what the
 * verifier reads. Nothing here touches a database or the network.
 */
export const PACKAGE_FORMAT = 'verity-evidence-package/1';

export const packagePaths = {
  index: 'index.json',
  indexSignature: 'index.sig',
  serverKey: 'server-public-key.pem',
  summary: 'summary.html',
  incident: 'incident.json',
  decisions: 'decisions.json',
  audit: 'audit/entries.json',
  capture: (captureId: string) => `captures/${captureId}/capture.json`,
  envelope: (captureId: string) => `captures/${captureId}/envelope.json`,
  manifest: (captureId: string) => `captures/${captureId}/manifest.json`,
  media: (captureId: string, name: string) => `captures/${captureId}/media/${name}`,
  quality: (captureId: string) => `captures/${captureId}/quality.json`,
  device: (deviceId: string) => `devices/${deviceId}/device.json`,
  // Keyed by fingerprint: captures of one incident may straddle a key rotation.
  deviceKey: (deviceId: string, fingerprint: string) => `devices/${deviceId}/keys/${fingerprint}.pem`,
  certifications: (deviceId: string) => `devices/${deviceId}/certifications.json`,
  health: (deviceId: string) => `devices/${deviceId}/health.json`,
};

/** Files the index cannot list: itself, and the signature over it. */
const UNINDEXED = new Set([packagePaths.index, packagePaths.indexSignature]);

const sha256Hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');
const isoTime = z.iso.datetime({ offset: true });

export const packageIndexSchema = z.object({
  format: z.literal(PACKAGE_FORMAT),
  incidentId: z.string().min(1),
  createdAt: isoTime,
  exportedBy: z.object({ personId: z.string(), actor: z.string(), displayName: z.string() }),
  reason: z.string().min(1),
  serverKeyFingerprint: sha256Hex64,
  files: z.array(z.object({ path: z.string().min(1), sha256: sha256Hex64, sizeBytes: z.number().int().nonnegative() })),
});
export type PackageIndex = z.infer<typeof packageIndexSchema>;

export const incidentRecordSchema = z.object({
  id: z.string().min(1),
  subject: z.string(),
  violationType: z.string(),
  road: z.string(),
  direction: z.string(),
  firstCapturedAt: isoTime,
  lastCapturedAt: isoTime,
  createdAt: isoTime,
  captureIds: z.array(z.string().min(1)),
});
export type IncidentRecord = z.infer<typeof incidentRecordSchema>;

/** What the database knew about a capture at export; the signed manifest is the device's own account. */
export const captureRecordSchema = z.object({
  id: z.string().min(1),
  incidentId: z.string().min(1),
  deviceId: z.string().min(1),
  deviceCaptureId: z.string().min(1),
  state: z.string(),
  reviewRound: z.number().int().nonnegative(),
  capturedAt: isoTime,
  receivedAt: isoTime,
  deviceKeyPath: z.string().min(1),
  deviceKeyFingerprint: sha256Hex64,
});
export type CaptureRecord = z.infer<typeof captureRecordSchema>;

export const certificationsFileSchema = z.object({
  deviceId: z.string(),
  certifications: z.array(
    z.object({
      kind: z.enum(CERTIFICATION_KINDS),
      reference: z.string(),
      validFrom: isoTime,
      validTo: isoTime,
      documentSha256: z.string().nullable(),
      recordedAt: isoTime,
      /** Who recorded it and who confirmed a back-dated record; absent in packages made before they were kept. */
      recordedBy: z.string().nullable().optional(),
      confirmedBy: z.string().nullable().optional(),
      confirmedAt: isoTime.nullable().optional(),
    }),
  ),
});
export type CertificationsFile = z.infer<typeof certificationsFileSchema>;

export const decisionsFileSchema = z.object({
  decisions: z.array(
    z.object({
      id: z.string(),
      captureId: z.string(),
      round: z.number().int(),
      step: z.enum(['first', 'second']),
      outcome: z.enum(['approved', 'rejected', 'escalated']),
      personId: z.string(),
      displayName: z.string(),
      certificateNumber: z.string(),
      reasonCode: z.string().nullable(),
      note: z.string().nullable(),
      /** Set on an approval given after the statutory review deadline: the reviewer's reason. Absent in packages made before it existed. */
      lateReason: z.string().nullable().optional(),
      decidedAt: isoTime,
    }),
  ),
});
export type DecisionsFile = z.infer<typeof decisionsFileSchema>;

export const auditEntriesFileSchema = z.object({
  entries: z.array(
    z.object({
      seq: z.number().int(),
      recordedAt: isoTime,
      actor: z.string(),
      action: z.string(),
      subjectType: z.string(),
      subjectId: z.string(),
      details: z.record(z.string(), z.unknown()),
      previousHash: z.string(),
      hash: z.string(),
    }),
  ),
});
export type AuditEntriesFile = z.infer<typeof auditEntriesFileSchema>;

export interface CheckResult {
  /** What the check proves when it passes, in plain words. */
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** On a pass, what was covered; on a skip, why it did not run. */
  detail: string;
  /** The first problems found, each naming the file it is in. */
  failures: string[];
  /** How many more problems were found than `failures` lists. */
  moreFailures: number;
}

export interface VerificationReport {
  ok: boolean;
  incidentId: string | undefined;
  checks: CheckResult[];
}

const FAILURES_LISTED = 10;

function outcome(name: string, problems: readonly string[], passDetail: string): CheckResult {
  return {
    name,
    status: problems.length === 0 ? 'passed' : 'failed',
    detail: problems.length === 0 ? passDetail : `${problems.length} problem${problems.length === 1 ? '' : 's'}`,
    failures: problems.slice(0, FAILURES_LISTED),
    moreFailures: Math.max(0, problems.length - FAILURES_LISTED),
  };
}

type Files = ReadonlyMap<string, Uint8Array>;

/** Encodes a package JSON file: indented, so a person can read it without tools. */
export function packageJson(value: unknown): Uint8Array {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

/** Already-compressed media gain nothing from deflate; storing them keeps export and verification fast. */
const STORED_EXTENSIONS = /\.(jpe?g|mp4)$/i;

/**
 * Adds the server key, an index of every file's SHA-256 and size, and the server's signature
 * over the index's exact bytes, and zips it all. Only the index is signed: it pins every other file.
 */
export function sealEvidencePackage(
  files: Files,
  meta: Omit<PackageIndex, 'format' | 'serverKeyFingerprint' | 'files'>,
  key: ServerSigningKey,
): Uint8Array {
  const contents = new Map(files);
  contents.set(packagePaths.serverKey, Buffer.from(key.publicKeyPem, 'utf8'));
  const index: PackageIndex = {
    format: PACKAGE_FORMAT,
    ...meta,
    serverKeyFingerprint: key.fingerprint,
    files: [...contents]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, bytes]) => ({ path, sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength })),
  };
  const indexBytes = packageJson(index);
  contents.set(packagePaths.index, indexBytes);
  contents.set(packagePaths.indexSignature, Buffer.from(`${signBytes(key, indexBytes)}\n`, 'utf8'));
  const mtime = new Date(meta.createdAt);
  const zippable: Zippable = {};
  for (const [path, bytes] of contents) zippable[path] = [bytes, { level: STORED_EXTENSIONS.test(path) ? 0 : 6, mtime }];
  return zipSync(zippable);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type Read<T> = { ok: true; value: T } | { ok: false; problem: string };

function readJson<T>(files: Files, path: string, schema: z.ZodType<T>): Read<T> {
  const bytes = files.get(path);
  if (!bytes) return { ok: false, problem: `${path} is missing` };
  let json: unknown;
  try {
    json = JSON.parse(asBuffer(bytes).toString('utf8'));
  } catch (error) {
    return { ok: false, problem: `${path} is not valid JSON (${(error as Error).message})` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `${path} is not in the expected form (${issue?.path.join('.') || 'top level'}: ${issue?.message})` };
  }
  return { ok: true, value: parsed.data };
}

/** Unzips into a path → bytes map; a name that appears twice is refused, since unzip tools disagree on which copy wins. */
function openArchive(zipBytes: Uint8Array): { ok: true; files: Map<string, Uint8Array> } | { ok: false; problem: string } {
  const names: string[] = [];
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zipBytes, {
      filter: (file) => {
        names.push(file.name);
        return true;
      },
    });
  } catch (error) {
    return { ok: false, problem: `it is not a readable ZIP archive (${(error as Error).message})` };
  }
  const duplicate = names.find((name, position) => names.indexOf(name) !== position);
  if (duplicate !== undefined) return { ok: false, problem: `the archive holds more than one entry named ${duplicate}` };
  return { ok: true, files: new Map(Object.entries(entries).filter(([name]) => !name.endsWith('/'))) };
}

function checkIndexSignature(files: Files): CheckResult {
  const name = 'index.json is signed by the server key in server-public-key.pem';
  const index = files.get(packagePaths.index);
  const signature = files.get(packagePaths.indexSignature);
  const key = files.get(packagePaths.serverKey);
  const missing = [packagePaths.index, packagePaths.indexSignature, packagePaths.serverKey].filter((path) => !files.has(path));
  if (!index || !signature || !key)
    return outcome(
      name,
      missing.map((path) => `${path} is missing`),
      '',
    );
  const text = asBuffer(signature).toString('utf8');
  // Base64 decoding skips stray characters and ignores spare bits: insist on the one exact
  // encoding, so no byte of index.sig can change unnoticed.
  const canonical = `${Buffer.from(text, 'base64').toString('base64')}\n`;
  const verifies = text === canonical && verifyBytes(asBuffer(key).toString('utf8'), index, text);
  return outcome(
    name,
    verifies ? [] : ['index.json / index.sig: the signature does not match the index bytes'],
    'Ed25519 signature verified',
  );
}

function fingerprintOf(pem: Uint8Array): string | undefined {
  try {
    return publicKeyFingerprint(asBuffer(pem).toString('utf8'));
  } catch {
    return undefined;
  }
}

function checkServerKey(files: Files, index: PackageIndex | undefined): CheckResult {
  const name = 'the server key is the one the signed index names';
  const pem = files.get(packagePaths.serverKey);
  if (!pem || !index) return outcome(name, ['server-public-key.pem or index.json cannot be read'], '');
  const fingerprint = fingerprintOf(pem);
  if (fingerprint === undefined) return outcome(name, ['server-public-key.pem is not a public key'], '');
  return outcome(
    name,
    fingerprint === index.serverKeyFingerprint
      ? []
      : [`server-public-key.pem has fingerprint ${fingerprint}, index.json names ${index.serverKeyFingerprint}`],
    `fingerprint ${fingerprint}`,
  );
}

/** Fingerprints are often written with colons or in capitals; compare the bare hex. */
function normaliseFingerprint(fingerprint: string): string {
  return fingerprint.replaceAll(':', '').trim().toLowerCase();
}

function checkTrust(files: Files, trusted: string | undefined): CheckResult {
  const name = 'the server key is the one you trust';
  const pem = files.get(packagePaths.serverKey);
  const fingerprint = pem ? fingerprintOf(pem) : undefined;
  if (trusted === undefined) {
    return {
      name,
      status: 'skipped',
      detail:
        `no trusted fingerprint given: anyone can sign a package with their own key, so compare ` +
        `${fingerprint ?? 'the key'} with the one the agency publishes (or pass --trust)`,
      failures: [],
      moreFailures: 0,
    };
  }
  const expected = normaliseFingerprint(trusted);
  return outcome(
    name,
    fingerprint === expected ? [] : [`server-public-key.pem has fingerprint ${fingerprint ?? '(unreadable)'}, you trust ${expected}`],
    `fingerprint ${expected}`,
  );
}

function checkListedFiles(files: Files, index: Read<PackageIndex>): CheckResult {
  const name = 'every file the index lists is present, with the listed size and SHA-256';
  if (!index.ok) return outcome(name, [`${index.problem}, so no file can be checked against it`], '');
  const problems: string[] = [];
  for (const listed of index.value.files) {
    const bytes = files.get(listed.path);
    if (!bytes) {
      problems.push(`${listed.path} is listed in index.json but missing`);
      continue;
    }
    const sha256 = sha256Hex(bytes);
    if (sha256 !== listed.sha256) problems.push(`${listed.path} has SHA-256 ${sha256}, index.json lists ${listed.sha256}`);
    else if (bytes.byteLength !== listed.sizeBytes)
      problems.push(`${listed.path} is ${bytes.byteLength} bytes, index.json lists ${listed.sizeBytes}`);
  }
  return outcome(name, problems, `${index.value.files.length} files`);
}

function checkNothingUnlisted(files: Files, index: Read<PackageIndex>): CheckResult {
  const name = 'the archive holds no file the index does not list';
  if (!index.ok) return outcome(name, [`${index.problem}, so it cannot say which files belong`], '');
  const listed = new Set(index.value.files.map((file) => file.path));
  const problems = [...files.keys()]
    .filter((path) => !listed.has(path) && !UNINDEXED.has(path))
    .map((path) => `${path} is not listed in index.json`);
  return outcome(name, problems, `${files.size} entries`);
}

interface CaptureMaterial {
  id: string;
  record: CaptureRecord | undefined;
  manifest: Manifest | undefined;
}

function checkCaptures(files: Files): { result: CheckResult; incident: IncidentRecord | undefined; captures: CaptureMaterial[] } {
  const name = 'every capture of the incident is present and approved';
  const incident = readJson(files, packagePaths.incident, incidentRecordSchema);
  if (!incident.ok) return { result: outcome(name, [incident.problem], ''), incident: undefined, captures: [] };
  const problems: string[] = [];
  const captureIds = new Set(incident.value.captureIds);
  if (captureIds.size === 0) problems.push('incident.json lists no captures');
  const captures: CaptureMaterial[] = [];
  for (const id of captureIds) {
    const path = packagePaths.capture(id);
    const record = readJson(files, path, captureRecordSchema);
    if (!record.ok) {
      problems.push(record.problem);
      captures.push({ id, record: undefined, manifest: undefined });
      continue;
    }
    if (record.value.id !== id) problems.push(`${path} describes capture ${record.value.id}`);
    if (record.value.incidentId !== incident.value.id) problems.push(`${path} belongs to incident ${record.value.incidentId}`);
    if (record.value.state !== 'approved') problems.push(`${path}: the capture is ${record.value.state}, not approved`);
    captures.push({ id, record: record.value, manifest: undefined });
  }
  for (const path of files.keys()) {
    const folder = /^captures\/([^/]+)\//.exec(path)?.[1];
    if (folder !== undefined && !captureIds.has(folder)) problems.push(`${path} belongs to no capture incident.json lists`);
  }
  return { result: outcome(name, problems, `${captureIds.size} captures`), incident: incident.value, captures };
}

/** Fills in each capture's manifest as the device signed it; a manifest whose signature fails is still read, so its media can be reported. */
function checkDeviceSignatures(files: Files, captures: CaptureMaterial[]): CheckResult {
  const problems: string[] = [];
  for (const capture of captures) {
    if (!capture.record) continue;
    const envelopePath = packagePaths.envelope(capture.id);
    const envelope = files.get(envelopePath);
    if (!envelope) {
      problems.push(`${envelopePath} is missing`);
      continue;
    }
    const reading = readEnvelope(asBuffer(envelope));
    if (!reading.ok) {
      problems.push(`${envelopePath} cannot be read: ${reading.reasons.map((entry) => entry.detail).join('; ')}`);
      continue;
    }
    capture.manifest = reading.manifest;
    const manifestPath = packagePaths.manifest(capture.id);
    const manifestCopy = files.get(manifestPath);
    if (!manifestCopy || !reading.manifestBytes.equals(manifestCopy)) {
      problems.push(`${manifestPath} is ${manifestCopy ? 'not byte for byte' : 'missing, so not'} the manifest signed in envelope.json`);
    }
    if (reading.manifest.deviceId !== capture.record.deviceId) {
      problems.push(`${envelopePath}: signed by device ${reading.manifest.deviceId}, capture.json says ${capture.record.deviceId}`);
    }
    if (reading.manifest.captureId !== capture.record.deviceCaptureId) {
      problems.push(
        `${envelopePath}: the signed capture id is ${reading.manifest.captureId}, capture.json says ${capture.record.deviceCaptureId}`,
      );
    }
    const keyPath = capture.record.deviceKeyPath;
    const pem = files.get(keyPath);
    if (!pem) {
      problems.push(`${keyPath}, the device key capture.json names, is missing`);
      continue;
    }
    if (fingerprintOf(pem) !== capture.record.deviceKeyFingerprint) {
      problems.push(`${keyPath} is not the key with fingerprint ${capture.record.deviceKeyFingerprint}`);
      continue;
    }
    if (!signatureVerifies(reading.manifestBytes, reading.signature, createPublicKey(asBuffer(pem)))) {
      problems.push(`${envelopePath}: the device signature does not verify with ${keyPath}`);
    }
  }
  return outcome(
    'each manifest is signed by its device, with the key valid when it captured',
    problems,
    `${captures.length} signatures verified`,
  );
}

function checkMedia(files: Files, captures: readonly CaptureMaterial[]): CheckResult {
  const problems: string[] = [];
  let checked = 0;
  for (const capture of captures) {
    if (!capture.manifest) {
      problems.push(`captures/${capture.id}: no readable signed manifest, so its media cannot be checked`);
      continue;
    }
    const named = new Set<string>();
    for (const item of capture.manifest.media) {
      const path = packagePaths.media(capture.id, item.name);
      named.add(path);
      const bytes = files.get(path);
      if (!bytes) {
        problems.push(`${path}, named in the signed manifest, is missing`);
        continue;
      }
      const sha256 = sha256Hex(bytes);
      if (sha256 !== item.sha256) problems.push(`${path} has SHA-256 ${sha256}, the signed manifest says ${item.sha256}`);
      else if (bytes.byteLength !== item.sizeBytes)
        problems.push(`${path} is ${bytes.byteLength} bytes, the signed manifest says ${item.sizeBytes}`);
      checked++;
    }
    const folder = `captures/${capture.id}/media/`;
    for (const path of files.keys()) {
      if (path.startsWith(folder) && !named.has(path)) problems.push(`${path} is not named in the signed manifest`);
    }
  }
  return outcome('every media file is the one the device signed for (SHA-256 and size)', problems, `${checked} media files`);
}

function checkCertifications(files: Files, captures: readonly CaptureMaterial[]): CheckResult {
  const problems: string[] = [];
  const byDevice = new Map<string, Read<CertificationsFile>>();
  for (const capture of captures) {
    if (!capture.record || !capture.manifest) continue;
    const { deviceId } = capture.record;
    const read = byDevice.get(deviceId) ?? readJson(files, packagePaths.certifications(deviceId), certificationsFileSchema);
    byDevice.set(deviceId, read);
    if (!read.ok) {
      problems.push(read.problem);
      continue;
    }
    const periods = read.value.certifications.map((entry) => ({
      kind: entry.kind,
      reference: entry.reference,
      validFrom: new Date(entry.validFrom),
      validTo: new Date(entry.validTo),
      // A package from before confirmations were kept says nothing about them: its records count as given.
      ...(entry.confirmedAt === undefined
        ? {}
        : { recordedAt: new Date(entry.recordedAt), confirmedAt: entry.confirmedAt ? new Date(entry.confirmedAt) : null }),
    }));
    const gaps = certificationGapsAt(periods, new Date(capture.manifest.capturedAt));
    if (gaps.length > 0) {
      problems.push(
        `${packagePaths.certifications(deviceId)} does not cover capture ${capture.id} at ${capture.manifest.capturedAt}: ` +
          gaps.map((gap) => `${gap.kind} ${gap.problem.replaceAll('_', ' ')}`).join(', '),
      );
    }
  }
  return outcome(
    'each device held every certification at the moment it captured',
    problems,
    `${CERTIFICATION_KINDS.length} kinds for ${captures.length} captures`,
  );
}

function checkAuditEntries(files: Files): CheckResult {
  const name = "every audit entry's hash recomputes, and consecutive entries link";
  const read = readJson(files, packagePaths.audit, auditEntriesFileSchema);
  if (!read.ok) return outcome(name, [read.problem], '');
  const problems: string[] = [];
  const entries = [...read.value.entries].sort((a, b) => a.seq - b.seq);
  let links = 0;
  for (const [position, entry] of entries.entries()) {
    const recomputed = auditHash(entry.previousHash, new Date(entry.recordedAt), entry);
    if (recomputed !== entry.hash) {
      problems.push(`${packagePaths.audit}: entry ${entry.seq} (${entry.action}) does not match its hash`);
    }
    const previous = entries[position - 1];
    if (previous && previous.seq + 1 === entry.seq) {
      links++;
      if (entry.previousHash !== previous.hash)
        problems.push(`${packagePaths.audit}: entry ${entry.seq} does not follow entry ${previous.seq}`);
    }
  }
  return outcome(name, problems, `${entries.length} entries, ${links} direct links`);
}

function checkApprovals(files: Files, captures: readonly CaptureMaterial[]): CheckResult {
  const name = 'a qualified person approved each capture in its current review round';
  const read = readJson(files, packagePaths.decisions, decisionsFileSchema);
  if (!read.ok) return outcome(name, [read.problem], '');
  const problems: string[] = [];
  for (const capture of captures) {
    if (!capture.record) continue;
    const round = capture.record.reviewRound;
    const current = read.value.decisions.filter((decision) => decision.captureId === capture.id && decision.round === round);
    if (!current.some((decision) => decision.outcome === 'approved')) {
      problems.push(`${packagePaths.decisions} holds no approval of capture ${capture.id} in round ${round}`);
    }
    const rejection = current.find((decision) => decision.outcome === 'rejected');
    if (rejection) problems.push(`${packagePaths.decisions}: ${rejection.displayName} rejected capture ${capture.id} in round ${round}`);
  }
  return outcome(name, problems, `${captures.length} captures`);
}

/**
 * The checks on what the package says, as opposed to whether it is intact: the exporter runs
 * them before it writes the summary, so the summary shows the same results the verifier gives.
 */
export function checkPackageContents(files: Files): CheckResult[] {
  const { result, captures } = checkCaptures(files);
  return [
    result,
    checkDeviceSignatures(files, captures),
    checkMedia(files, captures),
    checkCertifications(files, captures),
    checkApprovals(files, captures),
    checkAuditEntries(files),
  ];
}

/** Re-checks an evidence package from its bytes alone: every signature, hash and approval in it. */
export function verifyEvidencePackage(zipBytes: Uint8Array, options: { trustedServerKeyFingerprint?: string } = {}): VerificationReport {
  const archiveCheck = 'the package opens as a ZIP archive without duplicate entries';
  const archive = openArchive(zipBytes);
  if (!archive.ok) return { ok: false, incidentId: undefined, checks: [outcome(archiveCheck, [archive.problem], '')] };
  const { files } = archive;
  const index = readJson(files, packagePaths.index, packageIndexSchema);
  const checks = [
    outcome(archiveCheck, [], `${files.size} files`),
    checkIndexSignature(files),
    outcome('index.json is in the expected form', index.ok ? [] : [index.problem], PACKAGE_FORMAT),
    checkServerKey(files, index.ok ? index.value : undefined),
    checkTrust(files, options.trustedServerKeyFingerprint),
    checkListedFiles(files, index),
    checkNothingUnlisted(files, index),
    ...checkPackageContents(files),
  ];
  return {
    ok: checks.every((check) => check.status !== 'failed'),
    incidentId: index.ok ? index.value.incidentId : undefined,
    checks,
  };
}
