import {
  benjaminiHochberg,
  binomialUpperTail,
  negativeBinomialTwoSided,
  normalQuantile,
  poissonMeanInterval,
  poissonUpperTail,
} from './analytics-distributions.js';
import { fitReferenceGroups, rateRatio } from './analytics-screening.js';
import { poissonCusum } from './rate-jump.js';

/**
 * Devices whose capture or exclusion rate departs from their own history (the Poisson CUSUM
 * the health scan uses, on daily instead of hourly counts) or from their peers (the peers'
 * median rate, tested with the negative binomial spread among peers: devices on different
 * sites differ by more than Poisson chance, and a plain Poisson test flags ordinary ones). A device that suddenly finds ten times more
 * violations is more likely broken or badly placed than the drivers got worse.
 */
export interface DeviceSeries {
  deviceId: string;
  /** Peer group keys, most specific first (e.g. kind+road, kind). */
  peerGroups: readonly string[];
  /** Index of the device's first day in the series; earlier days are before it existed. */
  firstDay: number;
  /** Approved + excluded captures per day: `baselineDays` of history, then `watchDays`. */
  total: readonly number[];
  excluded: readonly number[];
}

export interface AnomalySettings {
  baselineDays: number;
  watchDays: number;
  /** The rise the CUSUM is tuned to detect, and the rate ratio against peers worth flagging (or its inverse). */
  ratio: number;
  cusumThreshold: number;
  fdr: number;
  /** A peer comparison is flagged only when the observed or expected count reaches this. */
  minCount: number;
  minGroupSites: number;
}

export type AnomalyMetric = 'capture_rate' | 'exclusion_rate';
export type AnomalyBasis = 'own_history' | 'peers';

export interface AnomalyFinding {
  deviceId: string;
  metric: AnomalyMetric;
  basis: AnomalyBasis;
  observed: number;
  expected: number;
  rateRatio: number | null;
  interval: [number, number | null] | null;
  statistic: number;
  pValue: number;
  qValue: number | null;
  flagged: boolean;
  detail: Record<string, string | number | null>;
}

/**
 * One event a day: a quiet device's baseline never drops below it, so its first few
 * captures or exclusions do not look like a jump from nothing (as in the hourly health scan).
 */
const BASELINE_FLOOR_PER_DAY = 1;

/** Every device against its own history and its peers; q-values adjust the peer tests for their number. */
export function deviceAnomalies(devices: readonly DeviceSeries[], settings: AnomalySettings): AnomalyFinding[] {
  const own = devices.flatMap((device) => [
    ...ownHistory(device, 'capture_rate', device.total, settings),
    ...ownHistory(device, 'exclusion_rate', device.excluded, settings),
  ]);
  const peers = peerComparisons(devices, settings);
  const qValues = benjaminiHochberg(peers.map((finding) => finding.pValue));
  peers.forEach((finding, index) => {
    const qValue = qValues[index]!;
    const ratio = finding.rateRatio;
    const far = ratio === null || ratio >= settings.ratio || (finding.metric === 'capture_rate' && ratio <= 1 / settings.ratio);
    finding.qValue = qValue;
    finding.flagged = qValue <= settings.fdr && far && Math.max(finding.observed, finding.expected) >= settings.minCount;
  });
  return [...own, ...peers];
}

function ownHistory(device: DeviceSeries, metric: AnomalyMetric, counts: readonly number[], settings: AnomalySettings): AnomalyFinding[] {
  const baseline = counts.slice(device.firstDay, settings.baselineDays);
  const watched = counts.slice(settings.baselineDays, settings.baselineDays + settings.watchDays);
  // A device younger than one watch period of history has nothing to be compared with.
  if (baseline.length < settings.watchDays || watched.length === 0) return [];
  const baselineCount = sum(baseline);
  const observed = sum(watched);
  const baselineMean = baselineCount / baseline.length;
  // Daily counts vary more than a Poisson's (weekdays, weather): dividing by the baseline's
  // variance-to-mean ratio (quasi-Poisson) keeps the CUSUM's false-alarm rate what it is for
  // Poisson counts, where the ratio is 1 and nothing changes.
  const variance = baseline.reduce((total, count) => total + (count - baselineMean) ** 2, 0) / Math.max(1, baseline.length - 1);
  const dispersionIndex = baselineMean > 0 ? Math.max(1, variance / baselineMean) : 1;
  const scaled = (count: number) => count / dispersionIndex;
  const baselinePerDay = Math.max(scaled(baselineMean), BASELINE_FLOOR_PER_DAY);
  // poissonCusum is written for hours; its maths holds for any step, here a day.
  const cusum = poissonCusum(watched.map(scaled), {
    baselinePerHour: baselinePerDay,
    ratio: settings.ratio,
    threshold: settings.cusumThreshold,
  });
  const scaledObserved = Math.round(scaled(observed));
  const scaledBaseline = Math.round(scaled(baselineCount));
  const trend = rateRatio(scaledObserved, watched.length, scaledBaseline, baseline.length);
  return [
    {
      deviceId: device.deviceId,
      metric,
      basis: 'own_history',
      observed,
      expected: baselineMean * watched.length,
      rateRatio: trend?.rateRatio ?? null,
      interval: trend?.interval ?? null,
      statistic: Math.max(0, ...cusum.statistic),
      // Given all the events of both periods, how likely this many fell in the watched days by chance.
      pValue: binomialUpperTail(scaledObserved, scaledObserved + scaledBaseline, watched.length / (watched.length + baseline.length)),
      qValue: null,
      flagged: cusum.alarmAt !== null,
      detail: {
        baselinePerDay: baselineMean,
        dispersionIndex,
        alarmDay: cusum.alarmAt === null ? null : settings.baselineDays + cusum.alarmAt,
        changeDay: cusum.changeAt === null ? null : settings.baselineDays + cusum.changeAt,
      },
    },
  ];
}

