import { readEnvelope } from '../../core/domain/capture-verifier.js';
import {
  checkPackageContents,
  packageJson,
  packagePaths,
  sealEvidencePackage,
  type AuditEntriesFile,
  type CaptureRecord,
  type CertificationsFile,
  type CheckResult,
  type DecisionsFile,
  type IncidentRecord,
} from './evidence-verifier.js';
import { readVerified, sha256Hex, type MediaStore } from '../../core/infrastructure/media-store.js';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { auditHash } from '../../core/domain/audit-hash.js';
import { appendAudit } from '../../db/audit-log.js';
import { deviceAtCapture } from '../../db/capture-evidence.js';
import { tamperingFindingsOf } from '../../db/tampering-findings.js';
import {
  auditOfIncident,
  capturesOfIncident,
  decisionsOnCaptures,
  findIncident,
  healthRecordOf,
  personExporting,
} from '../../db/evidence-package-reads.js';
import { renderSummary } from './evidence-summary.js';
import type { CaptureMaterial, CaptureRow, DeviceView } from './evidence-material.js';
import { evidenceNow, type EvidenceNow } from './evidence-now.js';
import type { Db, Tx } from '../../db/client.js';

export interface EvidencePackageDeps {
  db: Db;
  store: MediaStore;
  signingKey: ServerSigningKey;
}

/** Who exports and why: the law wants every export of evidence logged with its stated reason. */
export interface EvidenceExport {
  personId: string;
  /** As the audit log names people, e.g. `person:<uuid>`. */
  actor: string;
  reason: string;
}

export type EvidencePackageOutcome =
  | {
      outcome: 'built';
      fileName: string;
      bytes: Uint8Array;
      sha256: string;
      /** The content checks as the summary shows them; a failure means the stored record itself is damaged. */
      checks: CheckResult[];
    }
  | { outcome: 'not_found' }
  | { outcome: 'not_approved'; detail: string }
  /** A stored capture no longer agrees with what its device signed: no package may present it as evidence. */
  | { outcome: 'not_intact'; detail: string }
  /** Approved, intact, and yet the evidence rule says no (a window opened since, a certification record corrected). */
  | { outcome: 'not_evidence'; detail: string };

/** Health is shown for this long either side of the captures: enough to see the device working before and after. */
const HEALTH_MARGIN_MS = 24 * 3600 * 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Builds the signed evidence package of an incident (docs/evidence-package.md) and records the
 * export in the audit log in the same transaction, so no package leaves without its log entry.
 */
