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
  detail: Record<string, string | number | boolean | null>;
}

/**
 * A shift that most devices of one peer group show at once: the road (or the drivers on it)
 * changed, not the devices. Reported once for the group; its devices are not anomalies.
 */
export interface GroupChange {
  peerGroup: string;
  devices: number;
  /** Devices of the group whose own history alarmed (rise) or fell below 1/ratio (drop). */
  shifted: string[];
  direction: 'rise' | 'drop';
  /** Median over the shifted devices of their watched rate over their baseline rate. */
  medianRateRatio: number;
  /** Median of the shifted devices' change days (series index). */
  changeDay: number | null;
}

export interface AnomalyReport {
  findings: AnomalyFinding[];
  groupChanges: GroupChange[];
}

/** At least this share of a peer group shifting together is a change of the road, not of its devices. */
const SHARED_SHIFT_SHARE = 0.5;
/** A group needs this many devices before their shifting together says anything about the road. */
const SHARED_SHIFT_MIN_DEVICES = 3;

/**
 * One event a day: a quiet device's baseline never drops below it, so its first few
 * captures or exclusions do not look like a jump from nothing (as in the hourly health scan).
 */
const BASELINE_FLOOR_PER_DAY = 1;

/**
 * Every device against its own history and its peers. A device is an anomaly only when it is
 * new against both at once: a steady hotspot's camera is busy against its peers but not
 * against itself, and a road whose every camera rose together is new against each camera's
 * history but not against its peers. So a capture-rate finding is flagged when the device's
 * own history shifted (the CUSUM alarmed for a rise, or its rate fell below 1/ratio of its
 * baseline), the peer test is significant in the same direction, and the device's peer group
 * did not shift with it; when half or more of a group shifted, that is one group change.
 * Exclusion-rate findings follow the same rule with their own-history CUSUM. A device too
 * young to have a history is judged by its peers alone. q-values adjust the peer tests for
 * their number.
 */
export function deviceAnomalies(devices: readonly DeviceSeries[], settings: AnomalySettings): AnomalyReport {
  const own = devices.flatMap((device) => [
    ...ownHistory(device, 'capture_rate', device.total, settings),
    ...ownHistory(device, 'exclusion_rate', device.excluded, settings),
  ]);
  const peers = peerComparisons(devices, settings);
  const qValues = benjaminiHochberg(peers.map((finding) => finding.pValue));
  const key = (finding: AnomalyFinding) => `${finding.deviceId}\u0000${finding.metric}`;
  const peerSignificant = new Map<string, 'rise' | 'drop' | null>();
  peers.forEach((finding, index) => {
    const qValue = qValues[index]!;
    const ratio = finding.rateRatio;
    const direction =
      ratio === null || ratio >= settings.ratio ? 'rise' : finding.metric === 'capture_rate' && ratio <= 1 / settings.ratio ? 'drop' : null;
    finding.qValue = qValue;
    const significant = qValue <= settings.fdr && direction !== null && Math.max(finding.observed, finding.expected) >= settings.minCount;
    peerSignificant.set(key(finding), significant ? direction : null);
    finding.detail['significant'] = significant;
  });
  // A CUSUM alarm alone can come from a few busy days at a busy, variable site; the rise
  // must also stand as a whole against the baseline, adjusted for every device tested.
  benjaminiHochberg(own.map((finding) => finding.pValue)).forEach((qValue, index) => (own[index]!.qValue = qValue));
  const ownShift = new Map(own.map((finding) => [key(finding), shiftOf(finding, settings)]));
  const groupChanges = sharedShifts(devices, own, settings);
  const inChangedGroup = new Set(
    groupChanges.flatMap((change) => devices.filter((d) => d.peerGroups[0] === change.peerGroup).map((d) => d.deviceId)),
  );
  for (const finding of [...own, ...peers]) {
    const shift = ownShift.get(key(finding));
    const peer = peerSignificant.get(key(finding));
    // No own history (a young device): its peers are all there is to judge it by.
    const ownAgrees = shift === undefined ? true : shift !== null && shift === peer;
    finding.flagged = peer !== undefined && peer !== null && ownAgrees && !inChangedGroup.has(finding.deviceId);
    if (inChangedGroup.has(finding.deviceId))
      finding.detail['sharedShift'] = devices.find((d) => d.deviceId === finding.deviceId)!.peerGroups[0] ?? null;
  }
  return { findings: [...own, ...peers], groupChanges };
}

/** How a device's own history shifted: a CUSUM alarm or a watched rate at least `ratio` times the baseline's, significant (q ≤ fdr), is a rise; a watched rate below 1/ratio of the baseline a drop (the CUSUM only looks up). */
function shiftOf(finding: AnomalyFinding, settings: AnomalySettings): 'rise' | 'drop' | null {
  const ratio = finding.rateRatio;
  // At a quiet device the CUSUM's floor of one event a day hides a rise that the watched
  // days' total shows: a ratio of `ratio` or more counts as well.
  const risen = finding.detail['alarmDay'] !== null || (ratio !== null && ratio >= settings.ratio);
  if (risen && (finding.qValue ?? 1) <= settings.fdr) return 'rise';
  return finding.metric === 'capture_rate' && ratio !== null && ratio <= 1 / settings.ratio && finding.expected >= settings.minCount
    ? 'drop'
    : null;
}

/** Peer groups (each device's most specific) where half or more of the devices shifted the same way. */
function sharedShifts(devices: readonly DeviceSeries[], own: readonly AnomalyFinding[], settings: AnomalySettings): GroupChange[] {
  const capture = new Map(own.filter((f) => f.metric === 'capture_rate').map((f) => [f.deviceId, f]));
  const groups = new Map<string, DeviceSeries[]>();
  for (const device of devices) {
    const group = device.peerGroups[0];
    if (group === undefined) continue;
    groups.set(group, [...(groups.get(group) ?? []), device]);
  }
  const changes: GroupChange[] = [];
  for (const [peerGroup, members] of groups) {
    if (members.length < SHARED_SHIFT_MIN_DEVICES) continue;
    for (const direction of ['rise', 'drop'] as const) {
      const shifted = members.flatMap((device) => {
        const finding = capture.get(device.deviceId);
        return finding && shiftOf(finding, settings) === direction ? [finding] : [];
      });
      if (shifted.length < SHARED_SHIFT_MIN_DEVICES || shifted.length < SHARED_SHIFT_SHARE * members.length) continue;
      const changeDays = shifted.flatMap((f) => (typeof f.detail['changeDay'] === 'number' ? [f.detail['changeDay']] : []));
      changes.push({
        peerGroup,
        devices: members.length,
        shifted: shifted.map((f) => f.deviceId).sort(),
        direction,
        medianRateRatio: median(shifted.map((f) => f.rateRatio ?? Number.POSITIVE_INFINITY)),
        changeDay: changeDays.length > 0 ? Math.round(median(changeDays)) : null,
      });
    }
  }
  return changes;
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
      flagged: false,
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
