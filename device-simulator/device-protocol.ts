import { randomUUID, sign, type KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { sha256Hex } from '../core/infrastructure/media-store.js';
import { MAX_CHUNK_BYTES, PROTOCOL_VERSION, topics, type HealthReport, type Manifest } from '../core/domain/protocol.js';

/** The device side of docs/protocol.md: what any vendor's firmware has to do, in TypeScript. */

export interface MediaFile {
  name: string;
  contentType: 'image/jpeg' | 'video/mp4';
  capturedAt: Date;
  bytes: Buffer;
}

export interface CaptureDraft {
  deviceId: string;
  capturedAt: Date;
  clockOffsetMs: number;
  location: { latitude: number; longitude: number };
  violationType: string;
  readings: Record<string, number | string | boolean>;
  media: MediaFile[];
  captureId?: string;
}

export interface SignedCapture {
  manifest: Manifest;
  manifestBytes: Buffer;
  /** The captures-topic payload: `{"manifest": base64, "signature": base64}`. */
  envelope: Buffer;
  media: MediaFile[];
}

export function buildManifest(draft: CaptureDraft): Manifest {
  return {
    protocol: PROTOCOL_VERSION,
    captureId: draft.captureId ?? randomUUID(),
    deviceId: draft.deviceId,
    capturedAt: draft.capturedAt.toISOString(),
    clockOffsetMs: draft.clockOffsetMs,
    location: draft.location,
    violationType: draft.violationType,
    readings: draft.readings,
    media: draft.media.map((file) => ({
      name: file.name,
      sha256: sha256Hex(file.bytes),
      sizeBytes: file.bytes.length,
      contentType: file.contentType,
      capturedAt: file.capturedAt.toISOString(),
    })),
  };
}

/** Signs the manifest's exact bytes with Ed25519; the gateway verifies those same bytes. */
export function signManifest(manifest: Manifest, privateKey: KeyObject, media: MediaFile[]): SignedCapture {
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const signature = sign(null, manifestBytes, privateKey);
  const envelope = Buffer.from(JSON.stringify({ manifest: manifestBytes.toString('base64'), signature: signature.toString('base64') }));
  return { manifest, manifestBytes, envelope, media };
}

/** Signs a health report the same way as a manifest: the exact JSON bytes, in an envelope. */
export function signHealthReport(report: HealthReport, privateKey: KeyObject): Buffer {
  const bytes = Buffer.from(JSON.stringify(report), 'utf8');
  return Buffer.from(JSON.stringify({ manifest: bytes.toString('base64'), signature: sign(null, bytes, privateKey).toString('base64') }));
}

/** Splits a file into protocol chunks; each is published on its own topic. */
export function chunkMedia(bytes: Buffer, chunkBytes = MAX_CHUNK_BYTES): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) chunks.push(bytes.subarray(offset, offset + chunkBytes));
  return chunks;
}

/** Publishes every media chunk, then the manifest envelope, all at QoS 1. */
export async function publishCapture(
  client: MqttClient,
  topicRoot: string,
  capture: SignedCapture,
  options: { chunkBytes?: number } = {},
): Promise<void> {
  const { deviceId } = capture.manifest;
  for (const [index, file] of capture.media.entries()) {
    const item = capture.manifest.media[index];
    if (!item) throw new Error(`media ${file.name} is not in the manifest`);
    const chunks = chunkMedia(file.bytes, options.chunkBytes);
    await Promise.all(
      chunks.map((chunk, chunkIndex) =>
        client.publishAsync(topics.mediaChunk(topicRoot, deviceId, item.sha256, chunkIndex, chunks.length), chunk, { qos: 1 }),
      ),
    );
  }
  await client.publishAsync(topics.capture(topicRoot, deviceId), capture.envelope, { qos: 1 });
}
