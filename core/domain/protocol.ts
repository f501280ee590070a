import { z } from 'zod';

/** Version string every manifest carries; docs/protocol.md describes this version. */
export const PROTOCOL_VERSION = 'verity/2';

/**
 * Versions the gateway reads. Version 1 differs only in its acknowledgements (plain, unsigned
 * JSON), so a v1 device keeps working through its deprecation period; docs/protocol.md lists its weaknesses.
 */
export const ACCEPTED_PROTOCOL_VERSIONS = ['verity/1', 'verity/2'] as const;

export type ProtocolVersion = (typeof ACCEPTED_PROTOCOL_VERSIONS)[number];

/** The last day (UTC) the gateway accepts `verity/1` messages, as docs/protocol.md announces. */
export const V1_ACCEPTED_UNTIL = '2027-06-30';

/** Media is sent in chunks of at most this many bytes, so a 50 MB clip fits any broker's limits. */
export const MAX_CHUNK_BYTES = 256 * 1024;
export const MAX_MEDIA_BYTES = 64 * 1024 * 1024;
export const MAX_CAPTURE_MESSAGE_BYTES = 64 * 1024;

const deviceIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const sha256Pattern = /^[0-9a-f]{64}$/;

/**
 * An RFC 3339 date-time with its offset. RFC 3339 (section 5.6) allows `t` and `z` in lower
 * case, and a device following it must not be refused for that; the value is read in upper
 * case, which changes nothing else in a date-time. The signature covers the bytes as sent.
 */
const dateTimeSchema = z.preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), z.iso.datetime({ offset: true }));

export const deviceIdSchema = z.string().regex(deviceIdPattern, 'device id: 1-64 letters, digits, _ . -');

export const mediaItemSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'media name: 1-64 letters, digits, _ . -'),
  sha256: z.string().regex(sha256Pattern, 'sha256: 64 lowercase hex digits'),
  sizeBytes: z.number().int().positive().max(MAX_MEDIA_BYTES),
  contentType: z.enum(['image/jpeg', 'video/mp4']),
  capturedAt: dateTimeSchema,
});

export const manifestSchema = z
  .strictObject({
    protocol: z.enum(ACCEPTED_PROTOCOL_VERSIONS),
    captureId: z.uuid(),
    deviceId: deviceIdSchema,
    capturedAt: dateTimeSchema,
    clockOffsetMs: z.number().finite(),
    location: z.strictObject({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
    }),
    violationType: z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'violation type: snake_case'),
    readings: z.record(z.string(), z.union([z.number().finite(), z.string().max(256), z.boolean()])),
    media: z.array(mediaItemSchema).min(1).max(16),
  })
  // The id is compared as written, so one UUID in two spellings would be two captures; v1 devices keep their spelling until v1 ends.
  .refine((manifest) => manifest.protocol === 'verity/1' || manifest.captureId === manifest.captureId.toLowerCase(), {
    path: ['captureId'],
    message: 'captureId: write the UUID in lower case',
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type MediaItem = z.infer<typeof mediaItemSchema>;

/** What a device publishes on its captures topic: the manifest's exact bytes and their signature. */
export const envelopeSchema = z.strictObject({
  manifest: z.base64().min(1),
  signature: z.base64().min(1),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** A device's report about itself, sent in the same signed envelope as a manifest. */
const healthBase = { protocol: z.enum(ACCEPTED_PROTOCOL_VERSIONS), deviceId: deviceIdSchema, reportedAt: dateTimeSchema };

export const healthReportSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...healthBase, kind: z.literal('heartbeat') }),
  z.strictObject({ ...healthBase, kind: z.literal('self_test'), passed: z.boolean(), detail: z.string().max(2000) }),
  z.strictObject({
    ...healthBase,
    kind: z.literal('fault_report'),
    code: z.string().min(1).max(100),
    detail: z.string().max(2000),
    startedAt: dateTimeSchema,
    endedAt: dateTimeSchema.nullable(),
  }),
  z.strictObject({ ...healthBase, kind: z.literal('clock_sync'), offsetMs: z.number().finite() }),
  z.strictObject({ ...healthBase, kind: z.literal('offline') }),
]);

