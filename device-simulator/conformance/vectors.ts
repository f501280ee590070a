import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import sharp from 'sharp';
import { PROTOCOL_VERSION, topics, type HealthReport, type Manifest } from '../../core/domain/protocol.js';
import { signAcknowledgement } from '../../core/domain/signed-ack.js';
import { chunkMedia } from '../device-protocol.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';
import { publicKeyFingerprint } from '../../core/infrastructure/signing-key.js';

/**
 * The conformance kit's cases: each builds signed bytes a device (or a forger) could send and
 * says what the gateway must answer. Built from a fixed time for the published vectors, and
 * from the present when `device:check` plays them against a running gateway, since a capture
 * is judged by how old it is.
 */

/** An Ed25519 key from a fixed seed: PKCS #8 wraps the 32 seed bytes after this DER prefix. */
function keyFromSeed(label: string): KeyObject {
  const seed = createHash('sha256').update(label).digest();
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

export interface VectorKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  /** SHA-256 of the SPKI DER form of the public key, lowercase hex. */
  fingerprint: string;
}

function vectorKey(label: string): VectorKey {
  const privateKey = keyFromSeed(label);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, fingerprint: publicKeyFingerprint(publicKeyPem) };
}

/** Published test keys: anyone may sign with them, so they belong to a test device only, never to one in service. */
export const VECTOR_KEYS = {
  device: vectorKey('verity conformance device key'),
  gateway: vectorKey('verity conformance gateway key'),
  forger: vectorKey('verity conformance forger key'),
};

export const VECTOR_DEVICE_ID = 'conformance-1';
export const VECTOR_TOPIC_ROOT = 'verity/v1';
export const VECTOR_TIME = new Date('2026-12-01T08:00:00.000Z');

export interface Publication {
  topic: string;
  payload: Buffer;
}

export interface BuildContext {
  deviceId: string;
  topicRoot: string;
  /** The moment the case is built for: captures are taken a few seconds before it. */
  now: Date;
  deviceKey: KeyObject;
  /** Makes each capture id; fixed for the published vectors, random against a gateway. */
  captureId: (caseName: string) => string;
}

export type ExpectedCaptureOutcome = { status: 'accepted' | 'quarantined'; reasons: string[] };

export interface EnvelopeCase {
  name: string;
  description: string;
  /** Sent in this order: media chunks first, the envelope last. */
  publications: Publication[];
  envelope: Publication;
  expect: ExpectedCaptureOutcome;
  /** Outcomes that wait for the completeness window (media that never hashes right). */
  waitsForMediaWindow?: boolean;
}

export interface HealthCase {
  name: string;
  description: string;
  report: Publication;
  expect: { status: 'accepted' | 'refused'; reason?: string };
}

export interface ChunkCase {
  name: string;
  description: string;
  chunk: Publication;
  expect: { status: 'refused'; reason: string };
}

interface Frame {
  name: string;
  bytes: Buffer;
  capturedAt: Date;
}

/** Two plain frames of the evidence minimum (1280×720), half a second apart; the same bytes every time. */
async function frames(
  capturedAt: Date,
  options: { width: number; height: number; grays: [number, number] } = { width: 1280, height: 720, grays: [96, 160] },
): Promise<Frame[]> {
  const frame = (gray: number) =>
    sharp({ create: { width: options.width, height: options.height, channels: 3, background: { r: gray, g: gray, b: gray } } })
      .jpeg({ quality: 80 })
      .toBuffer();
  return [
    { name: 'frame-1.jpg', bytes: await frame(options.grays[0]), capturedAt },
    { name: 'frame-2.jpg', bytes: await frame(options.grays[1]), capturedAt: new Date(capturedAt.getTime() + 500) },
  ];
}

function manifestFor(context: BuildContext, caseName: string, media: Frame[], capturedAt: Date): Manifest {
  return {
    protocol: PROTOCOL_VERSION,
    captureId: context.captureId(caseName),
    deviceId: context.deviceId,
    capturedAt: capturedAt.toISOString(),
    clockOffsetMs: 12,
    location: { latitude: 22.5431, longitude: 114.0579 },
    violationType: 'speeding',
    readings: { speedKmh: 92, limitKmh: 60 },
    media: media.map((frame) => ({
      name: frame.name,
      sha256: sha256Hex(frame.bytes),
      sizeBytes: frame.bytes.length,
      contentType: 'image/jpeg',
      capturedAt: frame.capturedAt.toISOString(),
    })),
  };
}

function envelopeOf(bytes: Buffer, signature: Buffer, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ manifest: bytes.toString('base64'), signature: signature.toString('base64'), ...extra }));
}

