import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../core/domain/protocol.js';
import { injectFault, type DeviceCondition } from './fault-injector.js';

function simulatedDevice() {
  const reports: HealthReport[] = [];
  const condition: DeviceCondition = { silent: false, speedOverrideKmh: undefined };
  const seen: { silent: boolean; speed: number | undefined }[] = [];
  const wait = async () => {
    seen.push({ silent: condition.silent, speed: condition.speedOverrideKmh });
  };
  return {
    device: { id: 'SIM-CAM-0001', condition, report: async (report: HealthReport) => void reports.push(report) },
    reports,
    seen,
    wait,
  };
}

describe('injectFault', () => {
  it('reports a fault and later its end, under the same code and start', async () => {
    const { device, reports, wait } = simulatedDevice();
    await injectFault('fault_report', device, 1000, wait);
    expect(reports.map((report) => report.kind)).toEqual(['fault_report', 'fault_report']);
    const [start, end] = reports as Extract<HealthReport, { kind: 'fault_report' }>[];
    expect(start!.endedAt).toBeNull();
    expect(end!.startedAt).toBe(start!.startedAt);
    expect(end!.endedAt).not.toBeNull();
  });

  it('fails then passes a self-test, and skews then fixes the clock', async () => {
    const selfTest = simulatedDevice();
    await injectFault('self_test', selfTest.device, 1000, selfTest.wait);
    expect(selfTest.reports.map((report) => (report.kind === 'self_test' ? report.passed : null))).toEqual([false, true]);
    const clock = simulatedDevice();
    await injectFault('clock_offset', clock.device, 1000, clock.wait);
    expect(clock.reports.map((report) => (report.kind === 'clock_sync' ? Math.abs(report.offsetMs) > 1000 : null))).toEqual([true, false]);
  });

  it('silences heartbeats or overrides the sensor only while the fault lasts', async () => {
    for (const [kind, during] of [
      ['silence', { silent: true, speed: undefined }],
      ['stuck_sensor', { silent: false, speed: 88 }],
      ['implausible_reading', { silent: false, speed: 612 }],
    ] as const) {
      const { device, seen, wait, reports } = simulatedDevice();
      await injectFault(kind, device, 1000, wait);
      expect(seen).toEqual([during]);
      expect(device.condition).toEqual({ silent: false, speedOverrideKmh: undefined });
      expect(reports).toEqual([]);
    }
  });
});
