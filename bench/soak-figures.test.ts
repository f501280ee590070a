import { describe, expect, it } from 'vitest';
import { countCaptures, ingestLatencies, rssTrend, type RssSample, type StoredCapture } from './soak-figures.js';

const MB = 1024 * 1024;

describe('rssTrend', () => {
  const samples = (slopeMbPerMinute: number): RssSample[] =>
    Array.from({ length: 60 }, (_, index) => ({
      role: 'ingest',
      atMs: index * 10_000,
      // A sawtooth of garbage collections on top of the trend.
      rssBytes: (150 + slopeMbPerMinute * (index / 6) + (index % 3) * 2) * MB,
    }));

  it('finds the slope after warm-up and puts zero inside the interval of a flat series', () => {
    const flat = rssTrend(samples(0), 'ingest', 60_000, 600_000)!;
    expect(Math.abs(flat.slopeMbPerMinute)).toBeLessThan(0.2);
    expect(flat.slope95[0]).toBeLessThan(0);
    expect(flat.slope95[1]).toBeGreaterThan(0);
  });

  it('reports a leak as a slope whose interval excludes zero', () => {
    const leaking = rssTrend(samples(3.2), 'ingest', 60_000, 600_000)!;
    expect(leaking.slopeMbPerMinute).toBeCloseTo(3.2, 0);
    expect(leaking.slope95[0]).toBeGreaterThan(2.5);
    // Samples at 60 s … 590 s.
    expect(leaking.samples).toBe(54);
  });

  it('skips the warm-up samples and other roles', () => {
    const withWarmup = [...samples(0).map((sample) => ({ ...sample, atMs: sample.atMs + 180_000 }))];
    withWarmup.unshift({ role: 'ingest', atMs: 0, rssBytes: 10 * MB }, { role: 'workers', atMs: 200_000, rssBytes: 900 * MB });
    const trend = rssTrend(withWarmup, 'ingest', 180_000, Infinity)!;
    expect(trend.firstMb).toBe(150);
    expect(trend.maxMb).toBeLessThan(160);
  });
});

const row = (id: string, state: string, settledAt?: number, quarantineCodes: string[] = []): StoredCapture => ({
  deviceId: 'SIM-CAM-0001',
  deviceCaptureId: id,
  state,
  settledAt: settledAt === undefined ? undefined : new Date(settledAt),
  quarantineCodes,
});
const published = (...ids: string[]) => new Set(ids.map((id) => `SIM-CAM-0001/${id}`));

describe('countCaptures', () => {
  it('accounts for every published capture once: accepted, quarantined or in flight', () => {
    const counts = countCaptures(published('a', 'b', 'c', 'd', 'e'), [
      row('a', 'awaiting_review'),
      row('b', 'verified'),
      row('c', 'quarantined', 1, ['media_incomplete']),
      row('d', 'received'),
    ]);
    expect(counts).toMatchObject({ published: 5, accepted: 2, quarantined: 1, inFlight: 2, lost: 1, duplicated: 0, reachedReview: 1 });
    expect(counts.quarantineReasons).toEqual({ media_incomplete: 1 });
    expect(counts.accepted + counts.quarantined + counts.inFlight).toBe(counts.published);
  });

  it('finds duplicate rows and rows nobody published', () => {
    const counts = countCaptures(published('a'), [row('a', 'verified'), row('a', 'verified'), row('z', 'verified')]);
    expect(counts.duplicated).toBe(1);
    expect(counts.unexpected).toBe(1);
  });
});

describe('ingestLatencies', () => {
  it('measures from the envelope on the broker to the commit, and sets apart waits an outage overlapped', () => {
    const seen = new Map([
      ['SIM-CAM-0001/a', 1000],
      ['SIM-CAM-0001/b', 2000],
      ['SIM-CAM-0001/c', 3000],
    ]);
    const rows = [row('a', 'verified', 1100), row('b', 'verified', 25_000), row('c', 'received')];
    const { all, outsideOutages } = ingestLatencies(seen, rows, [{ startedAt: 5000, endedAt: 20_000 }]);
    expect(all).toMatchObject({ count: 2, p50: 100, max: 23_000 });
    expect(outsideOutages).toMatchObject({ count: 1, p99: 100 });
  });
});
