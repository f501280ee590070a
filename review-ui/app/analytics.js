// The analyst page: where violations cluster (map and ranked table), one hotspot's history and
// breakdowns with its remediation case, and devices whose rates look wrong. Aggregates only:
// nothing here asks for an image, a plate or a capture (law L7).
import { renderCase } from './analytics-case.js';
import { drawByHour, drawByType, drawByWeekday, drawTimeline } from './analytics-charts.js';
import { renderDeviceAnomalies } from './analytics-devices.js';
import { dayLabel, placeOf } from './analytics-format.js';
import { createHotspotMap } from './analytics-map.js';
import { createHotspotTable } from './analytics-table.js';
import { element, words } from './dom.js';
import { openPage, showRefusal } from './page.js';
import { api } from './session.js';

const status = document.getElementById('status');
const view = document.getElementById('analytics');
const filters = document.getElementById('filters');
const scopeSelect = document.getElementById('filter-scope');
const typeSelect = document.getElementById('filter-type');
const flaggedOnly = document.getElementById('filter-flagged');
const method = document.getElementById('method');
const hotspotsCount = document.getElementById('hotspots-count');
const hotspotsEmpty = document.getElementById('hotspots-empty');
const mapCaption = document.getElementById('map-caption');
const exportHotspots = document.getElementById('export-hotspots');
const reportLink = document.getElementById('report-link');
const detail = document.getElementById('detail');
const detailHeading = document.getElementById('detail-heading');
const detailFacts = document.getElementById('detail-facts');
const exportBreakdown = document.getElementById('export-breakdown');
const timelineCaption = document.getElementById('timeline-caption');
const hourCaption = document.getElementById('hour-caption');
const caseView = document.getElementById('case-view');

// Enough rows to colour a city's network on the map; the table scrolls.
const HOTSPOT_LIMIT = 500;

/** A hotspot is a site and a violation type: one cell can rank for speeding and again for red lights. */
const keyOf = (hotspot) => `${hotspot.scope}:${hotspot.siteId}:${hotspot.violationType}`;

let hotspots = [];
let selectedKey;
let detailRequest = 0;
let hotspotMap;
let table;

function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined && value !== '') search.set(name, String(value));
  return search.toString();
}

function currentFilters() {
  return {
    scope: scopeSelect.value,
    violationType: typeSelect.value || undefined,
    flagged: flaggedOnly.checked ? 'true' : undefined,
  };
}

function every(ms) {
  const hours = ms / 3_600_000;
  if (hours >= 1) return hours === 1 ? 'every hour' : `every ${Number(hours.toFixed(1))} hours`;
  return `every ${Math.max(1, Math.round(ms / 60_000))} minutes`;
}

/**
 * Why there is nothing to rank, and from when there will be: a new system otherwise shows an
 * empty page for its first week with no word of the days held back while review goes on.
 */
function nothingYet({ run, holdBack }) {
  const held = `The newest ${holdBack.settleDays} days are held back from every analysis while their captures may still be in review, so a site is not made to look quieter than it is.`;
  const runs = `The analysis runs ${every(holdBack.everyMs)} (days in ${holdBack.timeZone}).`;
  if (!holdBack.firstCountedDay) return `No approved capture has been counted yet. ${held} ${runs}`;
  const first = dayLabel(holdBack.firstCountedDay, true);
  const from = dayLabel(holdBack.firstIncludedOn, true);
  if (!run)
    return `No screening run has finished yet. Approved captures are counted from ${first}. ${held} They enter a run from ${from}. ${runs}`;
  if (run.periodTo < holdBack.firstCountedDay)
    return `The latest run covered ${dayLabel(run.periodFrom, true)} to ${dayLabel(run.periodTo, true)}, before the first approved capture (${first}). ${held} Those captures enter a run from ${from}. ${runs}`;
  return `No site to rank for these filters in the latest run's period, ${dayLabel(run.periodFrom, true)} to ${dayLabel(run.periodTo, true)}. ${held} ${runs}`;
}

