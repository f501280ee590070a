// Everything beside the pictures a reviewer weighs: the manifest, the device's certification and
// health at the moment of capture, integrity re-checked by the server, quality, and history.
import { element, words } from './dom.js';
import { bytes, deadlineClock, keyWords, moment, relativeTo, verdict } from './review-format.js';

const facts = document.getElementById('facts');
const heading = document.getElementById('capture-heading');
const deadline = document.getElementById('deadline');
const twoPerson = document.getElementById('two-person');

/** Readings with a better label than their key, and the unit to show after the value. */
const READINGS = {
  plate: { label: 'Plate' },
  speedKmh: { label: 'Speed', unit: 'km/h' },
  limitKmh: { label: 'Speed limit', unit: 'km/h' },
  lane: { label: 'Lane' },
  signalPhase: { label: 'Signal phase' },
  redForMs: { label: 'Red for', unit: 'ms' },
  noiseDb: { label: 'Noise', unit: 'dB(A)' },
};

function panel(title, ...content) {
  const id = `facts-${title.toLowerCase().replaceAll(/[^a-z]+/g, '-')}`;
  // Focusable by script (the I key), so the keyboard reaches what lies below the fold and scrolls from there.
  return element(
    'section',
    { class: 'panel facts-panel', 'aria-labelledby': id, tabindex: '-1' },
    element('h3', { id }, title),
    ...content,
  );
}

function table(rows, caption) {
  return element(
    'table',
    { class: 'facts-table' },
    ...(caption ? [element('caption', { class: 'muted' }, caption)] : []),
    element(
      'tbody',
      {},
      ...rows.map(([label, ...cells]) =>
        element('tr', {}, element('th', { scope: 'row' }, label), ...cells.map((cell) => element('td', {}, cell))),
      ),
    ),
  );
}

function scalar(value) {
  if (value === null || value === undefined) return element('span', { class: 'muted' }, 'none');
  if (typeof value === 'object') return element('code', {}, JSON.stringify(value));
  return String(value);
}

function readingRows(readings) {
  const rows = Object.entries(readings ?? {}).map(([key, value]) => {
    const known = READINGS[key];
    const shown = known?.unit ? `${value} ${known.unit}` : scalar(value);
    return [known?.label ?? keyWords(key), key === 'plate' ? element('strong', { class: 'plate' }, String(value)) : shown];
  });
  const { speedKmh, limitKmh } = readings ?? {};
  if (typeof speedKmh === 'number' && typeof limitKmh === 'number' && limitKmh > 0) {
    const over = Math.round(((speedKmh - limitKmh) / limitKmh) * 100);
    rows.push(['Over the limit', over > 0 ? element('strong', { class: 'bad' }, `${speedKmh - limitKmh} km/h (${over} %)`) : 'no']);
  }
  return rows;
}

function manifestPanel(detail) {
  const manifest = detail.capture.manifest ?? {};
  const { readings, media, location, ...rest } = manifest;
  const known = ['protocol', 'captureId', 'deviceId', 'capturedAt', 'clockOffsetMs', 'violationType'];
  const rows = [
    ['Violation', words(detail.capture.violationType ?? 'unspecified')],
    ['Captured', moment(detail.capture.capturedAt)],
    [
      'Received',
      element(
        'span',
        {},
        moment(detail.capture.receivedAt),
        ' ',
        element('small', { class: 'muted' }, relativeTo(detail.capture.receivedAt, detail.capture.capturedAt, 'capture')),
      ),
    ],
    ['Device capture id', element('code', {}, detail.capture.deviceCaptureId ?? '')],
    ['Device', element('code', {}, manifest.deviceId ?? detail.device.id)],
    ['Location', location ? `${location.latitude}, ${location.longitude}` : scalar(null)],
    ['Clock offset', manifest.clockOffsetMs === undefined ? scalar(null) : `${manifest.clockOffsetMs} ms`],
    ['Protocol', scalar(manifest.protocol)],
    ...Object.entries(rest)
      .filter(([key]) => !known.includes(key))
      .map(([key, value]) => [keyWords(key), scalar(value)]),
    ['Review round', String(detail.capture.reviewRound)],
    ...(detail.capture.incidentId ? [['Incident', element('code', {}, detail.capture.incidentId)]] : []),
  ];
  const mediaRows = (media ?? []).map((item) => [
    item.name,
    `${item.contentType}, ${bytes(item.sizeBytes)}`,
    element('span', { class: 'muted' }, relativeTo(item.capturedAt, detail.capture.capturedAt, 'capture')),
  ]);
  return panel(
    'Manifest',
    table(readingRows(readings), 'Readings, as the device signed them'),
    table(rows),
    mediaRows.length > 0 ? table(mediaRows, 'Files the device signed') : '',
  );
}

