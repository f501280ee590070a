/**
 * Calibration study of the hotspot analysis: many randomized networks with a planted truth
 * (bench/calibration-network.ts), each screened, studied before/after and checked for device
 * anomalies by the same core functions the service runs, and the results scored against the
 * truth. See bench/README.md and docs/analytics.md ("Calibration").
 *
 *   npm run analytics:calibrate -- [--networks N] [--from SEED] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  beforeAfterDispersion,
  beforeAfterStudy,
  comparisonScatter,
  pooledBeforeAfter,
  type BeforeAfterInput,
} from '../core/domain/analytics-before-after.js';
import { deviceAnomalies, type DeviceSeries } from '../core/domain/analytics-anomaly.js';
import { screenSites, type SiteInput } from '../core/domain/analytics-screening.js';
import { generateNetwork, randomParameters, type Network, type PlantedDevice } from './calibration-network.js';

const FDR = 0.05;
const settings = { fdr: FDR, minCount: 20, minGroupSites: 30 };
const anomalySettings = { baselineDays: 56, watchDays: 14, ratio: 3, cusumThreshold: 10, fdr: FDR, minCount: 20, minGroupSites: 30 };
/** Bins of the between-site dispersion k the coverage is reported in. */
const K_BINS = [0, 0.01, 0.05, 0.2, 1.0001];

export interface NetworkScore {
  seed: number;
  k: number;
  shape: string;
  sites: number;
  captures: number;
  flagged: number;
  /** Flagged ordinary sites: neither planted nor broken nor on the changed road. */
  falseFlags: number;
  /** Flagged broken devices and cameras of the changed road. */
  realExcessFlagged: number;
  planted: number;
  found: number;
  /** Per site: was the truth inside the 95% EB interval, and the site's kind. */
  coverage: { planted: boolean; covered: boolean }[];
  flaggedIntervalAbovePrediction: number;
  plantedRanks: { rank: number; factor: number; volume: string }[];
  spikeSites: number;
  spikeFlagged: number;
  spikeInTop20: number;
  spikeFlaggedInTop20: number;
  spikeReported: number;
  studies: { kind: 'fix' | 'rtm'; effect: number; theta: number; interval: [number, number]; naive: number | null }[];
  pooled: { theta: number; interval: [number, number]; truth: number } | null;
  roadChangeDevices: number;
  roadChangeDevicesFlagged: number;
  roadChangeReported: boolean | null;
  brokenFlagged: boolean;
  otherDevicesFlagged: number;
  /** Planted spike sites with a spike day inside the anomaly watch window: one very high day is new against both. */
  spikeInWatch: number;
  spikeInWatchFlagged: number;
  devices: number;
}

const typeKind = (device: PlantedDevice) => `${device.violationType}|${device.kind}`;

function siteInputs(network: Network, from: number, to: number): SiteInput[] {
  const recentFrom = to - 90;
  return network.devices.map((device) => {
    const daily = device.daily.slice(from, to);
    return {
      siteId: device.deviceId,
      violationType: device.violationType,
      groups: [`${typeKind(device)}|${device.road}`, typeKind(device), device.violationType],
      observed: sum(daily),
      exposureDays: daily.length,
      recent: { observed: sum(device.daily.slice(Math.max(from, recentFrom), to)), exposureDays: to - Math.max(from, recentFrom) },
      daily,
    };
  });
}

