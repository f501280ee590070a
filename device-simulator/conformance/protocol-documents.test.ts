import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { readEnvelope, signatureVerifies } from '../../core/domain/capture-verifier.js';
import { signAcknowledgement, verifyAcknowledgement } from '../../core/domain/signed-ack.js';
import { buildManifest, signHealthReport, signManifest } from '../device-protocol.js';
import { protocolDocuments } from './protocol-documents.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';

const require = createRequire(import.meta.url);
const asyncApiSpecs = require('@asyncapi/specs') as { schemasWithoutId: Record<string, object> };
// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface PublishedVectors {
  keys: Record<'device' | 'gateway' | 'forger', { publicKeyPem: string; fingerprint: string }>;
  envelopes: {
    name: string;
    payload: string;
    messageSha256: string;
    chunks: { payloadSha256: string }[];
    expect: { status: string; reasons: string[] };
  }[];
  healthReports: { name: string; payload: string; expect: { status: string; reason?: string } }[];
  acks: { name: string; readBy: string; payload: string; expect: 'verifies' | 'refused' }[];
  payloads: Record<string, string>;
}

const documents = await protocolDocuments();
const documentNamed = (name: string) => JSON.parse(documents.find((document) => document.file.endsWith(name))!.text) as unknown;
const asyncApi = documentNamed('asyncapi.json') as { components: { schemas: Record<string, object> } };
const vectors = documentNamed('vectors.json') as PublishedVectors;

/** The JSON inside one base64 member of an envelope. */
function openMember(envelope: Buffer, member: 'manifest' | 'ack'): unknown {
  const text = (JSON.parse(envelope.toString()) as Record<string, string>)[member]!;
  return JSON.parse(Buffer.from(text, 'base64').toString());
}

function schemaValidator(name: string) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(asyncApi.components.schemas[name]!);
}

describe('the machine-readable protocol documents', () => {
  it.each(documents.map((document) => [document.file.replace(/.*\/docs\//, 'docs/'), document.text]))(
    '%s is what the code defines (run npm run docs:protocol after a protocol change)',
    async (file, text) => {
      expect(await readFile(file, 'utf8')).toBe(text);
    },
  );

  it('is a valid AsyncAPI 3.0 document', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(asyncApiSpecs.schemasWithoutId['3.0.0']!);
    expect(validate(asyncApi), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
  });

  it('describes what the reference device and the gateway really send', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const now = new Date();
    const bytes = Buffer.from('frame');
    const manifest = buildManifest({
      deviceId: 'cam-7',
      capturedAt: now,
      clockOffsetMs: 3,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 92, limitKmh: 60 },
      media: [{ name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt: now, bytes }],
    });
    const signed = signManifest(manifest, privateKey, []);
    const health = openMember(
      signHealthReport({ protocol: manifest.protocol, deviceId: 'cam-7', reportedAt: now.toISOString(), kind: 'heartbeat' }, privateKey),
      'manifest',
    );
    const fingerprint = sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
    const outcome = {
      about: 'capture' as const,
      captureId: manifest.captureId,
      messageSha256: sha256Hex(signed.envelope),
      status: 'accepted' as const,
      reasons: [],
    };
    const ack = openMember(signAcknowledgement(outcome, { deviceId: 'cam-7', issuedAt: now }, { privateKey, fingerprint }), 'ack');
    for (const [schema, value] of [
      ['Manifest', manifest],
      ['HealthReport', health],
      ['Acknowledgement', ack],
    ] as const) {
      const validate = schemaValidator(schema);
      expect(validate(value), `${schema}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
    }
    const validateManifest = schemaValidator('Manifest');
    expect(validateManifest({ ...manifest, note: 'unknown field' })).toBe(false);
    expect(validateManifest({ ...manifest, capturedAt: '2026-12-02 09:30:00Z' })).toBe(false);
    expect(validateManifest({ ...manifest, capturedAt: '2026-12-02t17:30:00.25+08:00' })).toBe(true);
    expect(validateManifest({ ...manifest, capturedAt: '2026-12-02t09:30:00z' })).toBe(true);
  });
});

describe('the published conformance vectors, checked offline as a device maker would', () => {
  const devicePublicKey = createPublicKey(vectors.keys.device.publicKeyPem);

  it.each(vectors.envelopes.map((vector) => [vector.name, vector] as const))(
    'envelope %s: hash, chunks and signature agree with its expected outcome',
    (_name, vector) => {
      const payload = Buffer.from(vector.payload, 'base64');
      expect(sha256Hex(payload)).toBe(vector.messageSha256);
      for (const chunk of vector.chunks)
        expect(sha256Hex(Buffer.from(vectors.payloads[chunk.payloadSha256]!, 'base64'))).toBe(chunk.payloadSha256);
      const reading = readEnvelope(payload);
      const unreadable = ['manifest_invalid', 'message_malformed'].some((code) => vector.expect.reasons.includes(code));
      expect(reading.ok).toBe(!unreadable);
      if (reading.ok) {
        expect(signatureVerifies(reading.manifestBytes, reading.signature, devicePublicKey)).toBe(
          !vector.expect.reasons.includes('signature_invalid'),
        );
      }
    },
  );

  it.each(vectors.acks.map((vector) => [vector.name, vector] as const))(
    'ack %s: a device verifying with the gateway key gets the expected answer',
    (_name, vector) => {
      const verification = verifyAcknowledgement(Buffer.from(vector.payload, 'base64'), [vectors.keys.gateway], vector.readBy);
      expect(verification.ok ? 'verifies' : 'refused').toBe(vector.expect);
    },
  );

  it('has health reports whose forged signature is the only one that does not verify', () => {
    for (const vector of vectors.healthReports) {
      const envelope = JSON.parse(Buffer.from(vector.payload, 'base64').toString()) as { manifest: string; signature: string };
      const verifies = signatureVerifies(
        Buffer.from(envelope.manifest, 'base64'),
        Buffer.from(envelope.signature, 'base64'),
        devicePublicKey,
      );
      expect(verifies, vector.name).toBe(vector.expect.reason !== 'signature_invalid');
    }
  });
});