/** Each file's chunks on the topic of its true hash; `damage` changes bytes after hashing, as a bad link would. */
function chunkPublications(context: BuildContext, media: Frame[], damage?: (fileIndex: number, bytes: Buffer) => Buffer): Publication[] {
  return media.flatMap((frame, fileIndex) => {
    const chunks = chunkMedia(damage ? damage(fileIndex, Buffer.from(frame.bytes)) : frame.bytes);
    return chunks.map((chunk, index) => ({
      topic: topics.mediaChunk(context.topicRoot, context.deviceId, sha256Hex(frame.bytes), index, chunks.length),
      payload: chunk,
    }));
  });
}

export async function buildEnvelopeCases(context: BuildContext): Promise<EnvelopeCase[]> {
  const capturedAt = new Date(context.now.getTime() - 5_000);
  const media = await frames(capturedAt);
  const small = await frames(capturedAt, { width: 640, height: 360, grays: [96, 160] });
  // Frames no other case sends: the gateway must not already hold the bytes this case damages.
  const neverSent = await frames(capturedAt, { width: 1280, height: 720, grays: [40, 200] });
  const captureTopic = topics.capture(context.topicRoot, context.deviceId);
  const signed = (bytes: Buffer, key = context.deviceKey) => sign(null, bytes, key);
  const jsonBytes = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
  const caseOf = (
    name: string,
    description: string,
    payload: Buffer,
    expect: ExpectedCaptureOutcome,
    files: Frame[] = media,
    extra: Partial<EnvelopeCase> = {},
  ): EnvelopeCase => ({
    name,
    description,
    publications: chunkPublications(context, files),
    envelope: { topic: captureTopic, payload },
    expect,
    ...extra,
  });
  const accepted: ExpectedCaptureOutcome = { status: 'accepted', reasons: [] };
  const quarantined = (...reasons: string[]): ExpectedCaptureOutcome => ({ status: 'quarantined', reasons });

  const valid = jsonBytes(manifestFor(context, 'valid', media, capturedAt));
  const validEnvelope = envelopeOf(valid, signed(valid));

  const lowerCase = Buffer.from(
    JSON.stringify(manifestFor(context, 'lower-case-times', media, capturedAt)).replace(
      /"(\d{4}-\d\d-\d\d)T([\d:.]+)Z"/g,
      (_match, day: string, time: string) => `"${day}t${time}z"`,
    ),
  );
  const offsetTimes = Buffer.from(
    JSON.stringify(manifestFor(context, 'numeric-offset', media, capturedAt)).replace(
      /"(\d{4}-\d\d-\d\d)T([\d:.]+)Z"/g,
      (match: string) => `"${shiftToOffset(match.slice(1, -1), 8 * 60)}"`,
    ),
  );
  const reindented = jsonBytes(manifestFor(context, 'reserialised-after-signing', media, capturedAt));
  const otherKey = jsonBytes(manifestFor(context, 'signed-by-another-key', media, capturedAt));
  const duplicate = Buffer.from(
    JSON.stringify(manifestFor(context, 'duplicate-member', media, capturedAt)).replace('"readings":{', '"readings":{"speedKmh":61,'),
  );
  const unknownField = jsonBytes({ ...manifestFor(context, 'unknown-field', media, capturedAt), note: 'not in the schema' });
  const otherDevice = jsonBytes({ ...manifestFor(context, 'device-mismatch', media, capturedAt), deviceId: `${context.deviceId}-other` });
  const clockOff = jsonBytes({ ...manifestFor(context, 'clock-offset-exceeded', media, capturedAt), clockOffsetMs: 1500 });
  const upperCaseId = jsonBytes({ ...manifestFor(context, 'upper-case-capture-id', media, capturedAt) });
  const upperCased = Buffer.from(
    upperCaseId.toString().replace(/"captureId":"([0-9a-f-]+)"/, (_match, id: string) => `"captureId":"${id.toUpperCase()}"`),
  );
  const misnamed = jsonBytes({
    ...manifestFor(context, 'readings-misnamed', media, capturedAt),
    readings: { speed_kmh: 92, limitKmh: 60 },
  });
  const undersized = jsonBytes(manifestFor(context, 'evidence-insufficient', small, capturedAt));
  const replayed = jsonBytes({ ...manifestFor(context, 'valid', media, capturedAt), clockOffsetMs: 13 });
  const wrongBytes = manifestFor(context, 'media-hash-mismatch', neverSent, capturedAt);

  return [
    caseOf('valid', 'A certified device signs a speeding capture with two frames: accepted.', validEnvelope, accepted),
    caseOf('lower-case-times', 'RFC 3339 allows a lower-case t and z: accepted.', envelopeOf(lowerCase, signed(lowerCase)), accepted),
    caseOf('numeric-offset', 'Times written with a +08:00 offset: accepted.', envelopeOf(offsetTimes, signed(offsetTimes)), accepted),
    caseOf('resent-same-bytes', 'The valid envelope sent again, byte for byte: the same answer, stored once.', validEnvelope, accepted),
    caseOf(
      'reserialised-after-signing',
      'The manifest was signed, then re-serialised with indentation: the signature covers bytes, not meaning.',
      envelopeOf(Buffer.from(JSON.stringify(JSON.parse(reindented.toString()), null, 2)), signed(reindented)),
      quarantined('signature_invalid'),
    ),
    caseOf(
      'signed-by-another-key',
      'A key that is not the device key signed the manifest.',
      envelopeOf(otherKey, signed(otherKey, VECTOR_KEYS.forger.privateKey)),
      quarantined('signature_invalid'),
    ),
    caseOf(
      'duplicate-member',
      'A member name appears twice in one object (not I-JSON).',
      envelopeOf(duplicate, signed(duplicate)),
      quarantined('manifest_invalid'),
    ),
    caseOf(
      'unknown-field',
      'The manifest has a field the schema does not define.',
      envelopeOf(unknownField, signed(unknownField)),
      quarantined('manifest_invalid'),
    ),
    caseOf(
      'envelope-extra-field',
      'The envelope has a field besides manifest and signature.',
      envelopeOf(valid, signed(valid), { note: 'extra' }),
      quarantined('message_malformed'),
    ),
    caseOf(
      'device-mismatch',
      "The manifest names another device than the topic's.",
      envelopeOf(otherDevice, signed(otherDevice)),
      quarantined('device_mismatch'),
    ),
    caseOf(
      'clock-offset-exceeded',
      'The device clock was 1.5 s off reference time.',
      envelopeOf(clockOff, signed(clockOff)),
      quarantined('clock_offset_exceeded'),
    ),
    caseOf(
      'upper-case-capture-id',
      'The captureId is written in upper case, which verity/2 refuses: the id is compared as written.',
      envelopeOf(upperCased, signed(upperCased)),
      quarantined('manifest_invalid'),
    ),
    caseOf(
      'readings-misnamed',
      'The speed is sent as speed_kmh, a name the speeding schema does not know, and speedKmh is missing.',
      envelopeOf(misnamed, signed(misnamed)),
      quarantined('readings_invalid'),
    ),
    caseOf(
      'evidence-insufficient',
      'Both frames are 640×360, under the 1280×720 minimum.',
      envelopeOf(undersized, signed(undersized)),
      quarantined('evidence_insufficient'),
      small,
    ),
    caseOf(
      'replayed-capture-id',
      "A different envelope reuses the valid case's captureId.",
      envelopeOf(replayed, signed(replayed)),
      quarantined('replayed'),
    ),
    caseOf(
      'media-hash-mismatch',
      'A frame arrives with three bytes changed: pending until the completeness window ends, then quarantined.',
      envelopeOf(jsonBytes(wrongBytes), signed(jsonBytes(wrongBytes))),
      quarantined('media_hash_mismatch'),
      neverSent,
      {
        waitsForMediaWindow: true,
        publications: chunkPublications(context, neverSent, (fileIndex, bytes) => {
          // Inside the compressed picture data, past the headers, so the frame still reads as 1280×720.
          if (fileIndex === 1) bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
          return bytes;
        }),
      },
    ),
  ];
}