function describeRun(run) {
  if (!run) {
    method.textContent = 'No screening run has finished yet: the scheduled analysis job fills this page once it has run.';
    return;
  }
  const { settings } = run;
  const finished = new Date(run.finishedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  method.textContent =
    `Screening run of ${finished}, over ${run.periodFrom} to ${run.periodTo} (days in ${settings.timeZone}). ` +
    `Flagged sites first, then by how many times its comparable sites' rate a site at least has (the low end of its Empirical Bayes ` +
    `interval), so a quiet road's strong hotspot is not buried and a few unlucky days cannot top the list; days far above a site's ` +
    `ordinary day are reported as spikes, not hotspots. Flagged: Benjamini–Hochberg q-value at most ${settings.fdr} and at least ` +
    `${settings.minCount} events. ` +
    `Exports and the report leave out rows with fewer than ${settings.kAnonymity} events.`;
}

async function loadHotspots() {
  status.textContent = 'loading hotspots…';
  const filter = currentFilters();
  const answer = await api(`/api/analytics/hotspots?${query({ ...filter, limit: HOTSPOT_LIMIT })}`);
  hotspots = answer.hotspots;
  describeRun(answer.run);
  exportHotspots.href = `/api/analytics/export/hotspots.csv?${query(filter)}`;
  reportLink.href = `/api/analytics/report.html?${query({ scope: filter.scope, violationType: filter.violationType })}`;
  const flagged = hotspots.filter((hotspot) => hotspot.flagged).length;
  const shown = hotspots.length < answer.total ? `top ${hotspots.length} of ${answer.total}` : String(answer.total);
  hotspotsCount.textContent = `${flagged} flagged, ${shown} ranked`;
  hotspotsEmpty.hidden = hotspots.length > 0;
  if (hotspots.length === 0) hotspotsEmpty.textContent = nothingYet(answer);
  table.show(hotspots);
  hotspotMap.show(hotspots, filter.scope);
  mapCaption.textContent =
    filter.scope === 'cell'
      ? 'H3 cells coloured by events above what comparable cells predict; flagged cells are outlined and numbered by rank.'
      : 'Device sites coloured by events above what comparable devices predict; flagged ones are numbered by rank.';
  status.textContent = '';
  const next = hotspots.find((hotspot) => keyOf(hotspot) === selectedKey) ?? hotspots[0];
  if (next) await select(keyOf(next));
  else detail.hidden = true;
}

function trendWords(trend) {
  if (!trend) return 'not enough data';
  const [low, high] = trend.interval;
  const direction = low > 1 ? 'rising' : high < 1 ? 'falling' : 'no clear change';
  return `${direction}: ${trend.recentPerDay.toFixed(1)} a day lately against ${trend.baselinePerDay.toFixed(1)} before (×${trend.rateRatio.toFixed(2)}, 95% interval ${low.toFixed(2)}–${high.toFixed(2)})`;
}

function showFacts(hotspot) {
  detailHeading.textContent = `#${hotspot.rank} ${placeOf(hotspot)} · ${words(hotspot.violationType)}`;
  const rows = [
    [hotspot.scope === 'cell' ? 'H3 cell' : 'Device', element('code', {}, hotspot.siteId)],
    ['Observed', `${hotspot.observed} over ${hotspot.exposureDays} days`],
    ['Comparable sites predict', `${hotspot.predicted.toFixed(0)}`],
    [
      'Empirical Bayes estimate',
      `${hotspot.ebExpected.toFixed(0)} (95% interval ${hotspot.ebInterval[0].toFixed(0)}–${hotspot.ebInterval[1].toFixed(0)})`,
    ],
    [
      'Screening',
      hotspot.flagged ? element('strong', { class: 'bad' }, 'flagged') : 'not flagged',
      ` (p ${hotspot.pValue.toExponential(1)}, q ${hotspot.qValue.toExponential(1)}${hotspot.giStar === null ? '' : `, Gi* z ${hotspot.giStar.toFixed(1)}`})`,
    ],
    ['Trend', trendWords(hotspot.trend)],
  ];
  if (hotspot.scope === 'cell') rows.splice(1, 0, ['Devices in the cell', hotspot.deviceIds.join(', ') || 'none']);
  detailFacts.replaceChildren(...rows.flatMap(([term, ...description]) => [element('dt', {}, term), element('dd', {}, ...description)]));
}

/** The newest case on this site and type, with its before/after result; null when there is none. */
async function caseOf(hotspot) {
  const { cases } = await api('/api/analytics/remediation-cases');
  const newest = cases.find(
    (entry) => entry.scope === hotspot.scope && entry.siteId === hotspot.siteId && entry.violationType === hotspot.violationType,
  );
  return newest ? api(`/api/analytics/remediation-cases/${newest.id}`) : null;
}

async function showDetail(hotspot) {
  const request = ++detailRequest;
  const site = { scope: hotspot.scope, siteId: hotspot.siteId };
  const [series, ofType, allTypes, remediation] = await Promise.all([
    api(
      `/api/analytics/sites/${hotspot.scope}/${encodeURIComponent(hotspot.siteId)}/series?${query({ violationType: hotspot.violationType })}`,
    ),
    api(`/api/analytics/breakdown?${query({ ...site, violationType: hotspot.violationType })}`),
    api(`/api/analytics/breakdown?${query(site)}`),
    caseOf(hotspot),
  ]);
  // Someone who clicked on down the table meanwhile wants the last row they picked, not this one.
  if (request !== detailRequest) return;
  detail.hidden = false;
  showFacts(hotspot);
  timelineCaption.textContent = `${words(hotspot.violationType)}: events a day, weekly, ${series.from} to ${series.to}`;
  drawTimeline(document.getElementById('timeline-chart'), series);
  hourCaption.textContent = `By hour of day (${ofType.hourMonths.from} to ${ofType.hourMonths.to})`;
  drawByHour(document.getElementById('hour-chart'), ofType.byHour);
  drawByWeekday(document.getElementById('weekday-chart'), ofType.byWeekday);
  drawByType(document.getElementById('type-chart'), allTypes.byViolationType);
  exportBreakdown.href = `/api/analytics/export/breakdown.csv?${query({ ...site, violationType: hotspot.violationType })}`;
  renderCase(caseView, {
    hotspot,
    remediation,
    // The hotspot list carries openCaseId and the series the remediation marker: both are read again.
    onChange: () =>
      loadHotspots().then(
        () => (status.textContent = 'remediation case saved'),
        (error) => (status.textContent = `case saved, but the page could not reload: ${error.message}`),
      ),
  });
}

async function select(key) {
  const hotspot = hotspots.find((entry) => keyOf(entry) === key);
  if (!hotspot) return;
  selectedKey = key;
  table.select(key);
  hotspotMap.select(key);
  try {
    await showDetail(hotspot);
  } catch (error) {
    status.textContent = `could not load the hotspot: ${error.message}`;
  }
}

async function fillTypes() {
  const network = await api('/api/analytics/breakdown').catch(() => ({ byViolationType: [] }));
  typeSelect.replaceChildren(
    element('option', { value: '' }, 'all types'),
    ...network.byViolationType.map((entry) =>
      element('option', { value: entry.violationType }, `${words(entry.violationType)} (${entry.count})`),
    ),
  );
}

async function start() {
  const [{ tiles, fleetBounds }, anomalies] = await Promise.all([
    api('/api/analytics/map'),
    api('/api/analytics/devices/anomalies'),
    fillTypes(),
  ]);
  view.hidden = false;
  hotspotMap = createHotspotMap(document.getElementById('map'), { tiles, fleetBounds, keyOf, onSelect: (key) => void select(key) });
  table = createHotspotTable(document.getElementById('hotspots'), { keyOf, onSelect: (key) => void select(key) });
  hotspotMap.showDevices(anomalies.devices);
  filters.addEventListener('change', () => {
    loadHotspots().catch((error) => {
      status.textContent = `could not load hotspots: ${error.message}`;
    });
  });
  await Promise.all([
    loadHotspots(),
    renderDeviceAnomalies(document.getElementById('device-anomalies'), document.getElementById('devices-empty'), anomalies),
  ]);
}

await openPage();
try {
  await start();
} catch (error) {
  // A 403 is the server saying this person is not an analyst: the page says so instead of half drawing.
  if (error.status === 403) showRefusal(error);
  else status.textContent = `could not load analytics: ${error.message}`;
}
