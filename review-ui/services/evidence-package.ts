import { and, asc, count, eq, gt, gte, inArray, isNull, lt, lte, ne, or, sql } from 'drizzle-orm';
import { createPublicKey } from 'node:crypto';
import { readEnvelope, signatureVerifies } from '../../core/capture-verifier.js';
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
} from '../../core/evidence-verifier.js';
import { sha256Hex, type MediaStore } from '../../core/media-store.js';
import type { Manifest } from '../../core/protocol.js';
import type { ServerSigningKey } from '../../core/signing-key.js';
import { appendAudit } from '../../db/audit-log.js';
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
  | { outcome: 'not_approved'; detail: string };

/** Health is shown for this long either side of the captures: enough to see the device working before and after. */
const HEALTH_MARGIN_MS = 24 * 3600 * 1000;
const HEARTBEAT_BUCKET_SECONDS = sql.raw('3600');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An approved capture: the database's accepted_capture_is_complete constraint guarantees these columns. */
type CaptureRow = typeof captures.$inferSelect & { capturedAt: Date; deviceId: string; deviceCaptureId: string };
type KeyRow = typeof deviceKeys.$inferSelect;

interface CaptureMaterial {
  row: CaptureRow;
  manifest: Manifest;
  manifestBytes: Buffer;
  key: KeyRow;
  media: { name: string; sha256: string; sizeBytes: number; contentType: string }[];
  quality: (typeof mediaQuality.$inferSelect)[];
}

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
    files.set(packagePaths.media(row.id, item.name), await store.get(stored.sha256));
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

