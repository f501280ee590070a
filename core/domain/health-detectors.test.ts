import { describe, expect, it } from 'vitest';
import { detectRateJump, detectSensorFaults, detectSilence, detectVerificationGaps } from './health-detectors.js';

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 23, 8, minutes));

describe('detectSilence', () => {
  it('opens a window from the last heartbeat once silence passes the threshold', () => {
    expect(detectSilence(at(0), at(2), 180_000)).toEqual([]);
    expect(detectSilence(at(0), at(4), 180_000)).toEqual([
      expect.objectContaining({ source: 'heartbeat_silence', startsAt: at(0), endsAt: null }),
    ]);
    expect(detectSilence(null, at(100), 180_000)).toEqual([]);
  });
});

describe('detectVerificationGaps', () => {
  const cert = (reference: string, from: string, to: string) => ({
    kind: 'metrological_verification' as const,
    reference,
    validFrom: new Date(from),
    validTo: new Date(to),
  });

  it('finds the lapse between a certificate and its late renewal, and an open lapse', () => {
    const gaps = detectVerificationGaps(
      [cert('V1', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), cert('V2', '2026-01-10T00:00:00Z', '2026-06-01T00:00:00Z')],
      new Date('2026-11-23T00:00:00Z'),
    );
    expect(gaps.map((gap) => [gap.startsAt.toISOString(), gap.endsAt?.toISOString() ?? null])).toEqual([
      ['2026-01-01T00:00:00.000Z', '2026-01-10T00:00:00.000Z'],
      ['2026-06-01T00:00:00.000Z', null],
    ]);
  });

  it('sees no gap when the renewal overlaps', () => {
    expect(
      detectVerificationGaps(
        [cert('V1', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), cert('V2', '2025-12-01T00:00:00Z', '2027-01-01T00:00:00Z')],
        new Date('2026-11-23T00:00:00Z'),
      ),
    ).toEqual([]);
  });
});

describe('detectSensorFaults', () => {
  it('spans an implausible stretch from the first bad reading to the next good one', () => {
    const windows = detectSensorFaults([
      { capturedAt: at(0), readings: { speedKmh: 80 } },
      { capturedAt: at(1), readings: { speedKmh: 999 } },
      { capturedAt: at(2), readings: { speedKmh: 998 } },
      { capturedAt: at(3), readings: { speedKmh: 82 } },
    ]);
    expect(windows).toEqual([expect.objectContaining({ source: 'sensor_out_of_range', startsAt: at(1), endsAt: at(3) })]);
  });

  it('flags a stuck sensor from the first capture of the run', () => {
    const samples = Array.from({ length: 25 }, (_, index) => ({ capturedAt: at(index), readings: { speedKmh: 88 } }));
    expect(detectSensorFaults(samples)).toEqual([expect.objectContaining({ source: 'sensor_stuck', startsAt: at(0), endsAt: null })]);
    expect(detectSensorFaults(samples.slice(0, 20))).toEqual([]);
  });
});

describe('detectRateJump', () => {
  const settings = { ratio: 3, threshold: 10, baselineHours: 48 };

  it('dates a tenfold rise to the hour it began', () => {
    const counts = [...Array.from({ length: 48 }, (_, index) => 3 + (index % 3)), 4, 3, 40, 41, 39];
    const [window] = detectRateJump(counts, at(0), settings);
    expect(window?.startsAt).toEqual(new Date(at(0).getTime() + 50 * 3600 * 1000));
    expect(window?.reason).toMatch(/baseline of 4\.00\/h/);
  });

  it('stays quiet without a full baseline or a rise', () => {
    expect(detectRateJump([40, 40], at(0), settings)).toEqual([]);
    expect(
      detectRateJump(
        Array.from({ length: 60 }, () => 4),
        at(0),
        settings,
      ),
    ).toEqual([]);
  });
});
