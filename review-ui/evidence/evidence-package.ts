import { and, asc, count, eq, gt, gte, inArray, isNull, lt, lte, ne, or, sql } from 'drizzle-orm';
import { createPublicKey } from 'node:crypto';
import { readEnvelope, signatureVerifies } from '../../core/domain/capture-verifier.js';
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
import { describeDifferences, mediaDifferences, signedEvidenceOf } from '../../core/domain/signed-evidence.js';
import type { ServerSigningKey } from '../../core/infrastructure/signing-key.js';
import { appendAudit } from '../../db/audit-log.js';
import { renderSummary } from './evidence-summary.js';
import type { CaptureMaterial, CaptureRow, DeviceView, KeyRow } from './evidence-material.js';
import type { Db, Tx } from '../../db/client.js';
import {
  auditLog,
  captureMedia,
  captures,
  deviceCertifications,
  deviceHealthEvents,
  deviceKeys,
  devices,
  incidents,
  malfunctionWindows,
  media,
  mediaQuality,
  people,
  reviewDecisions,
  tamperingFindings,
} from '../../db/schema.js';

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
  | { outcome: 'not_intact'; detail: string };

/** Health is shown for this long either side of the captures: enough to see the device working before and after. */
const HEALTH_MARGIN_MS = 24 * 3600 * 1000;
const HEARTBEAT_BUCKET_SECONDS = sql.raw('3600');
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
    const [incident] = await tx.select().from(incidents).where(eq(incidents.id, incidentId));
    if (!incident) return { outcome: 'not_found' };
    const rows = await tx
      .select()
      .from(captures)
      .where(eq(captures.incidentId, incidentId))
      .orderBy(asc(captures.capturedAt), asc(captures.id));
    if (rows.length === 0) return { outcome: 'not_approved', detail: 'the incident holds no captures' };
    const unapproved = rows.filter((row) => row.state !== 'approved');
    if (unapproved.length > 0) {
      return { outcome: 'not_approved', detail: unapproved.map((row) => `capture ${row.id} is ${row.state}`).join('; ') };
    }
    const [person] = await tx.select().from(people).where(eq(people.id, request.personId));
    if (!person) throw new Error(`no person ${request.personId} to export as`);

    const createdAt = new Date();
    const material: CaptureMaterial[] = [];
    for (const row of rows) material.push(await captureMaterial(tx, row as CaptureRow));
    const damaged = await Promise.all(material.map((capture) => integrityProblems(deps.store, capture)));
    const problems = damaged.flatMap((found, index) =>
      found.length > 0 ? [`capture ${material[index]!.row.id}: ${found.join('; ')}`] : [],
    );
    if (problems.length > 0) return { outcome: 'not_intact', detail: problems.join(' | ') };
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

/** What makes a capture's stored record differ from what its device signed; empty when it agrees. */
async function integrityProblems(store: MediaStore, capture: CaptureMaterial): Promise<string[]> {
  const signed = signedEvidenceOf(capture.row);
  const differences = signed.readable ? [...signed.differences, ...mediaDifferences(signed.manifest, capture.media)] : [];
  const reads = await Promise.all(capture.media.map((item) => readVerified(store, item.sha256)));
  return [
    ...(differences.length > 0 ? [`the database differs from what the device signed: ${describeDifferences(differences)}`] : []),
    ...reads.flatMap((read) => (read.ok ? [] : [read.problem])),
  ];
}