interface DeviceView {
  id: string;
  device: typeof devices.$inferSelect;
  certifications: CertificationsFile['certifications'];
  faults: { kind: string; reportedAt: string; payload: unknown }[];
  heartbeatHours: number;
  period: { from: Date; to: Date };
  windows: (typeof malfunctionWindows.$inferSelect)[];
  findings: (typeof tamperingFindings.$inferSelect)[];
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

function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function table(headings: readonly string[], rows: readonly (readonly unknown[])[]): string {
  if (rows.length === 0) return '<p class="none">None.</p>';
  const head = headings.map((heading) => `<th>${escapeHtml(heading)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell ?? '—')}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function facts(pairs: readonly (readonly [string, unknown])[]): string {
  return `<dl>${pairs.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value ?? '—')}</dd>`).join('')}</dl>`;
}

const STYLE = `
body { font: 10.5pt/1.45 system-ui, sans-serif; color: #111; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #999; margin-top: 2rem; } h3 { margin-top: 1.5rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; } th, td { border: 1px solid #bbb; padding: 0.2rem 0.4rem; text-align: left; vertical-align: top; }
th { background: #eee; } dl { display: grid; grid-template-columns: 14rem 1fr; gap: 0.15rem 1rem; } dt { font-weight: 600; } dd { margin: 0; }
code, .hash { font-family: ui-monospace, monospace; font-size: 0.85em; word-break: break-all; }
figure { display: inline-block; width: 48%; margin: 0.5rem 1% 0.5rem 0; vertical-align: top; } figure img { width: 100%; border: 1px solid #999; }
.passed { color: #075e00; } .failed { color: #a00000; font-weight: 600; } .skipped { color: #555; }
.capture { break-inside: avoid-page; } .none { color: #555; font-style: italic; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } a { color: inherit; text-decoration: none; } }
`;

/** A page a court clerk can print: everything the JSON files hold that a person needs, with the images beside it. */
function renderSummary(input: {
  meta: { incidentId: string; createdAt: string; exportedBy: { actor: string; displayName: string }; reason: string };
  incident: IncidentRecord;
  material: readonly CaptureMaterial[];
  devices: readonly DeviceView[];
  decisions: DecisionsFile;
  audit: AuditEntriesFile;
  checks: readonly CheckResult[];
  serverKey: string;
}): string {
  const { meta, incident } = input;
  const periodHours = (period: { from: Date; to: Date }) => Math.ceil((period.to.getTime() - period.from.getTime()) / 3_600_000);
  const mark = { passed: '✓', failed: '✗', skipped: '–' } as const;
  const checks = input.checks
    .map((check) => {
      const failures = check.failures.map((failure) => `<li>${escapeHtml(failure)}</li>`).join('');
      return `<li class="${check.status}">${mark[check.status]} ${escapeHtml(check.name)}: ${escapeHtml(check.detail)}${failures ? `<ul>${failures}</ul>` : ''}</li>`;
    })
    .join('\n');
  const captureSections = input.material.map(({ row, manifest, key }, position) => {
    const figures = manifest.media
      .map((item) => {
        const path = packagePaths.media(row.id, item.name);
        const caption = `${item.name} · ${item.contentType} · ${item.sizeBytes} bytes · captured ${item.capturedAt}`;
        const flags = input.material[position]?.quality.find((entry) => entry.sha256 === item.sha256)?.flags ?? [];
        const preview = item.contentType.startsWith('image/')
          ? `<img src="${escapeHtml(path)}" alt="${escapeHtml(item.name)}">`
          : `<a href="${escapeHtml(path)}">${escapeHtml(item.name)}</a>`;
        return `<figure>${preview}<figcaption>${escapeHtml(caption)}<br>quality flags: ${escapeHtml(flags.join(', ') || 'none')}<br><span class="hash">SHA-256 ${escapeHtml(item.sha256)}</span></figcaption></figure>`;
      })
      .join('\n');
    const decisions = input.decisions.decisions
      .filter((decision) => decision.captureId === row.id)
      .map((decision) => [
        decision.round,
        decision.step,
        decision.outcome,
        decision.displayName,
        decision.certificateNumber,
        decision.reasonCode ?? decision.note,
        decision.decidedAt,
      ]);
    return `<section class="capture"><h3>Capture ${position + 1}: ${escapeHtml(manifest.capturedAt)}, device ${escapeHtml(row.deviceId)}</h3>
${facts([
  ['Capture id', row.id],
  ["Device's capture id", row.deviceCaptureId],
  ['Captured at (device clock)', manifest.capturedAt],
  ['Device clock offset', `${manifest.clockOffsetMs} ms`],
  ['Received at', row.receivedAt.toISOString()],
  ['Location', `${manifest.location.latitude}, ${manifest.location.longitude}`],
  [
    'Readings',
    Object.entries(manifest.readings)
      .map(([name, value]) => `${name} = ${String(value)}`)
      .join('; '),
  ],
  ['Signed with device key', key.fingerprint],
  ['Review round', row.reviewRound],
])}
${figures}
<h4>Review decisions</h4>
${table(['round', 'step', 'outcome', 'by', 'certificate', 'reason / note', 'decided at'], decisions)}
</section>`;
  });
  const deviceSections = input.devices.map(
    ({ device, certifications, faults, heartbeatHours, period, windows, findings }) => `<section><h3>Device ${escapeHtml(device.id)}</h3>
${facts([
  ['Kind and model', `${device.kind}, ${device.model} (serial ${device.serial})`],
  ['Operated by', device.agency],
  ['Placement', `${device.road}, ${device.direction} (${device.latitude}, ${device.longitude})`],
  ['Enrolled at', device.enrolledAt.toISOString()],
])}
<h4>Certifications valid at the capture times</h4>
${table(
  ['kind', 'reference', 'valid from', 'valid to'],
  certifications.map((entry) => [entry.kind.replaceAll('_', ' '), entry.reference, entry.validFrom, entry.validTo]),
)}
<h4>Health within 24 hours of the captures</h4>
<p>Heartbeats arrived in ${heartbeatHours} of the ${periodHours(period)} hours from ${escapeHtml(period.from.toISOString())} to ${escapeHtml(period.to.toISOString())}; the device's other reports:</p>
${table(
  ['kind', 'reported at', 'report'],
  faults.map((event) => [event.kind.replaceAll('_', ' '), event.reportedAt, JSON.stringify(event.payload)]),
)}
<p>Malfunction windows touching this period:</p>
${table(
  ['source', 'from', 'until', 'reason', 'withdrawn'],
  windows.map((window) => [
    window.source.replaceAll('_', ' '),
    window.startsAt.toISOString(),
    window.endsAt?.toISOString() ?? 'open',
    window.reason,
    window.withdrawnAt ? `${window.withdrawnAt.toISOString()} by ${window.withdrawnBy}: ${window.withdrawalReason}` : 'no',
  ]),
)}
<p>Tampering findings on these captures (the party sabotaged the device or its data; recorded by one person, confirmed by another):</p>
${table(
  ['capture', 'window', 'evidence', 'recorded by', 'confirmed by'],
  findings.map((finding) => [
    finding.captureId,
    finding.windowId,
    finding.evidence,
    `${finding.recordedBy}, ${finding.recordedAt.toISOString()}`,
    finding.confirmedBy ? `${finding.confirmedBy}, ${finding.confirmedAt?.toISOString()}` : 'not confirmed',
  ]),
)}
</section>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evidence package, incident ${escapeHtml(incident.id)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Evidence package</h1>
<p>${escapeHtml(incident.violationType.replaceAll('_', ' '))} by ${escapeHtml(incident.subject)} on ${escapeHtml(incident.road)}, ${escapeHtml(incident.direction)}</p>
<h2>Incident</h2>
${facts([
  ['Incident id', incident.id],
  ['Subject', incident.subject],
  ['Violation', incident.violationType],
  ['Stretch', `${incident.road}, ${incident.direction}`],
  ['First captured at', incident.firstCapturedAt],
  ['Last captured at', incident.lastCapturedAt],
  ['Captures', incident.captureIds.length],
])}
<h2>This export</h2>
${facts([
  ['Exported at', meta.createdAt],
  ['Exported by', `${meta.exportedBy.displayName} (${meta.exportedBy.actor})`],
  ['Stated reason', meta.reason],
  ['Server key fingerprint', input.serverKey],
])}
<h2>Integrity checks at export</h2>
<ul>
${checks}
</ul>
<p>index.json lists the SHA-256 of every file here, this page included, and index.sig is the server's signature over it. Re-check the whole package offline with
<code>npm run evidence:verify -- &lt;package.zip&gt; --trust ${escapeHtml(input.serverKey)}</code>, after confirming that fingerprint with the agency.</p>
<h2>Captures</h2>
${captureSections.join('\n')}
<h2>Devices</h2>
${deviceSections.join('\n')}
<h2>Audit trail</h2>
<p>${input.audit.entries.length} entries from the hash-chained audit log, in audit/entries.json with their hashes.</p>
${table(
  ['seq', 'recorded at', 'actor', 'action', 'subject'],
  input.audit.entries.map((entry) => [entry.seq, entry.recordedAt, entry.actor, entry.action, `${entry.subjectType} ${entry.subjectId}`]),
)}
</body>
</html>
`;
}
