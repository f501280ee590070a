// Device health: what is down now, one device's last 48 hours, and the operator's window actions.
import { element, fromLocalInput, toLocalInput, words } from './dom.js';
import { mayUse, openPage, showRefusal } from './page.js';
import { api } from './session.js';

const HOURS = 48;
const HOUR_MS = 3600 * 1000;
const SVG_NS = 'http://www.w3.org/2000/svg';

const status = document.getElementById('status');
const refreshButton = document.getElementById('refresh');
const healthView = document.getElementById('health');
const fleetSummary = document.getElementById('fleet-summary');
const downTable = document.getElementById('down');
const downEmpty = document.getElementById('down-empty');
const deviceSelect = document.getElementById('device');
const deviceFacts = document.getElementById('device-facts');
const timelineFigure = document.querySelector('figure.timeline');
const timelineSvg = document.getElementById('timeline');
const timelineCaption = document.getElementById('timeline-caption');
const legend = document.getElementById('legend');
const windowsTable = document.getElementById('windows');
const windowsEmpty = document.getElementById('windows-empty');
const eventsBody = document.querySelector('#events tbody');
const reportsCount = document.getElementById('reports-count');
const recordForm = document.getElementById('record-form');
const recordStarts = document.getElementById('record-starts');
const recordEnds = document.getElementById('record-ends');
const recordReason = document.getElementById('record-reason');
const recordError = document.getElementById('record-error');
const recordSubmit = document.getElementById('record-submit');
const dialog = document.getElementById('action-dialog');
const actionForm = document.getElementById('action-form');
const actionTitle = document.getElementById('action-title');
const actionExplain = document.getElementById('action-explain');
const actionEndsField = document.getElementById('action-ends-field');
const actionEnds = document.getElementById('action-ends');
const actionReason = document.getElementById('action-reason');
const actionError = document.getElementById('action-error');
const actionSubmit = document.getElementById('action-submit');

let timeline;
let pending;

const person = await openPage();
// Reviewers and auditors read the health of the fleet; only device administrators open, close or withdraw windows.
const mayManage = mayUse(person, 'health.manage');
document.getElementById('record').hidden = !mayManage;
document.getElementById('window-actions-heading').hidden = !mayManage;