export async function buildEvidencePackage(
  deps: EvidencePackageDeps,
  incidentId: string,
  request: EvidenceExport,
): Promise<EvidencePackageOutcome> {
  if (request.reason.trim() === '') throw new Error('an evidence export needs a stated reason');
  if (!UUID.test(incidentId)) return { outcome: 'not_found' };
  return deps.db.transaction(async (tx) => {
    const incident = await findIncident(tx, incidentId);
    if (!incident) return { outcome: 'not_found' };
    const rows = await capturesOfIncident(tx, incidentId);
    if (rows.length === 0) return { outcome: 'not_approved', detail: 'the incident holds no captures' };
    const unapproved = rows.filter((row) => row.state !== 'approved');
    if (unapproved.length > 0) {
      return { outcome: 'not_approved', detail: unapproved.map((row) => `capture ${row.id} is ${row.state}`).join('; ') };
    }
    const person = await personExporting(tx, request.personId);
    if (!person) throw new Error(`no person ${request.personId} to export as`);

    const createdAt = new Date();
    const material: CaptureMaterial[] = [];
    const damaged: string[] = [];
    const refused: string[] = [];
    // A package presents its captures as evidence, so each must pass the one evidence rule now, not only when it was approved.
    for (const row of rows as CaptureRow[]) {
      const evidence = await evidenceNow(tx, deps.store, row);
      if (!evidence) throw new Error(`capture ${row.id} names unknown device ${row.deviceId}`);
      if (!evidence.integrity.intact) damaged.push(`capture ${row.id}: ${evidence.integrity.problems.join('; ')}`);
      else if (!evidence.eligibility.eligible) refused.push(`capture ${row.id}: ${evidence.eligibility.reasons.join('; ')}`);
      else material.push(captureMaterial(row, evidence));
    }
    if (damaged.length > 0) return { outcome: 'not_intact', detail: damaged.join(' | ') };
    if (refused.length > 0) return { outcome: 'not_evidence', detail: refused.join(' | ') };
    const files = new Map<string, Uint8Array>();
    const captureIds = material.map(({ row }) => row.id);
    const incidentRecord: IncidentRecord = {
      id: incident.id,
      subject: incident.subject,
      violationType: incident.violationType,
      road: incident.road,
      direction: incident.direction,
      firstCapturedAt: incident.firstCapturedAt.toISOString(),
      lastCapturedAt: incident.lastCapturedAt.toISOString(),
      createdAt: incident.createdAt.toISOString(),
      captureIds,
    };
    files.set(packagePaths.incident, packageJson(incidentRecord));
    for (const capture of material) await addCapture(files, deps.store, incidentId, capture);

    const moments = material.map(({ row }) => row.capturedAt.getTime());
    const period = { from: new Date(Math.min(...moments) - HEALTH_MARGIN_MS), to: new Date(Math.max(...moments) + HEALTH_MARGIN_MS) };
    const deviceViews: DeviceView[] = [];
    for (const deviceId of new Set(material.map(({ row }) => row.deviceId))) {
      const own = material.filter(({ row }) => row.deviceId === deviceId);
      deviceViews.push(await addDevice(tx, files, deviceId, own, period));
    }
    const decisions = await decisionsOf(tx, captureIds);
    files.set(packagePaths.decisions, packageJson(decisions));
    const audit = await auditEntriesOf(tx, { incidentId, captureIds, deviceIds: deviceViews.map((view) => view.id), period });
    const rewritten = audit.entries.filter((entry) => auditHash(entry.previousHash, new Date(entry.recordedAt), entry) !== entry.hash);
    // The package would carry the record's own proof of an edit: nothing leaves until the log is put right.
    if (rewritten.length > 0) {
      return {
        outcome: 'not_intact',
        detail: rewritten.map((entry) => `audit entry ${entry.seq} (${entry.action}) does not match its hash`).join(' | '),
      };
    }
    files.set(packagePaths.audit, packageJson(audit));

    const checks = checkPackageContents(files);
    const exportedBy = { personId: person.id, actor: request.actor, displayName: person.displayName };
    const meta = { incidentId, createdAt: createdAt.toISOString(), exportedBy, reason: request.reason };
    files.set(
      packagePaths.summary,
      Buffer.from(
        renderSummary({
          meta,
          incident: incidentRecord,
          material,
          devices: deviceViews,
          decisions,
          audit,
          checks,
          serverKey: deps.signingKey.fingerprint,
        }),
        'utf8',
      ),
    );
    const bytes = sealEvidencePackage(files, meta, deps.signingKey);
    const sha256 = sha256Hex(bytes);
    const fileName = `evidence-${incidentId}-${createdAt.toISOString().replace(/[-:]|\.\d+/g, '')}.zip`;
    await appendAudit(tx, {
      actor: request.actor,
      action: 'evidence.exported',
      subjectType: 'incident',
      subjectId: incidentId,
      details: {
        personId: person.id,
        reason: request.reason,
        fileName,
        packageSha256: sha256,
        serverKeyFingerprint: deps.signingKey.fingerprint,
        captureIds,
      },
    });
    return { outcome: 'built', fileName, bytes, sha256, checks };
  });
}

function captureMaterial(row: CaptureRow, evidence: EvidenceNow): CaptureMaterial {
  const reading = readEnvelope(row.rawMessage);
  // An intact capture's envelope was read a moment ago, so this means the row changed in between.
  if (!reading.ok) throw new Error(`capture ${row.id}: its stored envelope cannot be read`);
  const key = evidence.signingKey;
  if (!key) throw new Error(`capture ${row.id}: no key of device ${row.deviceId} was valid when it was captured or received`);
  return {
    row,
    manifest: reading.manifest,
    manifestBytes: reading.manifestBytes,
    key,
    media: evidence.media.map(({ name, sha256, sizeBytes, contentType }) => ({ name, sha256, sizeBytes, contentType })),
    quality: evidence.media.flatMap((medium) => (medium.quality ? [medium.quality] : [])),
  };
}

async function addCapture(files: Map<string, Uint8Array>, store: MediaStore, incidentId: string, capture: CaptureMaterial) {
  const { row, manifest, key, media: items, quality } = capture;
  const record: CaptureRecord = {
    id: row.id,
    incidentId,
    deviceId: row.deviceId,
    deviceCaptureId: row.deviceCaptureId,
    state: row.state,
    reviewRound: row.reviewRound,
    capturedAt: row.capturedAt.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    deviceKeyPath: packagePaths.deviceKey(row.deviceId, key.fingerprint),
    deviceKeyFingerprint: key.fingerprint,
  };
  files.set(packagePaths.capture(row.id), packageJson(record));
  files.set(packagePaths.envelope(row.id), row.rawMessage);
  files.set(packagePaths.manifest(row.id), capture.manifestBytes);
  // Named by the manifest, as the device named them: that is what the signature covers.
  for (const item of manifest.media) {
    const stored = items.find((candidate) => candidate.name === item.name);
    if (!stored) throw new Error(`capture ${row.id}: no stored medium named ${item.name}`);
    const read = await readVerified(store, stored.sha256);
    if (!read.ok) throw new Error(`capture ${row.id}: ${read.problem}`);
    files.set(packagePaths.media(row.id, item.name), read.bytes);
  }
  files.set(
    packagePaths.quality(row.id),
    packageJson({
      media: items.map((item) => {
        const measured = quality.find((entry) => entry.sha256 === item.sha256);
        return {
          name: item.name,
          sha256: item.sha256,
          measured: measured ? { ...measured, measuredAt: measured.measuredAt.toISOString() } : null,
        };
      }),
    }),
  );
}

