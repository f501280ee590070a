// Charts for the analyst pages, on Chart.js. Each canvas also gets a one-sentence summary as its
// accessible name, since a canvas says nothing to a screen reader.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { dayLabel } from './analytics-format.js';
import { words } from './dom.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const DAY_MS = 86_400_000;
const WEEK_DAYS = 7;

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// The page's own colours and font, so charts follow light and dark mode like the rest of the page.
Chart.defaults.color = cssColour('--muted');
Chart.defaults.borderColor = '#8883';
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

/** One chart per canvas: drawing again replaces the last one. */
function draw(canvas, summary, config) {
  Chart.getChart(canvas)?.destroy();
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', summary);
  return new Chart(canvas, config);
}

/** Dashed vertical lines at fractional category positions, each labelled at the top: `options.markers` [{ at, label }]. */
const dayMarkers = {
  id: 'dayMarkers',
  afterDatasetsDraw(chart, _args, options) {
    const { ctx, chartArea, scales } = chart;
    for (const marker of options.markers ?? []) {
      const x = scales.x.getPixelForValue(marker.at);
      ctx.save();
      ctx.strokeStyle = options.colour;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = `600 12px ${Chart.defaults.font.family}`;
      const width = ctx.measureText(marker.label).width + 10;
      // Beside the line on whichever side has room, so the label never runs off the chart.
      const left = x + width + 4 > chartArea.right ? x - width - 4 : x + 4;
      ctx.fillStyle = options.colour;
      ctx.fillRect(left, chartArea.top + 2, width, 18);
      ctx.fillStyle = options.textColour;
      ctx.textBaseline = 'middle';
      ctx.fillText(marker.label, left + 5, chartArea.top + 11);
      ctx.restore();
    }
  },
};

function markerOptions(markers) {
  return { markers, colour: cssColour('--accent'), textColour: cssColour('--card') };
}

const dayNumber = (day) => Date.parse(`${day}T00:00:00Z`) / DAY_MS;

/** Daily counts in 7-day buckets from the first day; the last bucket may be shorter, so each holds its day count. */
function weeks(days) {
  const buckets = [];
  for (let index = 0; index < days.length; index += WEEK_DAYS) {
    const slice = days.slice(index, index + WEEK_DAYS);
    buckets.push({
      start: slice[0].day,
      days: slice.length,
      approved: slice.reduce((sum, day) => sum + day.approved, 0),
      excluded: slice.reduce((sum, day) => sum + day.excluded, 0),
    });
  }
  return buckets;
}

/** Where a day falls among the buckets, as a fractional position on the category axis (bucket i spans i−0.5 to i+0.5). */
function bucketPosition(firstDay, day) {
  return (dayNumber(day) - dayNumber(firstDay)) / WEEK_DAYS - 0.5;
}

function meanPerDay(days) {
  return days.length === 0 ? 0 : days.reduce((sum, day) => sum + day.approved, 0) / days.length;
}

/**
 * A site's events over the period, a bar a week scaled to events a day (so a short last week is
 * not read as a drop), excluded captures stacked on top. Each remediation action is a dashed
 * line on its date, and the mean before and after the latest one is drawn across each side.
 */