function moment(iso) {
  return element('time', { datetime: iso }, new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
}

function ago(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60_000));
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} d ago`;
}

function downSince(device) {
  const times = [...device.openWindows.map((win) => win.since), device.silentSince].filter(Boolean);
  return times.sort()[0];
}

function whyDown(device) {
  const reasons = device.openWindows.map((win) => element('li', {}, element('strong', {}, words(win.source)), `: ${win.reason}`));
  if (device.silentSince) {
    const silence = device.lastHeartbeatAt ? 'heartbeats stopped' : 'no heartbeat since it was enrolled';
    reasons.push(element('li', {}, element('strong', {}, 'silent'), `: ${silence}`));
  }
  return element('ul', { class: 'reasons-list' }, ...reasons);
}

function lastHeartbeatCell(device) {
  if (!device.lastHeartbeatAt) return element('td', { class: 'muted' }, 'never');
  return element(
    'td',
    { class: 'nowrap' },
    moment(device.lastHeartbeatAt),
    element('span', { class: 'muted' }, ` (${ago(device.lastHeartbeatAt)})`),
  );
}

/** The hotspot analysis's rate findings, e.g. "captures ×9.8 vs own history". */
function anomalyText(device) {
  return device.rateAnomalies
    .map(
      (finding) =>
        `${words(finding.metric)} ${finding.rateRatio === null ? 'rising' : `×${finding.rateRatio.toFixed(1)}`} vs ${words(finding.basis)}`,
    )
    .join('; ');
}

function renderFleet(devices) {
  const down = devices.filter((device) => device.down);
  const unusual = devices.filter((device) => device.rateAnomalies.length > 0);
  fleetSummary.textContent =
    `${down.length} of ${devices.length} device${devices.length === 1 ? '' : 's'} down.` +
    (unusual.length > 0
      ? ` Unusual capture rates (hotspot analysis): ${unusual.map((device) => `${device.id}: ${anomalyText(device)}`).join(' · ')}.`
      : '');
  downTable.tBodies[0].replaceChildren(
    ...down.map((device) => {
      const since = downSince(device);
      const show = element('button', { type: 'button', class: 'link', 'aria-label': `Show the timeline of ${device.id}` }, device.id);
      show.addEventListener('click', () => {
        deviceSelect.value = device.id;
        void loadTimeline(device.id);
        deviceSelect.focus();
      });
      return element(
        'tr',
        { 'data-device-id': device.id },
        element('th', { scope: 'row' }, show),
        element('td', { class: 'nowrap' }, moment(since), element('span', { class: 'muted' }, ` (${ago(since)})`)),
        element('td', {}, whyDown(device)),
        lastHeartbeatCell(device),
        element('td', {}, String(device.excludedLast24h)),
      );
    }),
  );
  downTable.hidden = down.length === 0;
  downEmpty.hidden = down.length > 0;

  const selected = deviceSelect.value;
  deviceSelect.replaceChildren(
    ...devices.map((device) => element('option', { value: device.id }, device.down ? `${device.id} (down)` : device.id)),
  );
  if (devices.some((device) => device.id === selected)) deviceSelect.value = selected;
}

// --- the timeline -----------------------------------------------------------------------

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

function titled(node, text) {
  node.append(svg('title', {}, text));
  return node;
}

/** Greedy lanes over each bar's drawn extent, label included, so nothing hides anything else. */
function packLanes(bars) {
  const laneEnds = [];
  return bars
    .toSorted((a, b) => a.extent[0] - b.extent[0])
    .map((bar) => {
      let lane = laneEnds.findIndex((end) => end + 4 <= bar.extent[0]);
      if (lane === -1) lane = laneEnds.push(0) - 1;
      laneEnds[lane] = bar.extent[1];
      return { ...bar, lane };
    });
}

/** Roughly 6.5 px a character at 11 px: enough to decide where a label fits. */
function textWidth(text) {
  return text.length * 6.5;
}

/** Inside the bar when it fits; otherwise beside it, on whichever side has room. */
function placeLabel(label, barX, barWidth, left, right) {
  if (textWidth(label) + 12 < barWidth) return { x: barX + 6, anchor: 'start', inside: true, extent: [barX, barX + barWidth] };
  const width = textWidth(label) + 6;
  if (barX + barWidth + width <= right) {
    return { x: barX + barWidth + 6, anchor: 'start', inside: false, extent: [barX, barX + barWidth + width] };
  }
  return { x: barX - 6, anchor: 'end', inside: false, extent: [Math.max(left, barX - width), barX + barWidth] };
}

function eventClass(event) {
  if (event.kind === 'fault_report' || event.summary.startsWith('self-test failed')) return 'bad';
  if (event.kind === 'self_test') return 'ok';
  return 'wait';
}

function drawTimeline() {
  if (!timeline) return;
  const width = Math.max(480, Math.floor(timelineFigure.clientWidth));
  const left = 96;
  const right = width - 36;
  const from = new Date(timeline.from).getTime();
  const to = new Date(timeline.asOf).getTime();
  const x = (time) => left + ((Math.min(Math.max(time, from), to) - from) / (to - from)) * (right - left);

  const bars = packLanes(
    timeline.windows
      .map((win) => ({
        win,
        start: new Date(win.startsAt).getTime(),
        end: win.endsAt ? new Date(win.endsAt).getTime() : to,
      }))
      .filter(({ start, end }) => start < to && end > from)
      .map(({ win, start, end }) => {
        const barX = x(start);
        // A ten-minute window is a few pixels wide at 48 hours: keep it visible.
        const barWidth = Math.max(4, x(end) - barX);
        const label = `${words(win.source)} · ${win.excludedCaptures} excluded${win.withdrawn ? ' · withdrawn' : ''}`;
        const placed = placeLabel(label, barX, barWidth, left, width - 4);
        return { win, barX, barWidth, label, placed, extent: placed.extent };
      }),
  );
  const lanes = Math.max(1, ...bars.map((bar) => bar.lane + 1));
  const heartbeatY = 14;
  const reportsY = 44;
  const windowsY = 66;
  const laneHeight = 26;
  const axisY = windowsY + lanes * laneHeight + 8;
  const height = axisY + 34;

  const defs = svg(
    'defs',
    {},
    svg(
      'pattern',
      { id: 'withdrawn-hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      svg('rect', { width: 2, height: 6, class: 'hatch' }),
    ),
  );
  const laneLabels = [
    ['Heartbeats', heartbeatY + 11],
    ['Reports', reportsY + 4],
    ['Windows', windowsY + 16],
  ].map(([text, y]) => svg('text', { x: 0, y, class: 'lane-label' }, text));

  const grid = [];
  const firstTick = Math.ceil(from / (6 * HOUR_MS)) * 6 * HOUR_MS;
  for (let tick = firstTick; tick <= to; tick += 6 * HOUR_MS) {
    const date = new Date(tick);
    const label =
      date.getHours() === 0 || tick === firstTick
        ? date.toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
        : date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    grid.push(
      svg('line', { x1: x(tick), x2: x(tick), y1: 4, y2: axisY, class: 'grid' }),
      svg('text', { x: x(tick), y: axisY + 16, class: 'axis-label', 'text-anchor': 'middle' }, label),
    );
  }
  grid.push(
    svg('line', { x1: left, x2: x(to), y1: axisY, y2: axisY, class: 'axis' }),
    svg('line', { x1: x(to), x2: x(to), y1: 4, y2: axisY + 4, class: 'now' }),
    svg('text', { x: x(to), y: axisY + 30, class: 'axis-label now-label', 'text-anchor': 'middle' }, 'now'),
  );

  const heartbeatTicks = timeline.heartbeats.map((bucket) => {
    const at = x(new Date(bucket.at).getTime());
    return titled(
      svg('line', { x1: at, x2: at, y1: heartbeatY, y2: heartbeatY + 14, class: 'heartbeat' }),
      `${bucket.count} heartbeat${bucket.count === 1 ? '' : 's'} from ${new Date(bucket.at).toLocaleString()}`,
    );
  });
  const reportMarks = timeline.events.map((event) =>
    titled(
      svg('circle', { cx: x(new Date(event.reportedAt).getTime()), cy: reportsY, r: 4.5, class: `report ${eventClass(event)}` }),
      `${new Date(event.reportedAt).toLocaleString()}: ${event.summary}`,
    ),
  );
  const windowBars = bars.map(({ win, barX, barWidth, label, placed, lane }) => {
    const y = windowsY + lane * laneHeight;
    const withdrawn = Boolean(win.withdrawn);
    const group = svg(
      'g',
      { class: `window source-${win.source}${withdrawn ? ' withdrawn' : ''}` },
      svg('rect', { x: barX, y, width: barWidth, height: laneHeight - 6, rx: 3, class: 'bar' }),
    );
    if (withdrawn) group.append(svg('rect', { x: barX, y, width: barWidth, height: laneHeight - 6, rx: 3, fill: 'url(#withdrawn-hatch)' }));
    group.append(
      svg(
        'text',
        { x: placed.x, y: y + 14, 'text-anchor': placed.anchor, class: placed.inside ? 'bar-label' : 'bar-label outside' },
        label,
      ),
    );
    const until = win.endsAt ? new Date(win.endsAt).toLocaleString() : 'still open';
    return titled(group, `${label}\n${new Date(win.startsAt).toLocaleString()} – ${until}\n${win.reason}`);
  });
  const quiet = (y, text) => svg('text', { x: left + 8, y, class: 'axis-label' }, text);
  const nothing = [
    ...(bars.length === 0 ? [quiet(windowsY + 16, 'no malfunction window in these 48 hours')] : []),
    ...(timeline.heartbeats.length === 0 ? [quiet(heartbeatY + 11, 'no heartbeat in these 48 hours')] : []),
    ...(timeline.events.length === 0 ? [quiet(reportsY + 4, 'no other report in these 48 hours')] : []),
  ];

  timelineSvg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  timelineSvg.setAttribute('width', width);
  timelineSvg.setAttribute('height', height);
  timelineSvg.replaceChildren(defs, ...grid, ...laneLabels, ...heartbeatTicks, ...reportMarks, ...windowBars, ...nothing);
}

function renderLegend() {
  const sources = [...new Set(timeline.windows.map((win) => win.source))];
  legend.replaceChildren(
    element('li', {}, element('span', { class: 'swatch heartbeat-swatch', 'aria-hidden': 'true' }), 'heartbeats (5-minute buckets)'),
    element(
      'li',
      {},
      element('span', { class: 'swatch report-swatch', 'aria-hidden': 'true' }),
      'device reports (red: a fault or failed self-test)',
    ),
    ...sources.map((source) =>
      element('li', {}, element('span', { class: `swatch source-${source}`, 'aria-hidden': 'true' }), `${words(source)} window`),
    ),
    ...(timeline.windows.some((win) => win.withdrawn)
      ? [element('li', {}, element('span', { class: 'swatch withdrawn-swatch', 'aria-hidden': 'true' }), 'withdrawn (false alarm)')]
      : []),
  );
}

function windowActions(win) {
  const buttons = [];
  const label = `${words(win.source)} window from ${new Date(win.startsAt).toLocaleString()}`;
  if (!win.endsAt && !win.withdrawn) buttons.push(actionButton('Close', `Close ${label}`, win, 'close'));
  if (!win.withdrawn) buttons.push(actionButton('Withdraw', `Withdraw ${label}`, win, 'withdraw'));
  if (buttons.length === 0) return element('td', { class: 'muted' }, 'none');
  return element('td', {}, element('div', { class: 'actions' }, ...buttons));
}

function actionButton(name, label, win, kind) {
  const button = element('button', { type: 'button', class: 'quiet', 'aria-label': label }, name);
  button.addEventListener('click', () => openAction(win, kind));
  return button;
}

function untilCell(win) {
  if (win.endsAt) return moment(win.endsAt);
  if (win.withdrawn) return element('span', { class: 'muted' }, 'withdrawn');
  return element('strong', { class: 'bad' }, 'open');
}

function renderWindows() {
  windowsTable.tBodies[0].replaceChildren(
    ...timeline.windows.map((win) =>
      element(
        'tr',
        { 'data-window-id': win.id, class: win.withdrawn ? 'withdrawn-row' : '' },
        element(
          'th',
          { scope: 'row' },
          element('span', { class: `swatch source-${win.source}`, 'aria-hidden': 'true' }),
          words(win.source),
        ),
        element('td', { class: 'nowrap' }, moment(win.startsAt)),
        element('td', { class: 'nowrap' }, untilCell(win)),
        element(
          'td',
          {},
          win.reason,
          ...(win.withdrawn
            ? [
                element(
                  'div',
                  { class: 'muted' },
                  'Withdrawn by ',
                  win.withdrawn.by,
                  ', ',
                  moment(win.withdrawn.at),
                  `: ${win.withdrawn.reason}`,
                ),
              ]
            : []),
        ),
        element('td', {}, win.recordedBy),
        element('td', {}, String(win.excludedCaptures)),
        ...(mayManage ? [windowActions(win)] : []),
      ),
    ),
  );
  windowsTable.hidden = timeline.windows.length === 0;
  windowsEmpty.hidden = timeline.windows.length > 0;
}

function renderEvents() {
  eventsBody.replaceChildren(
    ...timeline.events.map((event) =>
      element(
        'tr',
        {},
        element('td', { class: 'nowrap' }, moment(event.reportedAt)),
        element('td', { class: 'nowrap' }, words(event.kind)),
        element('td', {}, event.summary),
      ),
    ),
  );
  reportsCount.textContent = timeline.eventsTruncated ? `(newest ${timeline.events.length})` : `(${timeline.events.length})`;
}

function renderTimeline() {
  const { device } = timeline;
  deviceFacts.textContent = `${device.status} · last heartbeat ${device.lastHeartbeatAt ? ago(device.lastHeartbeatAt) : 'never'}`;
  const heartbeats = timeline.heartbeats.reduce((sum, bucket) => sum + bucket.count, 0);
  const excluded = timeline.windows.reduce((sum, win) => sum + win.excludedCaptures, 0);
  timelineCaption.textContent =
    `${device.id} over the last ${HOURS} hours: ${heartbeats} heartbeats, ${timeline.events.length} other reports, ` +
    `${timeline.windows.length} malfunction window${timeline.windows.length === 1 ? '' : 's'} excluding ${excluded} capture${excluded === 1 ? '' : 's'}.`;
  drawTimeline();
  renderLegend();
  renderWindows();
  renderEvents();
}

async function loadTimeline(deviceId) {
  if (!deviceId) return;
  try {
    timeline = await api(`/api/devices/${encodeURIComponent(deviceId)}/health?hours=${HOURS}`);
    renderTimeline();
  } catch (error) {
    status.textContent = `could not load ${deviceId}: ${error.message}`;
  }
}

async function load() {
  try {
    const fleet = await api('/api/fleet/health');
    healthView.hidden = false;
    refreshButton.hidden = false;
    renderFleet(fleet.devices);
    await loadTimeline(deviceSelect.value);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error.status === 403) showRefusal(error);
    else status.textContent = `could not load device health: ${error.message}`;
  }
}

// --- actions ----------------------------------------------------------------------------

function openAction(win, kind) {
  pending = { win, kind };
  const closing = kind === 'close';
  actionTitle.textContent = `${closing ? 'Close' : 'Withdraw'} the ${words(win.source)} window`;
  actionExplain.textContent = closing
    ? 'The fault is over. Captures taken after the end you give return to review; those inside stay excluded.'
    : 'A false alarm. The window stays on record but excludes nothing: every capture it excluded returns to review.';
  actionEndsField.hidden = !closing;
  actionEnds.required = closing;
  actionEnds.value = toLocalInput(new Date());
  actionSubmit.textContent = closing ? 'Close window' : 'Withdraw window';
  actionReason.value = '';
  actionError.textContent = '';
  dialog.showModal();
  (closing ? actionEnds : actionReason).focus();
}

actionForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { win, kind } = pending;
  actionSubmit.disabled = true;
  try {
    const body = { reason: actionReason.value };
    if (kind === 'close') body.endsAt = fromLocalInput(actionEnds.value);
    await api(`/api/windows/${encodeURIComponent(win.id)}/${kind}`, { method: 'POST', body });
    dialog.close();
    await load();
    status.textContent = `window ${kind === 'close' ? 'closed' : 'withdrawn'}; the device's captures are being re-screened`;
    document.querySelector(`tr[data-window-id="${CSS.escape(win.id)}"] button, tr[data-window-id="${CSS.escape(win.id)}"] th`)?.focus();
  } catch (error) {
    actionError.textContent = error.message;
  } finally {
    actionSubmit.disabled = false;
  }
});

document.getElementById('action-cancel').addEventListener('click', () => dialog.close());

recordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const deviceId = deviceSelect.value;
  const startsAt = fromLocalInput(recordStarts.value);
  const endsAt = fromLocalInput(recordEnds.value);
  if (endsAt && endsAt <= startsAt) {
    recordError.textContent = '"Until" must be after "From".';
    recordEnds.focus();
    return;
  }
  recordSubmit.disabled = true;
  recordError.textContent = '';
  try {
    await api(`/api/devices/${encodeURIComponent(deviceId)}/windows`, {
      method: 'POST',
      body: { startsAt, endsAt, reason: recordReason.value },
    });
    recordStarts.value = '';
    recordEnds.value = '';
    recordReason.value = '';
    await load();
    status.textContent = `operator window recorded for ${deviceId}; its captures are being re-screened`;
  } catch (error) {
    recordError.textContent = error.message;
  } finally {
    recordSubmit.disabled = false;
  }
});

deviceSelect.addEventListener('change', () => void loadTimeline(deviceSelect.value));
refreshButton.addEventListener('click', () => void load());

new ResizeObserver(() => drawTimeline()).observe(timelineFigure);

await load();