export function scoreNetwork(seed: number): NetworkScore {
  const parameters = randomParameters(seed);
  const network = generateNetwork(parameters);
  const { days, actionDay } = parameters;
  const byId = new Map(network.devices.map((device) => [device.deviceId, device]));
  const results = screenSites(siteInputs(network, 0, days), settings);
  const resultOf = new Map(results.map((result) => [result.siteId, result]));
  const isPlanted = (device: PlantedDevice) => device.hotspotFactor > 1;
  // A broken device or a camera on the road that changed has a truly higher count over the
  // year (ten or eight times for two weeks): a flag there is no false discovery, though it is
  // no planted hotspot either.
  const isOrdinary = (device: PlantedDevice) => !isPlanted(device) && !device.broken && !device.roadChange;
  const flagged = results.filter((result) => result.flagged);
  const coverage = results
    .filter((result) => byId.get(result.siteId)!.spikeDays.length === 0)
    .map((result) => {
      const device = byId.get(result.siteId)!;
      const truth = sum(device.truePerDay);
      return { planted: isPlanted(device), covered: truth >= result.ebInterval[0] && truth <= result.ebInterval[1] };
    });
  const spikes = network.devices.filter((device) => device.spikeDays.length > 0);
  const top20 = new Set(results.slice(0, 20).map((result) => result.siteId));

  // Before/after: the treated hotspots (the fix effect planted, 0 for "high but unchanged")
  // and RTM decoys, the ordinary sites with the highest before count over prediction.
  const treated = network.devices.filter((device) => device.fix !== null);
  const treatedIds = new Set(treated.map((device) => device.deviceId));
  const beforeResults = screenSites(siteInputs(network, 0, actionDay), settings);
  const decoys = beforeResults
    .filter((result) => {
      const device = byId.get(result.siteId)!;
      return !isPlanted(device) && device.spikeDays.length === 0 && !device.roadChange && !device.broken;
    })
    .sort((a, b) => b.observed / b.predicted - a.observed / a.predicted)
    .slice(0, 3);
  const study = (device: PlantedDevice): BeforeAfterInput => {
    const result = resultOf.get(device.deviceId)!;
    const comparison = results.filter(
      (other) =>
        other.referenceGroup === result.referenceGroup &&
        other.siteId !== device.deviceId &&
        !treatedIds.has(other.siteId) &&
        other.category === 'ordinary',
    );
    const counts = comparison.map((other) => {
      const daily = byId.get(other.siteId)!.daily;
      return {
        beforeCount: sum(daily.slice(0, actionDay)),
        beforeExposureDays: actionDay,
        afterCount: sum(daily.slice(actionDay, days)),
        afterExposureDays: days - actionDay,
      };
    });
    const beforeCount = sum(counts.map((c) => c.beforeCount));
    const before = sum(device.daily.slice(0, actionDay));
    return {
      before: { observed: before, exposureDays: actionDay, predicted: (beforeCount / (counts.length * actionDay)) * actionDay },
      after: { observed: sum(device.daily.slice(actionDay, days)), exposureDays: days - actionDay },
      dispersion: beforeAfterDispersion(result),
      dispersionIndex: result.dispersionIndex,
      comparison: {
        beforeCount,
        beforeExposureDays: counts.length * actionDay,
        afterCount: sum(counts.map((c) => c.afterCount)),
        afterExposureDays: counts.length * (days - actionDay),
        dispersionIndex: comparisonScatter(counts),
      },
    };
  };
  const studies: NetworkScore['studies'] = [];
  const fortyPercent: BeforeAfterInput[] = [];
  for (const device of treated) {
    const input = study(device);
    const outcome = beforeAfterStudy(input);
    if (!outcome) continue;
    if (device.fix === 0.4) fortyPercent.push(input);
    studies.push({ kind: 'fix', effect: device.fix!, theta: outcome.theta, interval: outcome.interval, naive: outcome.naiveRatio });
  }
  for (const decoy of decoys) {
    const outcome = beforeAfterStudy(study(byId.get(decoy.siteId)!));
    if (outcome) studies.push({ kind: 'rtm', effect: 0, theta: outcome.theta, interval: outcome.interval, naive: outcome.naiveRatio });
  }
  const pooledOutcome = fortyPercent.length >= 2 ? pooledBeforeAfter(fortyPercent) : null;

  const anomalies = deviceAnomalies(deviceSeries(network), anomalySettings);
  const flaggedDevices = new Set(anomalies.findings.filter((finding) => finding.flagged).map((finding) => finding.deviceId));
  const roadDevices = network.devices.filter((device) => device.roadChange);
  const spikeInWatch = (device: PlantedDevice) => device.spikeDays.some((day) => day >= days - anomalySettings.watchDays);
  return {
    seed,
    k: parameters.betweenDispersion,
    shape: parameters.effectShape,
    sites: results.length,
    captures: sum(network.devices.map((device) => sum(device.daily))),
    flagged: flagged.length,
    falseFlags: flagged.filter((result) => isOrdinary(byId.get(result.siteId)!)).length,
    realExcessFlagged: flagged.filter((result) => {
      const device = byId.get(result.siteId)!;
      return !isPlanted(device) && !isOrdinary(device);
    }).length,
    planted: network.devices.filter(isPlanted).length,
    found: flagged.filter((result) => isPlanted(byId.get(result.siteId)!)).length,
    coverage,
    flaggedIntervalAbovePrediction: flagged.filter((result) => result.ebInterval[0] > result.predicted).length,
    plantedRanks: results
      .filter((result) => isPlanted(byId.get(result.siteId)!))
      .map((result) => ({
        rank: result.rank,
        factor: byId.get(result.siteId)!.hotspotFactor,
        volume: byId.get(result.siteId)!.volumeClass,
      })),
    spikeSites: spikes.length,
    spikeFlagged: spikes.filter((device) => resultOf.get(device.deviceId)!.flagged).length,
    spikeInTop20: spikes.filter((device) => top20.has(device.deviceId)).length,
    spikeFlaggedInTop20: spikes.filter((device) => top20.has(device.deviceId) && resultOf.get(device.deviceId)!.flagged).length,
    spikeReported: spikes.filter((device) => resultOf.get(device.deviceId)!.category === 'spike').length,
    studies,
    pooled: pooledOutcome ? { theta: pooledOutcome.theta, interval: pooledOutcome.interval, truth: 0.6 } : null,
    roadChangeDevices: roadDevices.length,
    roadChangeDevicesFlagged: roadDevices.filter((device) => flaggedDevices.has(device.deviceId)).length,
    roadChangeReported:
      roadDevices.length > 0
        ? anomalies.groupChanges.some((change) => change.direction === 'rise' && change.peerGroup.endsWith(`|${roadDevices[0]!.road}`))
        : null,
    brokenFlagged: network.devices.some((device) => device.broken && flaggedDevices.has(device.deviceId)),
    otherDevicesFlagged: network.devices.filter((device) => !device.broken && !spikeInWatch(device) && flaggedDevices.has(device.deviceId))
      .length,
    spikeInWatchFlagged: network.devices.filter((device) => spikeInWatch(device) && flaggedDevices.has(device.deviceId)).length,
    spikeInWatch: network.devices.filter(spikeInWatch).length,
    devices: network.devices.length,
  };
}

