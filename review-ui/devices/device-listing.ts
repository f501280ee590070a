import { certificationGapsAt, type CertificationGap } from '../../core/domain/certification.js';
import type { Db } from '../../db/client.js';
import { listAllCertifications, listDeviceRows } from '../../db/devices.js';
import { keyFingerprint } from './key-fingerprint.js';

export interface CertificationView {
  id: string;
  kind: CertificationGap['kind'];
  reference: string;
  validFrom: Date;
  validTo: Date;
  documentSha256: string | null;
  recordedAt: Date;
  recordedBy: string | null;
  /** Set once a second person confirmed a back-dated record. */
  confirmedAt: Date | null;
  confirmedBy: string | null;
}

export interface DeviceView {
  id: string;
  kind: string;
  model: string;
  serial: string;
  agency: string;
  status: string;
  road: string;
  direction: string;
  latitude: number;
  longitude: number;
  enrolledAt: Date;
  keyFingerprint: string;
  certifications: CertificationView[];
  /** Judged by the same rule the gateway applies to a capture made at `at`. */
  certifiedNow: boolean;
  certificationGaps: CertificationGap[];
}

/** The whole fleet as the registry page shows it, with each device's standing at `at`. */
export async function listDevices(db: Db, at: Date): Promise<DeviceView[]> {
  const [rows, records] = await Promise.all([listDeviceRows(db), listAllCertifications(db)]);
  const certifications = records.map(
    ({ id, deviceId, kind, reference, validFrom, validTo, documentSha256, recordedAt, recordedBy, confirmedAt, confirmedBy }) => ({
      id,
      deviceId,
      kind,
      reference,
      validFrom,
      validTo,
      documentSha256,
      recordedAt,
      recordedBy,
      confirmedAt,
      confirmedBy,
    }),
  );
  const byDevice = new Map<string, CertificationView[]>();
  for (const { deviceId, ...certification } of certifications) {
    byDevice.set(deviceId, [...(byDevice.get(deviceId) ?? []), certification]);
  }
  return rows.map(({ publicKeyPem, ...device }) => {
    const own = byDevice.get(device.id) ?? [];
    const gaps = certificationGapsAt(own, at);
    return {
      ...device,
      keyFingerprint: keyFingerprint(publicKeyPem),
      certifications: own,
      certifiedNow: gaps.length === 0,
      certificationGaps: gaps,
    };
  });
}