/** Rewrites a UTC RFC 3339 time as the same instant in a zone `minutes` east of UTC. */
function shiftToOffset(utc: string, minutes: number): string {
  const shifted = new Date(new Date(utc).getTime() + minutes * 60_000).toISOString().slice(0, -1);
  const sign = minutes >= 0 ? '+' : '-';
  const hours = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
  return `${shifted}${sign}${hours}:${String(Math.abs(minutes) % 60).padStart(2, '0')}`;
}

export function buildHealthCases(context: BuildContext): HealthCase[] {
  const healthTopic = topics.health(context.topicRoot, context.deviceId);
  const at = (offsetMs: number) => new Date(context.now.getTime() + offsetMs).toISOString();
  const report = (
    body: { kind: HealthReport['kind']; reportedAt: string } & Record<string, unknown>,
    key = context.deviceKey,
    protocol: string = PROTOCOL_VERSION,
  ): Publication => {
    const bytes = Buffer.from(JSON.stringify({ protocol, deviceId: context.deviceId, ...body }), 'utf8');
    return { topic: healthTopic, payload: envelopeOf(bytes, sign(null, bytes, key)) };
  };
  const heartbeat = report({ kind: 'heartbeat', reportedAt: at(-3_000) });
  return [
    { name: 'heartbeat', description: 'A signed heartbeat: accepted.', report: heartbeat, expect: { status: 'accepted' } },
    {
      name: 'heartbeat-replayed',
      description: 'The same heartbeat bytes again, as anyone on the broker could send them.',
      report: heartbeat,
      expect: { status: 'refused', reason: 'replayed' },
    },
    {
      name: 'self-test',
      description: 'A passing self-test.',
      report: report({ kind: 'self_test', reportedAt: at(-2_000), passed: true, detail: 'all sensors nominal' }),
      expect: { status: 'accepted' },
    },
    {
      name: 'self-test-stale',
      description: 'A self-test older than the last accepted one: it must not reopen or close a window.',
      report: report({ kind: 'self_test', reportedAt: at(-2_500), passed: false, detail: 'lens obstructed' }),
      expect: { status: 'refused', reason: 'stale' },
    },
    {
      name: 'heartbeat-forged',
      description: 'A heartbeat signed by a key that is not the device key.',
      report: report({ kind: 'heartbeat', reportedAt: at(-1_000) }, VECTOR_KEYS.forger.privateKey),
      expect: { status: 'refused', reason: 'signature_invalid' },
    },
    {
      name: 'heartbeat-unknown-field',
      description: 'A heartbeat with a field its kind does not define.',
      report: report({ kind: 'heartbeat', reportedAt: at(-500), battery: 0.8 }),
      expect: { status: 'refused', reason: 'report_invalid' },
    },
  ];
}

