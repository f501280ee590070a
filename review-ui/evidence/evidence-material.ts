import type { Manifest } from '../../core/domain/protocol.js';
import type { deviceKeys, devices, malfunctionWindows, mediaQuality, captures, tamperingFindings } from '../../db/schema.js';
import type { CertificationsFile } from './evidence-verifier.js';

/** An approved capture: the database's accepted_capture_is_complete constraint guarantees these columns. */
export type CaptureRow = typeof captures.$inferSelect & { capturedAt: Date; deviceId: string; deviceCaptureId: string };
export type KeyRow = typeof deviceKeys.$inferSelect;

export interface CaptureMaterial {
  row: CaptureRow;
  manifest: Manifest;
  manifestBytes: Buffer;
  key: KeyRow;
  media: { name: string; sha256: string; sizeBytes: number; contentType: string }[];
  quality: (typeof mediaQuality.$inferSelect)[];
}

export interface DeviceView {
  id: string;
  device: typeof devices.$inferSelect;
  certifications: CertificationsFile['certifications'];
  faults: { kind: string; reportedAt: string; payload: unknown }[];
  heartbeatHours: number;
  period: { from: Date; to: Date };
  windows: (typeof malfunctionWindows.$inferSelect)[];
  findings: (typeof tamperingFindings.$inferSelect)[];
}