export function drawTimeline(canvas, series) {
  const buckets = weeks(series.days);
  const firstDay = series.days[0]?.day;
  const datasets = [
    {
      type: 'bar',
      label: 'approved',
      data: buckets.map((bucket) => bucket.approved / bucket.days),
      backgroundColor: '#64748b',
      stack: 'events',
      order: 2,
    },
    {
      type: 'bar',
      label: 'excluded (device malfunction)',
      data: buckets.map((bucket) => bucket.excluded / bucket.days),
      backgroundColor: '#cbd5e1',
      stack: 'events',
      order: 2,
    },
  ];
  const actions = series.remediations.filter((remediation) => remediation.actionDate);
  const markers = actions.map((remediation) => ({
    at: bucketPosition(firstDay, remediation.actionDate),
    label: `${words(remediation.suspectedCause)} action ${dayLabel(remediation.actionDate)}`,
  }));
  let summary = `${words(series.violationType ?? 'all types')}: ${series.days.reduce((sum, day) => sum + day.approved, 0)} approved events from ${series.from} to ${series.to}`;
  const latest = actions
    .map((remediation) => remediation.actionDate)
    .sort()
    .at(-1);
  if (latest) {
    const before = series.days.filter((day) => day.day < latest);
    const after = series.days.filter((day) => day.day >= latest);
    const [beforeMean, afterMean] = [meanPerDay(before), meanPerDay(after)];
    const split = Math.ceil(bucketPosition(firstDay, latest));
    const side = (from, to, value) => buckets.map((_, index) => (index >= from && index < to ? value : null));
    datasets.push(
      {
        type: 'line',
        label: `mean before: ${beforeMean.toFixed(1)} a day`,
        data: side(0, split, beforeMean),
        borderColor: cssColour('--bad'),
        borderWidth: 3,
        pointRadius: 0,
        order: 1,
      },
      {
        type: 'line',
        label: `mean after: ${afterMean.toFixed(1)} a day`,
        data: side(split, buckets.length, afterMean),
        borderColor: cssColour('--ok'),
        borderWidth: 3,
        pointRadius: 0,
        order: 1,
      },
    );
    summary += `; remediation on ${latest}: ${beforeMean.toFixed(1)} a day before, ${afterMean.toFixed(1)} after`;
  }
  return draw(canvas, `${summary}.`, {
    data: { labels: buckets.map((bucket) => dayLabel(bucket.start)), datasets },
    options: {
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { autoSkipPadding: 16, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: 'events a day (weekly mean)' } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 14 } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${Number(item.raw).toFixed(1)} a day` } },
        dayMarkers: markerOptions(markers),
      },
    },
    plugins: [dayMarkers],
  });
}

function barChart(canvas, { labels, values, colour, summary, horizontal = false }) {
  return draw(canvas, summary, {
    type: 'bar',
    data: { labels, datasets: [{ data: values, backgroundColor: colour }] },
    options: {
      indexAxis: horizontal ? 'y' : 'x',
      scales: {
        [horizontal ? 'y' : 'x']: { grid: { display: false }, ticks: { autoSkip: !horizontal, maxRotation: 0 } },
        [horizontal ? 'x' : 'y']: { beginAtZero: true },
      },
      plugins: { legend: { display: false } },
    },
  });
}

function busiest(entries, name) {
  const top = entries.reduce((best, entry) => (entry.count > best.count ? entry : best), entries[0]);
  return top && top.count > 0 ? name(top) : 'none';
}

/** `[{ hour, count }]`, all 24 hours, local to the analysis time zone. */
export function drawByHour(canvas, byHour) {
  return barChart(canvas, {
    labels: byHour.map((entry) => String(entry.hour).padStart(2, '0')),
    values: byHour.map((entry) => entry.count),
    colour: cssColour('--accent'),
    summary: `Events by hour of day; busiest hour ${busiest(byHour, (entry) => `${entry.hour}:00`)}.`,
  });
}

/** `[{ weekday, name, count }]`, Monday first. */
export function drawByWeekday(canvas, byWeekday) {
  return barChart(canvas, {
    labels: byWeekday.map((entry) => entry.name),
    values: byWeekday.map((entry) => entry.count),
    colour: cssColour('--accent'),
    summary: `Events by weekday; busiest ${busiest(byWeekday, (entry) => entry.name)}.`,
  });
}

/** `[{ violationType, count }]`, drawn largest first. */
export function drawByType(canvas, byViolationType) {
  const sorted = byViolationType.toSorted((a, b) => b.count - a.count);
  return barChart(canvas, {
    labels: sorted.map((entry) => words(entry.violationType)),
    values: sorted.map((entry) => entry.count),
    colour: '#7c3aed',
    horizontal: true,
    summary: `Events by violation type: ${sorted.map((entry) => `${words(entry.violationType)} ${entry.count}`).join(', ')}.`,
  });
}

/** Events a day before the action, expected after it had nothing been done, and observed after. */
export function drawBeforeAfter(canvas, beforeAfter) {
  const labels = ['before', 'after, expected without the fix', 'after, observed'];
  const values = [
    beforeAfter.before.observed / beforeAfter.before.days,
    beforeAfter.expectedWithoutFix / beforeAfter.after.days,
    beforeAfter.after.observed / beforeAfter.after.days,
  ];
  return draw(canvas, `Events a day: ${labels.map((label, index) => `${label} ${values[index].toFixed(1)}`).join('; ')}.`, {
    type: 'bar',
    data: { labels, datasets: [{ data: values, backgroundColor: [cssColour('--bad'), '#94a3b8', cssColour('--ok')] }] },
    options: {
      indexAxis: 'y',
      scales: { x: { beginAtZero: true, title: { display: true, text: 'events a day' } }, y: { grid: { display: false } } },
      plugins: { legend: { display: false } },
    },
  });
}

/**
 * A device's daily capture count, or the share of its captures excluded, with the day its
 * change was detected marked. `days`: the series answer's days.
 */
export function drawDeviceSeries(canvas, { days: allDays, metric, markerDay, deviceId }) {
  // A quarter before the change and everything after: a year of days would squeeze a recent jump into the last few pixels.
  const changeIndex = markerDay ? allDays.findIndex((day) => day.day === markerDay) : -1;
  const days = allDays.slice(changeIndex >= 0 ? Math.max(0, changeIndex - 90) : Math.max(0, allDays.length - 180));
  const exclusion = metric === 'exclusion_rate';
  const values = days.map((day) => {
    const total = day.approved + day.excluded;
    if (!exclusion) return total;
    return total === 0 ? null : (100 * day.excluded) / total;
  });
  const unit = exclusion ? '% of captures excluded' : 'captures a day';
  const markers = markerDay ? [{ at: days.findIndex((day) => day.day === markerDay), label: `change ${dayLabel(markerDay)}` }] : [];
  return draw(canvas, `${deviceId}: ${unit}, ${days[0]?.day} to ${days.at(-1)?.day}${markerDay ? `, changed on ${markerDay}` : ''}.`, {
    type: 'line',
    data: {
      labels: days.map((day) => dayLabel(day.day)),
      datasets: [{ label: unit, data: values, borderColor: cssColour('--bad'), borderWidth: 1.5, pointRadius: 0, spanGaps: true }],
    },
    options: {
      scales: {
        x: { grid: { display: false }, ticks: { maxTicksLimit: 5, maxRotation: 0 } },
        y: { beginAtZero: true, title: { display: true, text: unit } },
      },
      plugins: { legend: { display: false }, dayMarkers: markerOptions(markers.filter((marker) => marker.at >= 0)) },
    },
    plugins: [dayMarkers],
  });
}