async function addDevice(
  tx: Tx,
  files: Map<string, Uint8Array>,
  deviceId: string,
  own: readonly CaptureMaterial[],
  period: { from: Date; to: Date },
): Promise<DeviceView> {
  const view = await deviceAtCapture(tx, deviceId, period);
  if (!view) throw new Error(`capture of unknown device ${deviceId}`);
  const { device, windows } = view;
  const keys = new Map(own.map(({ key }) => [key.fingerprint, key]));
  for (const key of keys.values()) files.set(packagePaths.deviceKey(deviceId, key.fingerprint), Buffer.from(key.publicKeyPem, 'utf8'));
  files.set(
    packagePaths.device(deviceId),
    // Not the device's current key, which may postdate the captures: the keys they were signed with.
    packageJson({
      id: device.id,
      kind: device.kind,
      model: device.model,
      serial: device.serial,
      agency: device.agency,
      road: device.road,
      direction: device.direction,
      latitude: device.latitude,
      longitude: device.longitude,
      enrolledAt: device.enrolledAt.toISOString(),
      statusAtExport: device.status,
      keys: [...keys.values()].map((key) => ({
        fingerprint: key.fingerprint,
        path: packagePaths.deviceKey(deviceId, key.fingerprint),
        validFrom: key.validFrom.toISOString(),
        validTo: key.validTo?.toISOString() ?? null,
        reason: key.reason,
      })),
    }),
  );

  const certifications = view.certifications
    .filter((entry) => own.some(({ row }) => entry.validFrom <= row.capturedAt && row.capturedAt < entry.validTo))
    .map((entry) => ({
      kind: entry.kind,
      reference: entry.reference,
      validFrom: entry.validFrom.toISOString(),
      validTo: entry.validTo.toISOString(),
      documentSha256: entry.documentSha256,
      recordedAt: entry.recordedAt.toISOString(),
      recordedBy: entry.recordedBy,
      confirmedBy: entry.confirmedBy,
      confirmedAt: entry.confirmedAt?.toISOString() ?? null,
    }));
  files.set(packagePaths.certifications(deviceId), packageJson({ deviceId, certifications } satisfies CertificationsFile));

  const { events, heartbeats } = await healthRecordOf(tx, deviceId, period);
  // The one lawful way a capture inside a malfunction window stays evidence (law L4): it must travel with the window.
  const findings = await tamperingFindingsOf(
    tx,
    own.map(({ row }) => row.id),
  );
  const faults = events.map((event) => ({
    id: event.id,
    kind: event.kind,
    reportedAt: event.reportedAt.toISOString(),
    receivedAt: event.receivedAt.toISOString(),
    payload: event.payload,
  }));
  files.set(
    packagePaths.health(deviceId),
    packageJson({
      deviceId,
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      events: faults,
      heartbeatsPerHour: heartbeats.map((row) => ({ hour: new Date(row.hour).toISOString(), count: row.count })),
      malfunctionWindows: windows,
      tamperingFindings: findings,
    }),
  );
  return { id: deviceId, device, certifications, faults, heartbeatHours: heartbeats.length, period, windows, findings };
}

async function decisionsOf(tx: Tx, captureIds: string[]): Promise<DecisionsFile> {
  const rows = await decisionsOnCaptures(tx, captureIds);
  return {
    decisions: rows.map(({ decision, displayName }) => ({
      id: decision.id,
      captureId: decision.captureId,
      round: decision.round,
      step: decision.step,
      outcome: decision.outcome,
      personId: decision.personId,
      displayName,
      certificateNumber: decision.certificateNumber,
      reasonCode: decision.reasonCode,
      note: decision.note,
      lateReason: decision.lateReason,
      decidedAt: decision.decidedAt.toISOString(),
    })),
  };
}

/** The incident's and captures' whole history, and what was recorded about the devices over the health period. */
async function auditEntriesOf(
  tx: Tx,
  scope: { incidentId: string; captureIds: string[]; deviceIds: string[]; period: { from: Date; to: Date } },
): Promise<AuditEntriesFile> {
  const rows = await auditOfIncident(tx, scope);
  return {
    entries: rows.map((row) => ({ ...row, recordedAt: row.recordedAt.toISOString(), details: row.details as Record<string, unknown> })),
  };
}
