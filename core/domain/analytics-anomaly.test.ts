import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceAnomalies, type AnomalySettings, type DeviceSeries } from './analytics-anomaly.js';
import { seededRandom } from './analytics-synthetic.js';

const settings: AnomalySettings = {
  baselineDays: 56,
  watchDays: 14,
  ratio: 3,
  cusumThreshold: 10,
  fdr: 0.05,
  minCount: 20,
  minGroupSites: 10,
};
const days = settings.baselineDays + settings.watchDays;

function fleet(seed: number, size = 100, options: { faulty?: (day: number) => number; excludedShare?: number } = {}): DeviceSeries[] {
  const random = seededRandom(seed);
  return Array.from({ length: size }, (_, i) => {
    // Devices differ in how busy their sites are, as real roads do.
    const perDay = (20 * random.gamma(20)) / 20;
    const total: number[] = [];
    const excluded: number[] = [];
    for (let day = 0; day < days; day++) {
      const count = random.poisson(perDay * (i === 0 && options.faulty ? options.faulty(day) : 1));
      total.push(count);
      excluded.push(random.poisson(count * (options.excludedShare ?? 0.01)));
    }
    return { deviceId: `cam-${i}`, peerGroups: ['traffic_camera|Ring Road', 'traffic_camera'], firstDay: 0, total, excluded };
  });
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const findingsOf = (findings: ReturnType<typeof deviceAnomalies>['findings'], deviceId: string) =>
  findings.filter((f) => f.deviceId === deviceId);

describe('deviceAnomalies', () => {
  it('flags a device whose capture rate jumped tenfold, against its history and its peers', () => {
    const devices = fleet(1, 100, { faulty: (day) => (day >= settings.baselineDays + 7 ? 10 : 1) });
    const findings = deviceAnomalies(devices, settings).findings;
    const own = findingsOf(findings, 'cam-0').find((f) => f.metric === 'capture_rate' && f.basis === 'own_history')!;
    const peers = findingsOf(findings, 'cam-0').find((f) => f.metric === 'capture_rate' && f.basis === 'peers')!;
    expect(own.flagged).toBe(true);
    expect(own.detail['changeDay']).toBe(settings.baselineDays + 7);
    expect(own.rateRatio!).toBeGreaterThan(4);
    expect(own.pValue).toBeLessThan(1e-10);
    expect(peers.flagged).toBe(true);
    expect(peers.rateRatio!).toBeGreaterThan(4);
    expect(peers.qValue!).toBeLessThan(0.05);
  });

  it('flags a device that nearly stopped capturing against its peers', () => {
    const devices = fleet(2, 100, { faulty: (day) => (day >= settings.baselineDays ? 0.05 : 1) });
    const peers = findingsOf(deviceAnomalies(devices, settings).findings, 'cam-0').find(
      (f) => f.metric === 'capture_rate' && f.basis === 'peers',
    )!;
    expect(peers.rateRatio!).toBeLessThan(1 / 3);
    expect(peers.flagged).toBe(true);
  });

  it('flags a device excluding far more of its captures than its peers', () => {
    const devices = fleet(3);
    const faulty = devices[0]!;
    const excluded = faulty.total.map((count, day) => (day >= settings.baselineDays ? Math.round(count * 0.5) : faulty.excluded[day]!));
    devices[0] = { ...faulty, excluded };
    const findings = findingsOf(deviceAnomalies(devices, settings).findings, 'cam-0');
    expect(findings.find((f) => f.metric === 'exclusion_rate' && f.basis === 'peers')!.flagged).toBe(true);
    expect(findings.find((f) => f.metric === 'exclusion_rate' && f.basis === 'own_history')!.flagged).toBe(true);
  });

  it('leaves an ordinary fleet alone', () => {
    let flagged = 0;
    for (let seed = 10; seed < 20; seed++) flagged += deviceAnomalies(fleet(seed), settings).findings.filter((f) => f.flagged).length;
    expect(flagged).toBe(0);
  });

  it('ignores a busy device whose peers are busy too, however large its counts', () => {
    const devices = fleet(4).map((device) => ({ ...device, total: device.total.map((count) => count * 100) }));
    expect(deviceAnomalies(devices, settings).findings.filter((f) => f.flagged)).toEqual([]);
  });

  it('does not judge a device younger than one watch period against its own history', () => {
    const devices = fleet(5);
    devices[0] = { ...devices[0]!, firstDay: settings.baselineDays - 5 };
    const own = findingsOf(deviceAnomalies(devices, settings).findings, 'cam-0').filter((f) => f.basis === 'own_history');
    expect(own).toEqual([]);
  });

  it('compares only over the days a device existed', () => {
    const devices = fleet(6);
    const total = devices[0]!.total.map((count, day) => (day < days - 7 ? 0 : count));
    devices[0] = { ...devices[0]!, firstDay: days - 7, total, excluded: total.map(() => 0) };
    const peers = findingsOf(deviceAnomalies(devices, settings).findings, 'cam-0').find(
      (f) => f.metric === 'capture_rate' && f.basis === 'peers',
    )!;
    expect(peers.detail['windowDays']).toBe(7);
    expect(peers.flagged).toBe(false);
  });

  it('falls back to a broader peer group when the specific one is small', () => {
    const devices = fleet(7).map((device, i) =>
      i < 3 ? { ...device, peerGroups: ['traffic_camera|Side Street', 'traffic_camera'] } : device,
    );
    const peers = findingsOf(deviceAnomalies(devices, settings).findings, 'cam-0').find((f) => f.basis === 'peers')!;
    expect(peers.detail['peerGroup']).toBe('traffic_camera');
    expect(peers.detail['peers']).toBe(99);
  });

  it('reports a road whose every camera rose together as one road change, not as broken cameras', () => {
    const devices = fleet(8).map((device) => ({
      ...device,
      total: device.total.map((count, day) => (day >= settings.baselineDays + 3 ? count * 8 : count)),
    }));
    const report = deviceAnomalies(devices, settings);
    expect(report.findings.filter((f) => f.flagged)).toEqual([]);
    expect(report.groupChanges).toHaveLength(1);
    expect(report.groupChanges[0]).toMatchObject({ peerGroup: 'traffic_camera|Ring Road', devices: 100, direction: 'rise' });
    expect(report.groupChanges[0]!.shifted.length).toBeGreaterThanOrEqual(90);
    expect(report.groupChanges[0]!.medianRateRatio).toBeGreaterThan(5);
  });

  it('does not call a steady hotspot camera an anomaly: it is busy against its peers but not against itself', () => {
    const devices = fleet(9);
    devices[0] = { ...devices[0]!, total: devices[0]!.total.map((count) => count * 6) };
    const findings = findingsOf(deviceAnomalies(devices, settings).findings, 'cam-0');
    const peers = findings.find((f) => f.metric === 'capture_rate' && f.basis === 'peers')!;
    expect(peers.detail['significant']).toBe(true);
    expect(findings.filter((f) => f.flagged)).toEqual([]);
  });

  it('flags a device that rose at least twice the flagging ratio against both, whatever the fleet (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 99 }),
        fc.double({ min: 6, max: 20, noNaN: true }),
        (seed, faulty, factor) => {
          const devices = fleet(seed, 60);
          const device = devices[faulty % 60]!;
          // A quiet site raised `factor` times its own history can still sit below `factor` times its
          // busier peers' median, so the rise is scaled to be `factor` against whichever is higher.
          const watchMean = (series: DeviceSeries) => mean(series.total.slice(settings.baselineDays));
          const peerMedian = median(devices.filter((other) => other !== device).map(watchMean));
          const rise = factor * Math.max(1, peerMedian / Math.max(watchMean(device), 1e-9));
          devices[faulty % 60] = {
            ...device,
            total: device.total.map((count, day) => (day >= settings.baselineDays ? Math.round(count * rise) : count)),
          };
          const report = deviceAnomalies(devices, settings);
          const flagged = new Set(report.findings.filter((f) => f.flagged).map((f) => f.deviceId));
          expect(flagged.has(device.deviceId)).toBe(true);
          expect(report.groupChanges).toEqual([]);
          // An ordinary device flagged would need both its own CUSUM and its peers to agree by chance.
          expect(flagged.size).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: 25 },
    );
  });
});
