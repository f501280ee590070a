import type { HealthReport } from '../core/domain/protocol.js';
import { PROTOCOL_VERSION } from '../core/domain/protocol.js';

/** What a simulated device can be made to get wrong, one kind of malfunction each. */
export const FAULT_KINDS = ['fault_report', 'self_test', 'clock_offset', 'silence', 'stuck_sensor', 'implausible_reading'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The device's state the capture loop and heartbeat read; faults change it for a while. */
export interface DeviceCondition {
  silent: boolean;
  /** Replaces the measured speed: a stuck or broken sensor. */
  speedOverrideKmh: number | undefined;
}

/** One report kind's own fields, without the envelope ones every report shares. */
type ReportBody = HealthReport extends infer Report
  ? Report extends HealthReport
    ? Omit<Report, 'protocol' | 'deviceId' | 'reportedAt'>
    : never
  : never;

/**
 * Injects one malfunction into a simulated device and ends it after `durationMs`, sending the
 * health reports a real device would (or, for silence, not sending its heartbeats), so the
 * demo shows captures being excluded and re-admitted.
 */
export async function injectFault(
  kind: FaultKind,
  device: { id: string; condition: DeviceCondition; report: (report: HealthReport) => Promise<void> },
  durationMs: number,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  const send = (body: ReportBody, at = new Date()) =>
    device.report({ protocol: PROTOCOL_VERSION, deviceId: device.id, reportedAt: at.toISOString(), ...body });
  const startedAt = new Date().toISOString();
  switch (kind) {
    case 'fault_report':
      await send({ kind: 'fault_report', code: 'SIM_LENS_FOG', detail: 'simulated: lens fogged', startedAt, endedAt: null });
      await wait(durationMs);
      await send({
        kind: 'fault_report',
        code: 'SIM_LENS_FOG',
        detail: 'simulated: lens clear again',
        startedAt,
        endedAt: new Date().toISOString(),
      });
      return;
    case 'self_test':
      await send({ kind: 'self_test', passed: false, detail: 'simulated: IR flash did not fire' });
      await wait(durationMs);
      await send({ kind: 'self_test', passed: true, detail: 'simulated: all checks passed' });
      return;
    case 'clock_offset':
      await send({ kind: 'clock_sync', offsetMs: 2400 });
      await wait(durationMs);
      await send({ kind: 'clock_sync', offsetMs: 15 });
      return;
    case 'silence':
      device.condition.silent = true;
      await wait(durationMs);
      device.condition.silent = false;
      return;
    case 'stuck_sensor':
    case 'implausible_reading':
      device.condition.speedOverrideKmh = kind === 'stuck_sensor' ? 88 : 612;
      await wait(durationMs);
      device.condition.speedOverrideKmh = undefined;
      return;
  }
}
