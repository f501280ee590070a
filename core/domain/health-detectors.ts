import { countsFrom, type CertificationPeriod } from './certification.js';
import { poissonCusum } from './rate-jump.js';
import { READING_LIMITS, outOfRange } from './sensor-plausibility.js';

/** A malfunction the scan infers; matched to stored windows by source and start. */
export interface DetectedWindow {
  source: 'heartbeat_silence' | 'verification_expired' | 'sensor_out_of_range' | 'sensor_stuck' | 'capture_rate_jump';
  startsAt: Date;
  endsAt: Date | null;
  reason: string;
}

/** Silence since the last heartbeat beyond `thresholdMs`: the device is presumed down from that heartbeat on. */
export function detectSilence(lastHeartbeatAt: Date | null, now: Date, thresholdMs: number): DetectedWindow[] {
  if (!lastHeartbeatAt || now.getTime() - lastHeartbeatAt.getTime() <= thresholdMs) return [];
  return [
    {
      source: 'heartbeat_silence',
      startsAt: lastHeartbeatAt,
      endsAt: null,
      reason: `no heartbeat for over ${Math.round(thresholdMs / 1000)} s`,
    },
  ];
}

/** Periods without a valid metrological verification, from each lapse to the next certificate (law: data from an expired meter is void). */
export function detectVerificationGaps(certifications: readonly CertificationPeriod[], now: Date): DetectedWindow[] {
  const verifications = certifications
    .filter((c) => c.kind === 'metrological_verification')
    .sort((a, b) => a.validFrom.getTime() - b.validFrom.getTime());
  const gaps: DetectedWindow[] = [];
  for (const certificate of verifications) {
    const lapse = certificate.validTo;
    if (lapse.getTime() > now.getTime()) continue;
    // A back-dated renewal counts from its recording until a second person confirms it.
    const covered = verifications.some(
      (other) => countsFrom(other).getTime() <= lapse.getTime() && lapse.getTime() < other.validTo.getTime(),
    );
    if (covered) continue;
    const next = verifications
      .filter((other) => countsFrom(other).getTime() > lapse.getTime())
      .sort((a, b) => countsFrom(a).getTime() - countsFrom(b).getTime())[0];
    gaps.push({
      source: 'verification_expired',
      startsAt: lapse,
      endsAt: next ? countsFrom(next) : null,
      reason: `metrological verification ${certificate.reference} expired`,
    });
  }
  return gaps;
}

export interface ReadingSample {
  capturedAt: Date;
  readings: Readonly<Record<string, number | string | boolean>>;
}

/**
 * Implausible or stuck sensor readings, over captures in time order: a window opens at the
 * first implausible capture and ends at the next plausible one; a run of identical values
 * longer than the quantity's limit is a stuck sensor from the run's first capture on.
 */
export function detectSensorFaults(samples: readonly ReadingSample[]): DetectedWindow[] {
  const windows: DetectedWindow[] = [];
  let implausible: DetectedWindow | undefined;
  const runs = new Map<string, { value: number; since: Date; length: number; reported: DetectedWindow | undefined }>();
  for (const sample of samples) {
    const problems = outOfRange(sample.readings);
    if (problems.length > 0 && !implausible) {
      implausible = { source: 'sensor_out_of_range', startsAt: sample.capturedAt, endsAt: null, reason: problems.join('; ') };
      windows.push(implausible);
    } else if (problems.length === 0 && implausible) {
      implausible.endsAt = sample.capturedAt;
      implausible = undefined;
    }
    for (const [name, limits] of Object.entries(READING_LIMITS)) {
      const value = sample.readings[name];
      if (typeof value !== 'number') continue;
      const run = runs.get(name);
      if (run && run.value === value) {
        run.length++;
        if (run.length > limits.maxIdenticalRun && !run.reported) {
          run.reported = {
            source: 'sensor_stuck',
            startsAt: run.since,
            endsAt: null,
            reason: `${name} stuck at ${value} for over ${limits.maxIdenticalRun} captures`,
          };
          windows.push(run.reported);
        }
      } else {
        if (run?.reported) run.reported.endsAt = sample.capturedAt;
        runs.set(name, { value, since: sample.capturedAt, length: 1, reported: undefined });
      }
    }
  }
  return windows;
}

export interface RateJumpSettings {
  ratio: number;
  threshold: number;
  /** Hours of the device's own history that set its baseline; the rest are watched. */
  baselineHours: number;
}

/** A sustained rise in hourly captures far above the device's own history (Poisson CUSUM). */
export function detectRateJump(hourlyCounts: readonly number[], firstHour: Date, settings: RateJumpSettings): DetectedWindow[] {
  const baseline = hourlyCounts.slice(0, settings.baselineHours);
  const watched = hourlyCounts.slice(settings.baselineHours);
  if (baseline.length < settings.baselineHours || watched.length === 0) return [];
  // A floor of one capture a day keeps a quiet device's first few captures from looking like a jump.
  const baselinePerHour = Math.max(baseline.reduce((sum, count) => sum + count, 0) / baseline.length, 1 / 24);
  const result = poissonCusum(watched, { baselinePerHour, ratio: settings.ratio, threshold: settings.threshold });
  if (result.alarmAt === null || result.changeAt === null) return [];
  const hour = 3600 * 1000;
  const startsAt = new Date(firstHour.getTime() + (settings.baselineHours + result.changeAt) * hour);
  const observed = watched.slice(result.changeAt, result.alarmAt + 1);
  const rate = observed.reduce((sum, count) => sum + count, 0) / observed.length;
  return [
    {
      source: 'capture_rate_jump',
      startsAt,
      endsAt: null,
      reason: `captures rose to ${rate.toFixed(1)}/h against a baseline of ${baselinePerHour.toFixed(2)}/h (CUSUM, ×${settings.ratio}, h=${settings.threshold})`,
    },
  ];
}

export interface HealthScanSettings {
  heartbeatSilenceMs: number;
  rateJump: RateJumpSettings;
  /** Hours after the baseline in which rate jumps are looked for. */
  watchHours: number;
}

export const DEFAULT_HEALTH_SCAN: HealthScanSettings = {
  heartbeatSilenceMs: 180_000,
  rateJump: { ratio: 3, threshold: 10, baselineHours: 14 * 24 },
  watchHours: 24,
};
