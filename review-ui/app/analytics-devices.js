// The device anomaly report: each flagged device with what departed (capture rate or exclusion
// share, against its own history or its peers) and a chart of its daily series.
import { element, words } from './dom.js';
import { drawDeviceSeries } from './analytics-charts.js';
import { api } from './session.js';

const BASIS = { own_history: 'against its own history', peers: 'against its peers' };

function findingLine(finding) {
  const [low, high] = finding.interval;
  const since = finding.detail?.changeDay ?? finding.detail?.alarmDay;
  const peers = finding.detail?.peers ? ` (${finding.detail.peers} ${words(finding.detail.peerGroup ?? 'peer')} devices)` : '';
  return element(
    'li',
    { class: finding.flagged ? 'flagged' : '' },
    element('strong', {}, `${words(finding.metric)} ×${finding.rateRatio.toFixed(1)}`),
    ` ${BASIS[finding.basis] ?? words(finding.basis)}${peers}: ${Math.round(finding.observed)} observed, ${Math.round(finding.expected)} expected`,
    element('span', { class: 'muted' }, ` (95% interval ×${low.toFixed(1)}–×${high.toFixed(1)}${since ? `; since ${since}` : ''})`),
  );
}

// The chart shows the metric that departed most, since it is what an engineer checks first.
function mainFinding(device) {
  return device.findings.filter((finding) => finding.flagged).toSorted((a, b) => b.rateRatio - a.rateRatio)[0] ?? device.findings[0];
}

// Only the own-history test dates the change; a peer comparison says how far, not since when.
function changeDay(device, metric) {
  const dated = device.findings.find((finding) => finding.metric === metric && (finding.detail?.changeDay ?? finding.detail?.alarmDay));
  return dated?.detail.changeDay ?? dated?.detail.alarmDay;
}

async function addCard(list, device) {
  const finding = mainFinding(device);
  const canvas = element('canvas', {});
  const chartBox = element('div', { class: 'chart-box short' }, canvas);
  list.append(
    element(
      'li',
      { class: 'device-card', 'data-device-id': device.deviceId },
      element(
        'h3',
        {},
        device.deviceId,
        element('small', { class: 'muted' }, ` ${words(device.kind)} · ${device.road} ${device.direction}`),
      ),
      element('ul', { class: 'findings' }, ...device.findings.filter((entry) => entry.flagged).map(findingLine)),
      chartBox,
    ),
  );
  // Drawn once the card is in the page: a detached canvas has no size to draw at.
  try {
    const series = await api(`/api/analytics/sites/device/${encodeURIComponent(device.deviceId)}/series`);
    drawDeviceSeries(canvas, {
      days: series.days,
      metric: finding.metric,
      markerDay: changeDay(device, finding.metric),
      deviceId: device.deviceId,
    });
  } catch (error) {
    chartBox.replaceWith(element('p', { class: 'error' }, `no chart: ${error.message}`));
  }
}

/** Lists the flagged devices among the anomaly answer's `devices` into `list`; `run` is null before the first screening. */
export async function renderDeviceAnomalies(list, empty, { run, devices }) {
  const flagged = devices.filter((device) => device.flagged);
  empty.hidden = flagged.length > 0;
  // Before any run nothing has been examined: "no device departs" would be a clean bill of health never given.
  empty.className = run ? 'ok' : 'muted';
  empty.textContent = run
    ? 'No device departs from its history or its peers.'
    : 'Not examined yet: devices are compared with their history and their peers once the first screening run has finished.';
  list.replaceChildren();
  await Promise.all(flagged.map((device) => addCard(list, device)));
}