export type HealthReport = z.infer<typeof healthReportSchema>;

export type DeviceTopic =
  | { kind: 'capture'; deviceId: string }
  | { kind: 'health'; deviceId: string }
  | { kind: 'media-chunk'; deviceId: string; sha256: string; chunkIndex: number; chunkCount: number };

/** Topic names under a root such as `verity/v1`; the root keeps test runs and tenants apart. */
export const topics = {
  capture: (root: string, deviceId: string) => `${root}/devices/${deviceId}/captures`,
  mediaChunk: (root: string, deviceId: string, sha256: string, chunkIndex: number, chunkCount: number) =>
    `${root}/devices/${deviceId}/media/${sha256}/${chunkIndex}/${chunkCount}`,
  ack: (root: string, deviceId: string) => `${root}/devices/${deviceId}/acks`,
  health: (root: string, deviceId: string) => `${root}/devices/${deviceId}/health`,
  gatewaySubscriptions: (root: string) => [`${root}/devices/+/captures`, `${root}/devices/+/media/+/+/+`, `${root}/devices/+/health`],
};

/** Reads a device-originated topic; undefined when it is not one this gateway handles. */
export function parseDeviceTopic(root: string, topic: string): DeviceTopic | undefined {
  if (!topic.startsWith(`${root}/devices/`)) return undefined;
  const levels = topic.slice(root.length + '/devices/'.length).split('/');
  const [deviceId, kind, sha256, index, count] = levels;
  if (deviceId === undefined || !deviceIdPattern.test(deviceId)) return undefined;
  if (kind === 'captures' && levels.length === 2) return { kind: 'capture', deviceId };
  if (kind === 'health' && levels.length === 2) return { kind: 'health', deviceId };
  if (kind === 'media' && levels.length === 5 && sha256 && sha256Pattern.test(sha256)) {
    const chunkIndex = Number(index);
    const chunkCount = Number(count);
    const validCount = Number.isInteger(chunkCount) && chunkCount >= 1 && chunkCount <= Math.ceil(MAX_MEDIA_BYTES / MAX_CHUNK_BYTES);
    if (
      validCount &&
      Number.isInteger(chunkIndex) &&
      chunkIndex >= 0 &&
      chunkIndex < chunkCount &&
      /^\d+$/.test(index ?? '') &&
      /^\d+$/.test(count ?? '')
    ) {
      return { kind: 'media-chunk', deviceId, sha256, chunkIndex, chunkCount };
    }
  }
  return undefined;
}

/** One reason in an acknowledgement: a documented code and a sentence a person can read. */
export interface AckReason {
  code: string;
  detail: string;
}

/** The gateway's outcome for one capture envelope. */
export interface Acknowledgement {
  about: 'capture';
  captureId: string | null;
  messageSha256: string;
  status: 'accepted' | 'quarantined' | 'pending';
  reasons: AckReason[];
}

/** The gateway's outcome for one health report: a refused report changed nothing. */
export interface HealthAcknowledgement {
  about: 'health';
  messageSha256: string;
  status: 'accepted' | 'refused';
  reasons: AckReason[];
}

/** Sent only for a chunk the gateway refused; a staged chunk is answered by its capture's acknowledgement. */
export interface ChunkAcknowledgement {
  about: 'chunk';
  sha256: string;
  chunkIndex: number;
  chunkCount: number;
  status: 'refused';
  reasons: AckReason[];
}

/** Sent when a set of staged chunks waited too long for the rest of its file (or its capture) and was deleted. */
export interface ChunkSetExpiry {
  about: 'chunks';
  sha256: string;
  chunkCount: number;
  chunksReceived: number;
  status: 'expired';
  reasons: AckReason[];
}

export type AnyAcknowledgement = Acknowledgement | HealthAcknowledgement | ChunkAcknowledgement | ChunkSetExpiry;