async function captureMaterial(tx: Tx, row: CaptureRow): Promise<CaptureMaterial> {
  const reading = readEnvelope(row.rawMessage);
  // Only verified captures can be approved, so this means the stored row itself was damaged.
  if (!reading.ok) throw new Error(`capture ${row.id}: its stored envelope cannot be read`);
  const items = await tx
    .select({ name: captureMedia.name, sha256: media.sha256, sizeBytes: media.sizeBytes, contentType: media.contentType })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .where(eq(captureMedia.captureId, row.id))
    .orderBy(asc(captureMedia.name));
  const quality =
    items.length === 0
      ? []
      : await tx
          .select()
          .from(mediaQuality)
          .where(
            inArray(
              mediaQuality.sha256,
              items.map((item) => item.sha256),
            ),
          );
  const keys = await tx.select().from(deviceKeys).where(eq(deviceKeys.deviceId, row.deviceId)).orderBy(asc(deviceKeys.validFrom));
  const validAt = (at: Date) => (key: KeyRow) => key.validFrom <= at && (key.validTo === null || at < key.validTo);
  // The key valid at capture time, unless the device rotated between capture and receipt: then
  // the key valid at receipt, which the gateway verified with. The signature decides which.
  const candidates = [...keys.filter(validAt(row.capturedAt)), ...keys.filter(validAt(row.receivedAt))];
  const key =
    candidates.find((candidate) => signatureVerifies(reading.manifestBytes, reading.signature, createPublicKey(candidate.publicKeyPem))) ??
    candidates[0];
  if (!key) throw new Error(`capture ${row.id}: no key of device ${row.deviceId} was valid when it was captured or received`);
  return { row, manifest: reading.manifest, manifestBytes: reading.manifestBytes, key, media: items, quality };
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
  const [device] = await tx.select().from(devices).where(eq(devices.id, deviceId));
  if (!device) throw new Error(`capture of unknown device ${deviceId}`);
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

  const all = await tx
    .select()
    .from(deviceCertifications)
    .where(eq(deviceCertifications.deviceId, deviceId))
    .orderBy(asc(deviceCertifications.validFrom));
  const certifications = all
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

  const ofDevice = eq(deviceHealthEvents.deviceId, deviceId);
  const inPeriod = and(gte(deviceHealthEvents.reportedAt, period.from), lte(deviceHealthEvents.reportedAt, period.to));
  // Inlined, not bound: GROUP BY must see the very expression the SELECT list has.
  const hour = sql<Date>`to_timestamp(floor(extract(epoch from ${deviceHealthEvents.reportedAt}) / ${HEARTBEAT_BUCKET_SECONDS}) * ${HEARTBEAT_BUCKET_SECONDS})`;
  const events = await tx
    .select()
    .from(deviceHealthEvents)
    .where(and(ofDevice, inPeriod, ne(deviceHealthEvents.kind, 'heartbeat')))
    .orderBy(asc(deviceHealthEvents.reportedAt), asc(deviceHealthEvents.id));
  // Heartbeats come every few seconds: their count per hour shows the device was alive.
  const heartbeats = await tx
    .select({ hour, count: count() })
    .from(deviceHealthEvents)
    .where(and(ofDevice, inPeriod, eq(deviceHealthEvents.kind, 'heartbeat')))
    .groupBy(hour)
    .orderBy(hour);
  const windows = await tx
    .select()
    .from(malfunctionWindows)
    .where(
      and(
        eq(malfunctionWindows.deviceId, deviceId),
        lt(malfunctionWindows.startsAt, period.to),
        or(isNull(malfunctionWindows.endsAt), gt(malfunctionWindows.endsAt, period.from)),
      ),
    )
    .orderBy(asc(malfunctionWindows.startsAt));
  // The one lawful way a capture inside a malfunction window stays evidence (law L4): it must travel with the window.
  const findings = await tx
    .select()
    .from(tamperingFindings)
    .where(
      inArray(
        tamperingFindings.captureId,
        own.map(({ row }) => row.id),
      ),
    )
    .orderBy(asc(tamperingFindings.recordedAt));
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
  const rows = await tx
    .select({ decision: reviewDecisions, displayName: people.displayName })
    .from(reviewDecisions)
    .innerJoin(people, eq(people.id, reviewDecisions.personId))
    .where(inArray(reviewDecisions.captureId, captureIds))
    .orderBy(asc(reviewDecisions.decidedAt), asc(reviewDecisions.id));
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
  const rows = await tx
    .select()
    .from(auditLog)
    .where(
      or(
        and(eq(auditLog.subjectType, 'incident'), eq(auditLog.subjectId, scope.incidentId)),
        and(eq(auditLog.subjectType, 'capture'), inArray(auditLog.subjectId, scope.captureIds)),
        and(
          eq(auditLog.subjectType, 'device'),
          inArray(auditLog.subjectId, scope.deviceIds),
          gte(auditLog.recordedAt, scope.period.from),
          lte(auditLog.recordedAt, scope.period.to),
        ),
      ),
    )
    .orderBy(asc(auditLog.seq));
  return {
    entries: rows.map((row) => ({ ...row, recordedAt: row.recordedAt.toISOString(), details: row.details as Record<string, unknown> })),
  };
}