/** The anomaly window (baseline + watch) at the end of the year, as the service loads it. */
function deviceSeries(network: Network): DeviceSeries[] {
  const length = anomalySettings.baselineDays + anomalySettings.watchDays;
  return network.devices.map((device) => ({
    deviceId: device.deviceId,
    peerGroups: [`${device.kind}|${device.violationType}|${device.road}`, `${device.kind}|${device.violationType}`],
    firstDay: 0,
    total: device.daily.slice(-length),
    excluded: device.daily.slice(-length).map(() => 0),
  }));
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

const share = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '–');

/** The study's tables, as they appear in docs/analytics.md. */
export function report(scores: readonly NetworkScore[]): string {
  const lines: string[] = [];
  const total = (pick: (score: NetworkScore) => number) => sum(scores.map(pick));
  const flagged = total((s) => s.flagged);
  const falseFlags = total((s) => s.falseFlags);
  const ordinary = total((s) => s.sites - s.planted - s.roadChangeDevices - 1);
  lines.push(
    `Networks: ${scores.length} (seeds ${scores[0]?.seed}–${scores.at(-1)?.seed}); sites: ${total((s) => s.sites)}; captures: ${total((s) => s.captures).toLocaleString('en')}.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| hotspots flagged | ${flagged} |`,
    `| false discovery rate (flagged ordinary sites / flagged) | ${share(falseFlags, flagged)} (${falseFlags}); configured ${FDR * 100}% |`,
    `| flagged broken devices and changed-road cameras (a real excess over the year, not planted hotspots) | ${total((s) => s.realExcessFlagged)} |`,
    `| networks with any false flag | ${share(scores.filter((s) => s.falseFlags > 0).length, scores.length)} |`,
    `| ordinary sites flagged | ${share(falseFlags, ordinary)} of ${ordinary} |`,
    `| recall (planted found) | ${share(
      total((s) => s.found),
      total((s) => s.planted),
    )} of ${total((s) => s.planted)} |`,
    `| flagged sites whose EB interval lies above the prediction | ${share(
      total((s) => s.flaggedIntervalAbovePrediction),
      flagged,
    )} |`,
    `| spike sites flagged as hotspots | ${total((s) => s.spikeFlagged)} of ${total((s) => s.spikeSites)} |`,
    `| spike sites flagged as hotspots in the top 20 | ${total((s) => s.spikeFlaggedInTop20)} |`,
    `| spike sites in the top 20 at all (networks with fewer than 20 flags continue with unflagged sites) | ${total((s) => s.spikeInTop20)} |`,
    `| spike sites reported as spikes | ${share(
      total((s) => s.spikeReported),
      total((s) => s.spikeSites),
    )} |`,
  );
  const ranks = scores.flatMap((s) => s.plantedRanks);
  const strongLow = ranks.filter((r) => r.volume === 'low' && r.factor >= 3);
  const strongLowRanks = strongLow.map((r) => r.rank).sort((a, b) => a - b);
  lines.push(
    `| strong (≥3×) low-volume hotspots: median rank, worst rank | ${strongLowRanks[Math.floor(strongLowRanks.length / 2)] ?? '–'}, ${strongLowRanks.at(-1) ?? '–'} (${strongLow.length} sites) |`,
  );
  const roadDevices = total((s) => s.roadChangeDevices);
  const withChange = scores.filter((s) => s.roadChangeReported !== null);
  lines.push(
    `| road-wide 8× shift: devices reported as anomalies | ${total((s) => s.roadChangeDevicesFlagged)} of ${roadDevices} |`,
    `| road-wide 8× shift reported as a road change | ${withChange.filter((s) => s.roadChangeReported).length} of ${withChange.length} |`,
    `| broken device (10×) flagged | ${scores.filter((s) => s.brokenFlagged).length} of ${scores.length} |`,
    `| devices with a planted spike day in the watch window flagged | ${total((s) => s.spikeInWatchFlagged)} of ${total((s) => s.spikeInWatch)} |`,
    `| anomaly precision (broken / flagged devices without a spike in the window) | ${share(scores.filter((s) => s.brokenFlagged).length, scores.filter((s) => s.brokenFlagged).length + total((s) => s.otherDevicesFlagged))} |`,
    '',
    '95% EB interval coverage of the true expected count, by between-site k:',
    '',
    '| k | networks | ordinary sites covered | planted hotspots covered |',
    '| --- | --- | --- | --- |',
  );
  for (let i = 0; i + 1 < K_BINS.length; i++) {
    const inBin = scores.filter((s) => s.k >= K_BINS[i]! && s.k < K_BINS[i + 1]!);
    const ordinaryCov = inBin.flatMap((s) => s.coverage.filter((c) => !c.planted));
    const plantedCov = inBin.flatMap((s) => s.coverage.filter((c) => c.planted));
    lines.push(
      `| ${K_BINS[i]}–${Math.min(1, K_BINS[i + 1]!)} | ${inBin.length} | ${share(ordinaryCov.filter((c) => c.covered).length, ordinaryCov.length)} of ${ordinaryCov.length} | ${share(plantedCov.filter((c) => c.covered).length, plantedCov.length)} of ${plantedCov.length} |`,
    );
  }
  lines.push(
    '',
    'Before/after studies (θ: after count over the count expected without the fix; truth 1 − effect):',
    '',
    '| sites | effect | studies | mean θ | bias of θ | θ interval covers truth | significant drop | significant rise | mean naive ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const all = scores.flatMap((s) => s.studies);
  const groups: [string, number, NetworkScore['studies']][] = [
    ...[0, 0.2, 0.4, 0.6].map((effect): [string, number, NetworkScore['studies']] => [
      effect === 0 ? 'hotspot, high but unchanged' : 'treated hotspot',
      effect,
      all.filter((st) => st.kind === 'fix' && st.effect === effect),
    ]),
    ['RTM decoy (ordinary, highest before)', 0, all.filter((st) => st.kind === 'rtm')],
  ];
  for (const [label, effect, list] of groups) {
    const truth = 1 - effect;
    const mean = sum(list.map((st) => st.theta)) / Math.max(1, list.length);
    const naive = list.filter((st) => st.naive !== null);
    lines.push(
      `| ${label} | ${effect * 100}% | ${list.length} | ${mean.toFixed(3)} | ${(((mean - truth) / truth) * 100).toFixed(1)}% | ${share(list.filter((st) => st.interval[0] <= truth && truth <= st.interval[1]).length, list.length)} | ${share(list.filter((st) => st.interval[1] < 1).length, list.length)} | ${share(list.filter((st) => st.interval[0] > 1).length, list.length)} | ${(sum(naive.map((st) => st.naive!)) / Math.max(1, naive.length)).toFixed(3)} |`,
    );
  }
  const pooled = scores.flatMap((s) => (s.pooled ? [s.pooled] : []));
  const pooledMean = sum(pooled.map((p) => p.theta)) / Math.max(1, pooled.length);
  lines.push(
    `| 40% fix at all its sites at once (multi-site) | 40% | ${pooled.length} | ${pooledMean.toFixed(3)} | ${(((pooledMean - 0.6) / 0.6) * 100).toFixed(1)}% | ${share(pooled.filter((p) => p.interval[0] <= 0.6 && 0.6 <= p.interval[1]).length, pooled.length)} | ${share(pooled.filter((p) => p.interval[1] < 1).length, pooled.length)} | ${share(pooled.filter((p) => p.interval[0] > 1).length, pooled.length)} | – |`,
  );
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { networks: { type: 'string', default: '200' }, from: { type: 'string', default: '1' }, json: { type: 'string' } },
  });
  const count = Number(values.networks);
  const from = Number(values.from);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(from)) throw new RangeError('--networks and --from take whole numbers');
  const started = performance.now();
  const scores: NetworkScore[] = [];
  for (let seed = from; seed < from + count; seed++) scores.push(scoreNetwork(seed));
  console.log(report(scores));
  console.log(`\n${count} networks in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (values.json) writeFileSync(values.json, JSON.stringify(scores));
}
