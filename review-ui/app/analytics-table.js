// The ranked hotspot table: sortable by any column from the keyboard, one row selected at a time,
// each excess drawn with its interval so a wide interval reads as the doubt it is.
import { formatP, placeOf, signed } from './analytics-format.js';
import { element, words } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** Excess over what comparable sites predict, with the Empirical Bayes interval moved by the same prediction. */
function excessInterval(hotspot) {
  return [hotspot.ebInterval[0] - hotspot.predicted, hotspot.ebInterval[1] - hotspot.predicted];
}

/** Rising or falling only when the interval of the rate ratio leaves 1 behind. */
function trendOf(hotspot) {
  if (!hotspot.trend) return { direction: 'unknown', arrow: '', text: 'n/a' };
  const [low, high] = hotspot.trend.interval;
  const ratio = `×${hotspot.trend.rateRatio.toFixed(2)}`;
  if (low > 1) return { direction: 'rising', arrow: '↑', text: ratio };
  if (high < 1) return { direction: 'falling', arrow: '↓', text: ratio };
  return { direction: 'steady', arrow: '→', text: ratio };
}

const COLUMNS = [
  { key: 'rank', label: 'Rank', numeric: true, value: (hotspot) => hotspot.rank },
  { key: 'place', label: 'Place', value: placeOf },
  { key: 'violationType', label: 'Violation type', value: (hotspot) => hotspot.violationType },
  { key: 'observed', label: 'Observed', numeric: true, value: (hotspot) => hotspot.observed },
  { key: 'ebExpected', label: 'EB expected', numeric: true, value: (hotspot) => hotspot.ebExpected },
  { key: 'excess', label: 'Excess, 95% interval', numeric: true, value: (hotspot) => hotspot.excess },
  { key: 'pValue', label: 'p-value', numeric: true, value: (hotspot) => hotspot.pValue },
  { key: 'trend', label: 'Trend', numeric: true, value: (hotspot) => hotspot.trend?.rateRatio ?? 0 },
  { key: 'case', label: 'Case', value: (hotspot) => (hotspot.openCaseId ? 'open' : '') },
];

/** The excess as a bar from zero, its interval as a whisker: sizes compare down the column at a glance. */
function excessPlot(hotspot, scale) {
  const width = 90;
  const x = (value) => Math.max(0, Math.min(width, ((value - scale.min) / (scale.max - scale.min)) * width));
  const [low, high] = excessInterval(hotspot);
  const plot = svg('svg', { width, height: 12, class: 'excess-plot', 'aria-hidden': 'true' });
  plot.append(
    svg('rect', {
      x: Math.min(x(0), x(hotspot.excess)),
      width: Math.max(1, Math.abs(x(hotspot.excess) - x(0))),
      y: 2,
      height: 8,
      class: hotspot.flagged ? 'bar flagged' : 'bar',
    }),
    svg('line', { x1: x(low), x2: x(high), y1: 6, y2: 6, class: 'whisker' }),
    svg('line', { x1: x(0), x2: x(0), y1: 0, y2: 12, class: 'zero' }),
  );
  return plot;
}

/** Fills `table` and keeps its sort; rows are told apart by `keyOf(hotspot)`, and `onSelect(key)` runs when a person picks one. */
export function createHotspotTable(table, { keyOf, onSelect }) {
  let sort = { key: 'rank', descending: false };
  let hotspots = [];
  let selected;

  function header() {
    return element(
      'tr',
      {},
      ...COLUMNS.map((column) => {
        const active = sort.key === column.key;
        const button = element(
          'button',
          { type: 'button', class: 'sort' },
          column.label,
          element('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (sort.descending ? ' ▼' : ' ▲') : ''),
        );
        button.addEventListener('click', () => {
          // A first click on a number shows the largest first, except rank, where 1 is the top.
          sort = { key: column.key, descending: active ? !sort.descending : Boolean(column.numeric) && column.key !== 'rank' };
          render();
          table.querySelector(`th[data-key="${column.key}"] button`).focus();
        });
        const attributes = { scope: 'col', 'data-key': column.key, class: column.numeric ? 'num' : '' };
        if (active) attributes['aria-sort'] = sort.descending ? 'descending' : 'ascending';
        return element('th', attributes, button);
      }),
    );
  }

  function row(hotspot, scale) {
    const key = keyOf(hotspot);
    const place = element(
      'button',
      { type: 'button', class: 'link', 'aria-label': `Show hotspot ${hotspot.rank}: ${placeOf(hotspot)}, ${words(hotspot.violationType)}` },
      placeOf(hotspot),
    );
    place.addEventListener('click', () => onSelect(key));
    const [low, high] = excessInterval(hotspot);
    const trend = trendOf(hotspot);
    const tr = element(
      'tr',
      { 'data-key': key, 'data-site-id': hotspot.siteId, class: hotspot.flagged ? 'flagged-row' : '' },
      element('td', { class: 'num' }, element('span', { class: hotspot.flagged ? 'rank flagged' : 'rank' }, String(hotspot.rank))),
      element('th', { scope: 'row' }, place, element('small', { class: 'muted site-id' }, hotspot.siteId)),
      element('td', {}, words(hotspot.violationType)),
      element('td', { class: 'num' }, String(hotspot.observed)),
      element('td', { class: 'num' }, hotspot.ebExpected.toFixed(0)),
      element(
        'td',
        { class: 'num excess' },
        excessPlot(hotspot, scale),
        element('span', { class: 'nowrap' }, signed(hotspot.excess)),
        element('small', { class: 'muted nowrap' }, `${signed(low)} to ${signed(high)}`),
      ),
      element(
        'td',
        { class: 'num', title: `q-value (Benjamini–Hochberg) ${formatP(hotspot.qValue)}` },
        element('span', { class: 'nowrap' }, formatP(hotspot.pValue)),
        hotspot.flagged ? element('span', { class: 'badge flagged' }, 'flagged') : '',
      ),
      element(
        'td',
        { class: `num nowrap trend ${trend.direction}` },
        element('span', { 'aria-hidden': 'true' }, `${trend.arrow} `),
        trend.text,
        element('span', { class: 'visually-hidden' }, ` ${trend.direction}`),
      ),
      element('td', {}, hotspot.openCaseId ? element('span', { class: 'badge case-open' }, 'open') : ''),
    );
    // The whole row answers a click; the button inside is what a keyboard and a screen reader use.
    tr.addEventListener('click', (event) => {
      if (event.target !== place) onSelect(key);
    });
    if (key === selected) tr.setAttribute('aria-current', 'true');
    return tr;
  }

  function render() {
    const column = COLUMNS.find((entry) => entry.key === sort.key);
    const sorted = hotspots.toSorted((a, b) => {
      const [x, y] = [column.value(a), column.value(b)];
      const order = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return (sort.descending ? -order : order) || a.rank - b.rank;
    });
    const intervals = hotspots.map(excessInterval);
    const scale = { min: Math.min(0, ...intervals.map(([low]) => low)), max: Math.max(1, ...intervals.map(([, high]) => high)) };
    table.tHead.replaceChildren(header());
    table.tBodies[0].replaceChildren(...sorted.map((hotspot) => row(hotspot, scale)));
  }

  function show(list) {
    hotspots = list;
    render();
  }

  function select(key) {
    selected = key;
    for (const tr of table.tBodies[0].rows) {
      if (tr.dataset.key === key) {
        tr.setAttribute('aria-current', 'true');
        tr.scrollIntoView({ block: 'nearest' });
      } else {
        tr.removeAttribute('aria-current');
      }
    }
  }

  return { show, select };
}