function integrityPanel(detail) {
  const { signature, media, intact, record, problems } = detail.integrity;
  return panel(
    'Integrity',
    element('p', {}, verdict(intact, 'intact: what you see is what the device signed', 'NOT intact: do not rely on this capture')),
    problems.length > 0 ? element('ul', { class: 'integrity-problems' }, ...problems.map((problem) => element('li', {}, problem))) : '',
    table([
      [
        'Stored record',
        verdict(record.matchesSigned, 'matches signed bytes', 'differs from signed bytes'),
        record.differences.map((difference) => difference.field).join(', '),
      ],
      [
        'Signature',
        verdict(signature.valid, 'valid', 'invalid'),
        signature.keyFingerprint
          ? element('code', { class: 'hash', title: signature.keyFingerprint }, signature.keyFingerprint.slice(0, 16))
          : scalar(null),
      ],
      ...media.map((hash) => [
        hash.name,
        verdict(hash.matches, 'hash matches', hash.actual ? 'hash differs' : 'file missing'),
        element('code', { class: 'hash', title: hash.expected }, hash.expected.slice(0, 16)),
      ]),
    ]),
  );
}

function devicePanel(detail) {
  const { device, certification } = detail;
  return panel(
    'Device and certification at capture',
    table([
      ['Device', element('code', {}, device.id)],
      ['Model', `${device.model} (serial ${device.serial})`],
      ['Agency', device.agency],
      ['Where', `${device.road}, ${device.direction}`],
      ['Status now', element('span', { class: `badge ${device.status}` }, device.status)],
    ]),
    element(
      'p',
      {},
      verdict(certification.certifiedAtCapture, 'certified at the moment of capture', 'NOT certified at the moment of capture'),
    ),
    certification.gaps.length > 0
      ? element(
          'ul',
          { class: 'reasons-list bad' },
          ...certification.gaps.map((gap) => element('li', {}, `${words(gap.kind)}: ${words(gap.problem)}`)),
        )
      : '',
    table(
      certification.records.map((record) => [
        words(record.kind),
        verdict(record.coversCapture, 'covers capture', 'does not cover capture'),
        element(
          'span',
          {},
          element('code', {}, record.reference),
          ' ',
          element(
            'small',
            { class: 'muted' },
            `${new Date(record.validFrom).toLocaleDateString()} – ${new Date(record.validTo).toLocaleDateString()}`,
          ),
        ),
      ]),
    ),
  );
}

function healthPanel(detail) {
  const { health, capture } = detail;
  const covering = health.windows.filter((window) => window.coversCapture);
  return panel(
    'Health at capture',
    element(
      'p',
      {},
      verdict(
        covering.length === 0,
        'no malfunction window covers the capture',
        `${covering.length} malfunction window${covering.length === 1 ? '' : 's'} cover${covering.length === 1 ? 's' : ''} the capture`,
      ),
    ),
    table([
      ['Clock offset', health.clockOffsetMs === null ? scalar(null) : `${health.clockOffsetMs} ms`],
      [
        'Last heartbeat',
        health.lastHeartbeatBefore
          ? relativeTo(health.lastHeartbeatBefore, capture.capturedAt, 'capture')
          : element('span', { class: 'bad' }, 'none in the 24 h before capture'),
      ],
    ]),
    health.windows.length > 0
      ? table(
          health.windows.map((window) => [
            words(window.source),
            window.withdrawn
              ? element('span', { class: 'muted' }, 'withdrawn')
              : verdict(!window.coversCapture, 'does not cover capture', 'covers capture'),
            element(
              'span',
              {},
              `${relativeTo(window.startsAt, capture.capturedAt, 'capture')} → ${window.endsAt ? relativeTo(window.endsAt, capture.capturedAt, 'capture') : 'still open'}`,
              element('br'),
              element('small', { class: 'muted' }, window.reason),
            ),
          ]),
          'Malfunction windows within a day of capture',
        )
      : element('p', { class: 'muted' }, 'No malfunction windows within a day of capture.'),
    health.reportsBefore.length > 0
      ? table(
          health.reportsBefore.map((report) => [
            words(report.kind),
            relativeTo(report.reportedAt, capture.capturedAt, 'capture'),
            element('code', {}, JSON.stringify(report.payload ?? {}).slice(0, 80)),
          ]),
          'Device reports in the 24 h before capture',
        )
      : '',
  );
}

function qualityPanel(detail) {
  return panel(
    'Quality',
    table(
      detail.media.map((item) => {
        const measured = item.width !== null || item.flags.length > 0;
        const measures = [
          item.width && item.height ? `${item.width}×${item.height}` : undefined,
          item.sharpness !== null && item.sharpness !== undefined ? `sharpness ${item.sharpness.toFixed(1)}` : undefined,
          item.meanLuminance !== null && item.meanLuminance !== undefined ? `luminance ${Math.round(item.meanLuminance)}` : undefined,
          item.durationSeconds ? `${item.durationSeconds.toFixed(1)} s` : undefined,
        ].filter(Boolean);
        return [
          item.name,
          item.flags.length > 0
            ? element('span', {}, ...item.flags.map((flag) => element('span', { class: 'badge flag' }, words(flag))))
            : measured
              ? element('span', { class: 'ok' }, '✓ no flags')
              : element('span', { class: 'muted' }, 'not measured yet'),
          element('small', { class: 'muted' }, measures.join(' · ')),
        ];
      }),
    ),
  );
}

