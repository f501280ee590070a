import { parseStrictJson } from '../core/strict-json.js';
import { envelopeSchema, healthReportSchema, type HealthReport } from '../core/protocol.js';
import { signatureVerifies } from '../core/capture-verifier.js';
import type { CapturePolicy } from '../core/capture-policy.js';
import type { Db, Tx } from '../db/client.js';
import { closeWindow, openWindow, openWindowOf } from '../db/malfunction-windows.js';
import { deviceHealthEvents, malfunctionWindows } from '../db/schema.js';
import type { DeviceDirectory } from './device-directory.js';
import { and, eq, isNull, sql } from 'drizzle-orm';

export type HealthOutcome = { accepted: true; kind: HealthReport['kind'] } | { accepted: false; problem: string };

/**
 * Turns a device's signed reports about itself into health events and malfunction windows:
 * a fault report opens (or, with its end, closes) a window; a failed self-test or a clock off
 * by more than the limit opens one that the next good report closes; a heartbeat ends a
 * silence. Reports are signed like manifests: a forged "all is well" must not close a window.
 */
export class HealthIntake {
  constructor(
    private readonly db: Db,
    private readonly directory: DeviceDirectory,
    private readonly policy: Pick<CapturePolicy, 'maxClockOffsetMs'>,
  ) {}

  async ingest(topicDeviceId: string, payload: Buffer): Promise<HealthOutcome> {
    const envelopeJson = parseStrictJson(payload);
    const envelopeParsed = envelopeJson.ok ? envelopeSchema.safeParse(envelopeJson.value) : undefined;
    if (!envelopeParsed?.success) {
      const problem = envelopeJson.ok ? '' : ` (${envelopeJson.problem})`;
      return { accepted: false, problem: `not a JSON envelope with base64 manifest and signature${problem}` };
    }
    const envelope = envelopeParsed.data;
    const bytes = Buffer.from(envelope.manifest, 'base64');
    const reportJson = parseStrictJson(bytes);
    if (!reportJson.ok) return { accepted: false, problem: `report: ${reportJson.problem}` };
    const parsed = healthReportSchema.safeParse(reportJson.value);
    if (!parsed.success)
      return { accepted: false, problem: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') };
    const report = parsed.data;
    if (report.deviceId !== topicDeviceId)
      return { accepted: false, problem: `topic says ${topicDeviceId}, report says ${report.deviceId}` };
    const device = await this.directory.find(report.deviceId);
    if (!device) return { accepted: false, problem: `no registered device ${report.deviceId}` };
    if (!signatureVerifies(bytes, Buffer.from(envelope.signature, 'base64'), device.publicKey)) {
      return { accepted: false, problem: 'signature does not verify' };
    }
    await this.db.transaction(async (tx) => {
      await tx
        .insert(deviceHealthEvents)
        .values({ deviceId: report.deviceId, kind: report.kind, reportedAt: new Date(report.reportedAt), payload: report });
      await this.apply(tx, report);
    });
    return { accepted: true, kind: report.kind };
  }

  private async apply(tx: Tx, report: HealthReport): Promise<void> {
    const at = new Date(report.reportedAt);
    const by = `device:${report.deviceId}`;
    switch (report.kind) {
      case 'fault_report':
        return this.applyFault(tx, report, by);
      case 'self_test':
        return this.toggle(tx, report.deviceId, 'self_test_failed', !report.passed, at, by, `self-test failed: ${report.detail}`);
      case 'clock_sync': {
        const off = Math.abs(report.offsetMs) > this.policy.maxClockOffsetMs;
        return this.toggle(
          tx,
          report.deviceId,
          'clock_offset',
          off,
          at,
          by,
          `clock off by ${report.offsetMs} ms (limit ${this.policy.maxClockOffsetMs} ms)`,
        );
      }
      case 'heartbeat':
        return this.toggle(tx, report.deviceId, 'heartbeat_silence', false, at, by, 'heartbeat resumed');
      case 'offline':
        return;
    }
  }

  /** Opens a window of `source` when `faulty` and none is open; closes the open one when not. */
  private async toggle(
    tx: Tx,
    deviceId: string,
    source: 'self_test_failed' | 'clock_offset' | 'heartbeat_silence',
    faulty: boolean,
    at: Date,
    by: string,
    reason: string,
  ): Promise<void> {
    const open = await openWindowOf(tx, deviceId, source);
    if (faulty && !open) await openWindow(tx, { deviceId, source, startsAt: at, endsAt: null, reason, recordedBy: by });
    if (!faulty && open && at > open.startsAt) await closeWindow(tx, open, at, by, reason);
  }

  /** One window per reported fault (code and start); a later report of its end closes it. */
  private async applyFault(tx: Tx, report: Extract<HealthReport, { kind: 'fault_report' }>, by: string): Promise<void> {
    const startsAt = new Date(report.startedAt);
    const endsAt = report.endedAt ? new Date(report.endedAt) : null;
    const [known] = await tx
      .select()
      .from(malfunctionWindows)
      .where(
        and(
          eq(malfunctionWindows.deviceId, report.deviceId),
          eq(malfunctionWindows.source, 'device_reported'),
          eq(malfunctionWindows.startsAt, startsAt),
          sql`${malfunctionWindows.detail}->>'code' = ${report.code}`,
          isNull(malfunctionWindows.withdrawnAt),
        ),
      );
    const reason = `device reported fault ${report.code}: ${report.detail}`;
    if (!known) {
      await openWindow(tx, {
        deviceId: report.deviceId,
        source: 'device_reported',
        startsAt,
        endsAt,
        reason,
        detail: { code: report.code },
        recordedBy: by,
      });
    } else if (endsAt && known.endsAt === null) {
      await closeWindow(tx, known, endsAt, by, reason);
    }
  }
}
