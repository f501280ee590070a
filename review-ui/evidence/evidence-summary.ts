import { packagePaths, type AuditEntriesFile, type CheckResult, type DecisionsFile, type IncidentRecord } from './evidence-verifier.js';
import type { CaptureMaterial, DeviceView } from './evidence-material.js';

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
export function renderSummary(input: {
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
        [decision.reasonCode ?? decision.note, decision.lateReason ? `APPROVED AFTER THE REVIEW DEADLINE: ${decision.lateReason}` : null]
          .filter((part) => part)
          .join(' · ') || null,
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
