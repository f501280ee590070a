import { PROTOCOL_VERSION } from '../../core/domain/protocol.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';
import {
  VECTOR_DEVICE_ID,
  VECTOR_KEYS,
  VECTOR_TIME,
  VECTOR_TOPIC_ROOT,
  buildAckCases,
  buildChunkCases,
  buildEnvelopeCases,
  buildHealthCases,
  type BuildContext,
  type VectorKey,
} from './vectors.js';

/** A UUID (version 4 layout) from the case name, so the published file is the same on every build. */
function fixedUuid(name: string): string {
  const hex = sha256Hex(Buffer.from(`verity conformance ${name}`));
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const keyOf = (key: VectorKey) => ({
  privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  publicKeyPem: key.publicKeyPem,
  fingerprint: key.fingerprint,
});

/** Text when the bytes are JSON a person can read, base64 otherwise; both give the exact bytes back. */
const bytesOf = (bytes: Buffer) => ({ sha256: sha256Hex(bytes), base64: bytes.toString('base64') });

/**
 * docs/conformance/vectors.json: every case with its exact bytes, built for a fixed moment.
 * A device maker checks their own signing, hashing and ack verification against it offline
 * (Ed25519 signatures are deterministic, so the same key and bytes give the same signature).
 */
export async function buildPublishedVectors(): Promise<Record<string, unknown>> {
  const context: BuildContext = {
    deviceId: VECTOR_DEVICE_ID,
    topicRoot: VECTOR_TOPIC_ROOT,
    now: VECTOR_TIME,
    deviceKey: VECTOR_KEYS.device.privateKey,
    captureId: fixedUuid,
  };
  const envelopes = await buildEnvelopeCases(context);
  const valid = envelopes.find((testCase) => testCase.name === 'valid')!;
  const validEnvelope = JSON.parse(valid.envelope.payload.toString()) as { manifest: string };
  const validManifest = JSON.parse(Buffer.from(validEnvelope.manifest, 'base64').toString()) as { captureId: string };
  const payloads = new Map<string, string>();
  const chunkRef = (payload: Buffer) => {
    const ref = bytesOf(payload);
    payloads.set(ref.sha256, ref.base64);
    return ref.sha256;
  };
  return {
    about:
      'Verity protocol conformance vectors. Keys here are public test keys: enrol them only for a test device. ' +
      'Times are fixed at builtFor; `npm run device:check -- --against gateway` rebuilds each case for the present and plays it. ' +
      'Payloads are base64 of the exact MQTT payload bytes; chunk payloads are in `payloads`, by the SHA-256 of their bytes.',
    protocol: PROTOCOL_VERSION,
    builtFor: VECTOR_TIME.toISOString(),
    topicRoot: VECTOR_TOPIC_ROOT,
    deviceId: VECTOR_DEVICE_ID,
    keys: { device: keyOf(VECTOR_KEYS.device), gateway: keyOf(VECTOR_KEYS.gateway), forger: keyOf(VECTOR_KEYS.forger) },
    envelopes: envelopes.map((testCase) => ({
      name: testCase.name,
      description: testCase.description,
      chunks: testCase.publications.map((publication) => ({ topic: publication.topic, payloadSha256: chunkRef(publication.payload) })),
      topic: testCase.envelope.topic,
      payload: testCase.envelope.payload.toString('base64'),
      messageSha256: sha256Hex(testCase.envelope.payload),
      expect: testCase.expect,
    })),
    healthReports: buildHealthCases(context).map((testCase) => ({
      name: testCase.name,
      description: testCase.description,
      topic: testCase.report.topic,
      payload: testCase.report.payload.toString('base64'),
      messageSha256: sha256Hex(testCase.report.payload),
      expect: testCase.expect,
    })),
    chunks: buildChunkCases(context).map((testCase) => ({
      name: testCase.name,
      description: testCase.description,
      topic: testCase.chunk.topic,
      payload: testCase.chunk.payload.toString('base64'),
      expect: testCase.expect,
    })),
    acks: buildAckCases(context, sha256Hex(valid.envelope.payload), validManifest.captureId).map((testCase) => ({
      name: testCase.name,
      description: testCase.description,
      readBy: testCase.deviceId,
      payload: testCase.payload.toString('base64'),
      expect: testCase.expect,
    })),
    payloads: Object.fromEntries([...payloads].sort(([a], [b]) => a.localeCompare(b))),
  };
}
