import { and, asc, gt, inArray, isNull, lt, or, eq } from 'drizzle-orm';
import type { Executor } from './client.js';
import type { CertificationRow, DeviceKeyRow, DeviceRow } from './devices.js';
import type { WindowRow } from './malfunction-windows.js';
import { captureMedia, deviceCertifications, deviceKeys, devices, malfunctionWindows, media, mediaQuality } from './schema.js';

/**
 * The device as it stood around one or more captures: the record the reviewer reads, the
 * approval checks and the evidence package carries, read in one place so the three agree.
 */
export interface DeviceAtCapture {
  device: DeviceRow;
  /** Every certification record of the device, oldest first: gaps at a moment need the neighbours too. */
  certifications: CertificationRow[];
  /** The key history, oldest first: which key was valid at capture time is decided from it. */
  keys: DeviceKeyRow[];
  /** Windows of the device overlapping the period, withdrawn ones included (they stay on record). */
  windows: WindowRow[];
}

export async function deviceAtCapture(
  executor: Executor,
  deviceId: string,
  period: { from: Date; to: Date },
): Promise<DeviceAtCapture | undefined> {
  const [device] = await executor.select().from(devices).where(eq(devices.id, deviceId));
  if (!device) return undefined;
  // One after another: inside a transaction the executor is one connection, which runs one query at a time.
  const certifications = await executor
    .select()
    .from(deviceCertifications)
    .where(eq(deviceCertifications.deviceId, deviceId))
    .orderBy(asc(deviceCertifications.validFrom));
  const keys = await executor.select().from(deviceKeys).where(eq(deviceKeys.deviceId, deviceId)).orderBy(asc(deviceKeys.validFrom));
  const windows = await executor
    .select()
    .from(malfunctionWindows)
    .where(
      and(
        eq(malfunctionWindows.deviceId, deviceId),
        lt(malfunctionWindows.startsAt, period.to),
        or(isNull(malfunctionWindows.endsAt), gt(malfunctionWindows.endsAt, period.from)),
      ),
    )
    .orderBy(asc(malfunctionWindows.startsAt));
  return { device, certifications, keys, windows };
}

export interface LinkedMedium {
  captureId: string;
  name: string;
  sha256: string;
  contentType: string;
  sizeBytes: number;
  /** As the gateway decoded it; null when it could not. */
  width: number | null;
  height: number | null;
  quality: typeof mediaQuality.$inferSelect | null;
}

/** The media linked to these captures, by capture and name, each with its quality measures once measured. */
export async function linkedMedia(executor: Executor, captureIds: readonly string[]): Promise<LinkedMedium[]> {
  if (captureIds.length === 0) return [];
  const rows = await executor
    .select({
      captureId: captureMedia.captureId,
      name: captureMedia.name,
      sha256: media.sha256,
      contentType: media.contentType,
      sizeBytes: media.sizeBytes,
      width: media.width,
      height: media.height,
      quality: mediaQuality,
    })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .leftJoin(mediaQuality, eq(mediaQuality.sha256, media.sha256))
    .where(inArray(captureMedia.captureId, [...captureIds]))
    .orderBy(asc(captureMedia.captureId), asc(captureMedia.name));
  return rows;
}