function historyPanel(detail) {
  const entries = [
    ...detail.decisions.map((decision) => ({
      at: decision.decidedAt,
      text: `${decision.by} (${decision.certificateNumber}): ${words(decision.outcome)}, ${decision.step} step, round ${decision.round}${decision.reasonCode ? ` — ${words(decision.reasonCode)}` : ''}${decision.note ? ` — “${decision.note}”` : ''}`,
    })),
    ...detail.annotations.map((annotation) => ({
      at: annotation.at,
      text: `${annotation.by}, pre-screen: ${words(annotation.kind)} — “${annotation.note}”`,
    })),
  ].sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
  return panel(
    'Decisions and notes so far',
    entries.length > 0
      ? element('ol', { class: 'history' }, ...entries.map((entry) => element('li', {}, moment(entry.at), element('br'), entry.text)))
      : element('p', { class: 'muted' }, 'None yet.'),
  );
}

function earlierPanel(detail) {
  return panel(
    'Earlier captures of the same subject',
    detail.earlierCaptures.length > 0
      ? element(
          'ul',
          { class: 'earlier' },
          ...detail.earlierCaptures.map((capture) =>
            element(
              'li',
              {},
              element('a', { href: `/review.html?capture=${capture.id}`, target: '_blank', rel: 'noopener' }, moment(capture.capturedAt)),
              ` ${words(capture.violationType ?? 'unspecified')} · `,
              element('code', {}, capture.deviceId),
              ' · ',
              element('span', { class: `state ${capture.state}` }, words(capture.state)),
            ),
          ),
        )
      : element('p', { class: 'muted' }, 'None on record.'),
  );
}

/** Who takes which step under the two-person rule, in the words the reviewer needs now. */
function twoPersonText(detail, me) {
  const { capture, decisions } = detail;
  if (capture.state === 'escalated') return 'Escalated: a legal reviewer decides.';
  if (!capture.twoPersonRule) return 'One approval decides.';
  const first = decisions.find(
    (decision) => decision.round === capture.reviewRound && decision.step === 'first' && decision.outcome === 'approved',
  );
  if (capture.state === 'awaiting_second_review' && first) {
    return first.by === me.displayName
      ? `You gave the first approval: a second reviewer must confirm.`
      : `First approval by ${first.by} — you confirm.`;
  }
  return 'Two-person rule: needs a second reviewer after your approval.';
}

/**
 * Moves the keyboard to the next section of the facts column (the previous one when `back`),
 * scrolled into view; from there PageDown, Space and the arrows scroll the column.
 */
export function focusFactsSection(back = false) {
  const sections = [...facts.querySelectorAll(':scope > section')];
  if (sections.length === 0) return void facts.focus();
  const current = sections.findIndex((section) => section.contains(document.activeElement));
  const next = current < 0 ? (back ? sections.length - 1 : 0) : (current + (back ? -1 : 1) + sections.length) % sections.length;
  sections[next].focus({ preventScroll: true });
  sections[next].scrollIntoView({ block: 'nearest' });
}

/** Refreshes the deadline clock, which keeps running while the capture is open. */
export function tickDeadline(detail) {
  if (!detail) return void (deadline.textContent = '');
  const clock = deadlineClock(detail.capture.deadline);
  deadline.textContent = clock.text;
  deadline.className = `deadline${clock.overdue ? ' overdue' : clock.urgent ? ' urgent' : ''}`;
  deadline.title = `review by ${new Date(detail.capture.deadline).toLocaleString()} (statutory limit)`;
}

/** Fills the heading and the facts column for one capture, or empties them. */
export function showFacts(detail, me) {
  if (!detail) {
    heading.textContent = 'No capture open';
    twoPerson.textContent = '';
    twoPerson.className = 'two-person';
    tickDeadline(undefined);
    facts.replaceChildren();
    return;
  }
  const { capture, device } = detail;
  const plate = capture.manifest?.readings?.plate;
  heading.replaceChildren(
    `${words(capture.violationType ?? 'capture')}${plate ? ` · ${plate}` : ''}`,
    element('small', { class: 'muted' }, ` ${device.road}, ${device.direction} · ${moment(capture.capturedAt).textContent}`),
  );
  twoPerson.textContent = twoPersonText(detail, me);
  twoPerson.className = `two-person${capture.twoPersonRule || capture.state !== 'awaiting_review' ? ' notable' : ''}`;
  tickDeadline(detail);
  facts.replaceChildren(
    integrityPanel(detail),
    manifestPanel(detail),
    devicePanel(detail),
    healthPanel(detail),
    qualityPanel(detail),
    historyPanel(detail),
    earlierPanel(detail),
  );
}
