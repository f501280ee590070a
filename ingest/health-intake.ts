import { parseStrictJson } from '../core/domain/strict-json.js';
import { envelopeSchema, healthReportSchema, type HealthReport } from '../core/domain/protocol.js';
import { signatureVerifies } from '../core/domain/capture-verifier.js';
import type { CapturePolicy } from '../core/domain/capture-policy.js';
import type { Db, Tx } from '../db/client.js';
import { closeWindow, openWindow, openWindowOf } from '../db/malfunction-windows.js';
import { appendAudit } from '../db/audit-log.js';
import { deviceHealthEvents, devices, malfunctionWindows } from '../db/schema.js';
import type { DeviceDirectory } from './device-directory.js';
import { and, eq, isNull, max, sql } from 'drizzle-orm';
import { sha256Hex } from '../core/infrastructure/media-store.js';

/** Why a health report was refused; docs/protocol.md lists the same codes. */
export const HEALTH_REFUSALS = {
  message_malformed: 'The message is not an I-JSON envelope with base64 manifest and signature',
  report_invalid: 'The report does not match the protocol schema',
  device_mismatch: 'The report names a different device than the topic it was published on',
  device_unknown: 'No device with this id is registered',
  signature_invalid: "The signature does not verify against the device's registered public key",
  device_revoked: "The device has been revoked; its key may be in anyone's hands",
  replayed: 'These exact bytes were already accepted',
  stale: 'The report is not newer than the last accepted report of its kind',
} as const;

export type HealthRefusalCode = keyof typeof HEALTH_REFUSALS;

export type HealthOutcome =
  | { accepted: true; kind: HealthReport['kind']; messageSha256: string }
  | { accepted: false; messageSha256: string; reason: { code: HealthRefusalCode; detail: string } };

const GATEWAY_ACTOR = 'system:ingest-gateway';

/**
 * Turns a device's signed reports about itself into health events and malfunction windows:
 * a fault report opens (or, with its end, closes) a window; a failed self-test or a clock off
 * by more than the limit opens one that the next good report closes; a heartbeat ends a
 * silence. Reports are signed like manifests: a forged "all is well" must not close a window.
 * A signature alone is not enough, because anyone on the broker can republish a device's old
 * signed bytes: a report counts only if the device is not revoked and the report is newer
 * than the last one of its kind.
 */
export class HealthIntake {
  constructor(
    private readonly db: Db,
    private readonly directory: DeviceDirectory,
    private readonly policy: Pick<CapturePolicy, 'maxClockOffsetMs'>,
  ) {}

  async ingest(topicDeviceId: string, payload: Buffer): Promise<HealthOutcome> {
    const messageSha256 = sha256Hex(payload);
    const refuse = (code: HealthRefusalCode, detail: string): HealthOutcome => ({
      accepted: false,
      messageSha256,
      reason: { code, detail },
    });
    const envelopeJson = parseStrictJson(payload);
    const envelopeParsed = envelopeJson.ok ? envelopeSchema.safeParse(envelopeJson.value) : undefined;
    if (!envelopeParsed?.success) {
      const problem = envelopeJson.ok ? '' : ` (${envelopeJson.problem})`;
      return refuse('message_malformed', `not a JSON envelope with base64 manifest and signature${problem}`);
    }
    const envelope = envelopeParsed.data;
    const bytes = Buffer.from(envelope.manifest, 'base64');
    const reportJson = parseStrictJson(bytes);
    if (!reportJson.ok) return refuse('report_invalid', `report: ${reportJson.problem}`);
    const parsed = healthReportSchema.safeParse(reportJson.value);
    if (!parsed.success)
      return refuse('report_invalid', parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    const report = parsed.data;
    if (report.deviceId !== topicDeviceId) return refuse('device_mismatch', `topic says ${topicDeviceId}, report says ${report.deviceId}`);
    const device = await this.directory.find(report.deviceId);
    if (!device) return refuse('device_unknown', `no registered device ${report.deviceId}`);
    if (!signatureVerifies(bytes, Buffer.from(envelope.signature, 'base64'), device.publicKey)) {
      return refuse('signature_invalid', 'signature does not verify');
    }
    // From here the bytes are the device's own, so a refusal says something about the device
    // (a leaked key, a replay on the broker) and goes into the audit log with the decision.
    return this.db.transaction(async (tx) => {
      // One report of a device at a time: two copies racing must not both pass the checks below.
      const [current] = await tx
        .select({ status: devices.status })
        .from(devices)
        .where(eq(devices.id, report.deviceId))
        .for('no key update');
      const refusal = await this.refusalOf(tx, current?.status, report, messageSha256);
      if (refusal) {
        await appendAudit(tx, {
          actor: GATEWAY_ACTOR,
          action: 'health_report.refused',
          subjectType: 'device',
          subjectId: report.deviceId,
          details: { ...refusal, messageSha256, kind: report.kind, reportedAt: report.reportedAt },
        });
        return { accepted: false, messageSha256, reason: refusal };
      }
      await tx
        .insert(deviceHealthEvents)
        .values({ deviceId: report.deviceId, kind: report.kind, reportedAt: new Date(report.reportedAt), payload: report, messageSha256 });
      await this.apply(tx, report);
      return { accepted: true, kind: report.kind, messageSha256 };
    });
  }

  /** Read under the device's row lock, so the answer still holds when the event is inserted. */
  private async refusalOf(
    tx: Tx,
    status: string | undefined,
    report: HealthReport,
    messageSha256: string,
  ): Promise<{ code: HealthRefusalCode; detail: string } | undefined> {
    if (status === 'revoked') return { code: 'device_revoked', detail: HEALTH_REFUSALS.device_revoked };
    const [seen] = await tx
      .select({ receivedAt: deviceHealthEvents.receivedAt })
      .from(deviceHealthEvents)
      .where(and(eq(deviceHealthEvents.deviceId, report.deviceId), eq(deviceHealthEvents.messageSha256, messageSha256)));
    if (seen) return { code: 'replayed', detail: `these bytes were accepted at ${seen.receivedAt.toISOString()}` };
    // A last will is signed when the connection opens, so it is older than the heartbeats sent
    // over that connection; it changes no window, so only the hash check above applies to it.
    if (report.kind === 'offline') return undefined;
    const [last] = await tx
      .select({ reportedAt: max(deviceHealthEvents.reportedAt) })
      .from(deviceHealthEvents)
      .where(and(eq(deviceHealthEvents.deviceId, report.deviceId), eq(deviceHealthEvents.kind, report.kind)));
    const lastAt = last?.reportedAt ? new Date(last.reportedAt) : undefined;
    if (lastAt && new Date(report.reportedAt) <= lastAt) {
      return {
        code: 'stale',
        detail: `reportedAt ${report.reportedAt} is not after the last accepted ${report.kind} of ${lastAt.toISOString()}`,
      };
    }
    return undefined;
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