export function buildChunkCases(context: BuildContext): ChunkCase[] {
  const hash = sha256Hex(Buffer.from('never sent'));
  return [
    {
      name: 'empty-chunk',
      description: 'A chunk of zero bytes is outside the protocol and is answered.',
      chunk: { topic: topics.mediaChunk(context.topicRoot, context.deviceId, hash, 0, 1), payload: Buffer.alloc(0) },
      expect: { status: 'refused', reason: 'chunk_invalid' },
    },
  ];
}

export interface AckCase {
  name: string;
  description: string;
  /** The device that reads the ack on its topic. */
  deviceId: string;
  payload: Buffer;
  expect: 'verifies' | 'refused';
}

/** Acknowledgements a device must tell apart: the gateway's own, and what anyone on the broker can forge. */
export function buildAckCases(context: BuildContext, messageSha256: string, captureId: string): AckCase[] {
  const outcome = { about: 'capture' as const, captureId, messageSha256, status: 'accepted' as const, reasons: [] };
  const issued = { deviceId: context.deviceId, issuedAt: context.now };
  const genuine = signAcknowledgement(outcome, issued, VECTOR_KEYS.gateway);
  const forged = signAcknowledgement(outcome, issued, {
    privateKey: VECTOR_KEYS.forger.privateKey,
    fingerprint: VECTOR_KEYS.gateway.fingerprint,
  });
  const envelope = JSON.parse(genuine.toString()) as { ack: string; signature: string };
  const tamperedBytes = Buffer.from(Buffer.from(envelope.ack, 'base64').toString().replace('"accepted"', '"quarantined"'));
  const tampered = Buffer.from(JSON.stringify({ ack: tamperedBytes.toString('base64'), signature: envelope.signature }));
  return [
    {
      name: 'ack-genuine',
      description: 'The gateway key signed this ack for this device.',
      deviceId: context.deviceId,
      payload: genuine,
      expect: 'verifies',
    },
    {
      name: 'ack-forged',
      description: "Another key signed it, though it names the gateway key's fingerprint.",
      deviceId: context.deviceId,
      payload: forged,
      expect: 'refused',
    },
    {
      name: 'ack-tampered',
      description: 'The genuine ack with its status changed after signing.',
      deviceId: context.deviceId,
      payload: tampered,
      expect: 'refused',
    },
    {
      name: 'ack-other-device',
      description: 'A genuine ack for another device, copied onto this device’s topic.',
      deviceId: `${context.deviceId}-other`,
      payload: genuine,
      expect: 'refused',
    },
    {
      name: 'ack-unsigned-v1',
      description: 'A plain verity/1 ack: a verity/2 device cannot tell it from a forgery.',
      deviceId: context.deviceId,
      payload: Buffer.from(JSON.stringify(outcome)),
      expect: 'refused',
    },
  ];
}