function peerComparisons(devices: readonly DeviceSeries[], settings: AnomalySettings): AnomalyFinding[] {
  const window = devices.map((device) => {
    const from = Math.max(settings.baselineDays, device.firstDay);
    const days = settings.baselineDays + settings.watchDays - from;
    return {
      days,
      total: sum(device.total.slice(from, settings.baselineDays + settings.watchDays)),
      excluded: sum(device.excluded.slice(from, settings.baselineDays + settings.watchDays)),
    };
  });
  const membersOf = new Map<string, number[]>();
  devices.forEach((device, index) => {
    if (window[index]!.days <= 0) return;
    for (const group of device.peerGroups) {
      const members = membersOf.get(group) ?? [];
      members.push(index);
      membersOf.set(group, members);
    }
  });
  const watched = devices.flatMap((device, index) => (window[index]!.days > 0 ? [index] : []));
  const peerGroupOf = new Map(
    watched.map((index) => {
      const { peerGroups } = devices[index]!;
      return [index, peerGroups.find((key) => (membersOf.get(key)?.length ?? 0) > settings.minGroupSites) ?? peerGroups.at(-1) ?? ''];
    }),
  );
  const spread = fitReferenceGroups(
    watched.map((index) => ({
      observed: window[index]!.total,
      exposureDays: window[index]!.days,
      group: peerGroupOf.get(index)!,
      keys: devices[index]!.peerGroups,
    })),
    settings.fdr,
  );
  return watched.flatMap((index, position) => {
    const device = devices[index]!;
    const mine = window[index]!;
    const peerGroup = peerGroupOf.get(index)!;
    const peers = (membersOf.get(peerGroup) ?? []).filter((other) => other !== index).map((other) => window[other]!);
    if (peers.length === 0) return [];
    const { dispersion } = spread.members[position]!;
    const medianPerDay = median(peers.map((peer) => peer.total / peer.days));
    const captureExpected = medianPerDay * mine.days;
    const peerTotal = sum(peers.map((peer) => peer.total));
    const peerShare = peerTotal > 0 ? sum(peers.map((peer) => peer.excluded)) / peerTotal : 0;
    const exclusionExpected = peerShare * mine.total;
    const detail = { peers: peers.length, peerGroup, windowDays: mine.days };
    return [
      peerFinding(
        device.deviceId,
        'capture_rate',
        mine.total,
        captureExpected,
        negativeBinomialTwoSided(mine.total, captureExpected, dispersion),
        dispersion,
        { ...detail, peerMedianPerDay: medianPerDay, dispersion },
      ),
      // Fewer exclusions than peers is no fault, so only the upper tail counts.
      peerFinding(
        device.deviceId,
        'exclusion_rate',
        mine.excluded,
        exclusionExpected,
        poissonUpperTail(mine.excluded, exclusionExpected),
        0,
        {
          ...detail,
          peerShare,
          share: mine.total > 0 ? mine.excluded / mine.total : null,
        },
      ),
    ];
  });
}

function peerFinding(
  deviceId: string,
  metric: AnomalyMetric,
  observed: number,
  expected: number,
  pValue: number,
  dispersion: number,
  detail: AnomalyFinding['detail'],
): AnomalyFinding {
  const [low, high] = poissonMeanInterval(observed, 0.95);
  // The exact Poisson interval, widened on the log scale by the peers' spread (var of log rate ≈ k).
  const widen = Math.exp(normalQuantile(0.975) * Math.sqrt(dispersion));
  return {
    deviceId,
    metric,
    basis: 'peers',
    observed,
    expected,
    rateRatio: expected > 0 ? observed / expected : observed > 0 ? null : 1,
    interval: expected > 0 ? [low / expected / widen, (high / expected) * widen] : null,
    // How many standard deviations the count lies from what peers predict.
    statistic: expected > 0 ? (observed - expected) / Math.sqrt(expected + dispersion * expected * expected) : 0,
    pValue,
    qValue: null,
    flagged: false,
    detail,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
