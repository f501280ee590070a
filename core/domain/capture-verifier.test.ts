import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildManifest, signManifest, type CaptureDraft, type MediaFile } from '../../device-simulator/device-protocol.js';
import { checkMediaFile, checkProvenance, readEnvelope, signatureVerifies, type RegisteredDevice } from './capture-verifier.js';
import { CERTIFICATION_KINDS, type CertificationKind, type CertificationPeriod } from './certification.js';
import { sha256Hex } from '../infrastructure/media-store.js';
import type { Manifest, MediaItem } from './protocol.js';
import { QUARANTINE_REASONS } from './quarantine-reasons.js';

const deviceKeys = generateKeyPairSync('ed25519');
const otherKeys = generateKeyPairSync('ed25519');

const capturedAt = new Date('2024-06-15T12:00:00.000Z');

const media: MediaFile[] = [
  { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: Buffer.from('first frame') },
  { name: 'clip.mp4', contentType: 'video/mp4', capturedAt: new Date(capturedAt.getTime() + 500), bytes: Buffer.from('a short clip') },
];

function draft(overrides: Partial<CaptureDraft> = {}): CaptureDraft {
  return {
    deviceId: 'cam-1',
    capturedAt,
    clockOffsetMs: -12.5,
    location: { latitude: 52.37, longitude: 4.89 },
    violationType: 'speeding',
    readings: { speedKmh: 92, limitKmh: 60, plate: '粤B12345' },
    media,
    captureId: '3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a69',
    ...overrides,
  };
}

function certifiedFrom(from: string, to: string, kinds: readonly CertificationKind[] = CERTIFICATION_KINDS): CertificationPeriod[] {
  return kinds.map((kind) => ({ kind, reference: `${kind}-1`, validFrom: new Date(from), validTo: new Date(to) }));
}

function registered(overrides: Partial<RegisteredDevice> = {}): RegisteredDevice {
  const publicKey = overrides.publicKey ?? deviceKeys.publicKey;
  return {
    id: 'cam-1',
    kind: 'traffic_camera',
    status: 'enabled',
    publicKey,
    keys: [{ publicKey, fingerprint: 'test', validFrom: new Date(0), validTo: null }],
    certifications: certifiedFrom('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z'),
    ...overrides,
  };
}

/** Key checks at a fixed moment: every key in these tests is current, so the overlap never applies. */
const keyWindow = { receivedAt: new Date('2024-06-01T00:00:00Z'), keyRotationOverlapMs: 0 };

function signed(overrides: Partial<CaptureDraft> = {}, privateKey: KeyObject = deviceKeys.privateKey) {
  const d = draft(overrides);
  return signManifest(buildManifest(d), privateKey, d.media);
}

function envelopeOf(manifest: unknown, signature: Buffer = Buffer.alloc(64, 1)): Buffer {
  const manifestBytes = Buffer.from(typeof manifest === 'string' ? manifest : JSON.stringify(manifest), 'utf8');
  return Buffer.from(JSON.stringify({ manifest: manifestBytes.toString('base64'), signature: signature.toString('base64') }));
}

/** Reads an envelope that must be valid; fails the test with its reasons otherwise. */
function readValid(envelope: Buffer) {
  const reading = readEnvelope(envelope);
  if (!reading.ok) throw new Error(`expected a valid envelope: ${JSON.stringify(reading.reasons)}`);
  return reading;
}

function readInvalid(envelope: Buffer) {
  const reading = readEnvelope(envelope);
  if (reading.ok) throw new Error('expected the envelope to be refused');
  return reading;
}

function provenance(capture: ReturnType<typeof signed>, device: RegisteredDevice | undefined, topicDeviceId = 'cam-1') {
  const reading = readValid(capture.envelope);
  return checkProvenance({ topicDeviceId, ...reading, device, ...keyWindow });
}

describe('readEnvelope', () => {
  it('returns the manifest, its exact bytes and the signature of a well-formed envelope', () => {
    const capture = signed();
    const reading = readValid(capture.envelope);
    expect(reading.manifest).toEqual(capture.manifest);
    expect(reading.manifestBytes.equals(capture.manifestBytes)).toBe(true);
    expect(reading.signature).toHaveLength(64);
    expect(signatureVerifies(reading.manifestBytes, reading.signature, deviceKeys.publicKey)).toBe(true);
  });

  it('keeps the exact manifest bytes, not a re-serialisation, so whitespace and key order survive', () => {
    const manifest = buildManifest(draft());
    const spaced = JSON.stringify(Object.fromEntries(Object.entries(manifest).reverse()), null, 2);
    expect(spaced.indexOf('"media"')).toBeLessThan(spaced.indexOf('"protocol"'));
    const reading = readValid(envelopeOf(spaced));
    expect(reading.manifestBytes.toString('utf8')).toBe(spaced);
    expect(reading.manifest).toEqual(manifest);
  });

  describe('message_malformed', () => {
    it.each([
      ['empty payload', ''],
      ['plain text', 'hello'],
      ['truncated JSON', '{"manifest": "YQ=="'],
      ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b])],
    ])('not JSON: %s', (_label, payload) => {
      const reading = readInvalid(Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
      expect(reading.reasons).toHaveLength(1);
      expect(reading.reasons[0]?.code).toBe('message_malformed');
      expect(reading.reasons[0]?.detail).toMatch(/^not JSON: |^not valid UTF-8$/);
      expect(reading.claimed).toEqual({});
    });

    it.each([
      ['null', null],
      ['an array', []],
      ['a string', 'envelope'],
      ['an empty object', {}],
      ['no signature', { manifest: 'YQ==' }],
      ['no manifest', { signature: 'YQ==' }],
      ['an empty manifest', { manifest: '', signature: 'YQ==' }],
      ['an empty signature', { manifest: 'YQ==', signature: '' }],
      ['a manifest that is not base64', { manifest: 'not base64!', signature: 'YQ==' }],
      ['a signature that is a number', { manifest: 'YQ==', signature: 42 }],
      ['a manifest that is an object', { manifest: { protocol: 'verity/1' }, signature: 'YQ==' }],
      ['an extra field', { manifest: 'YQ==', signature: 'YQ==', deviceId: 'cam-1' }],
    ])('envelope with %s', (_label, value) => {
      const reading = readInvalid(Buffer.from(JSON.stringify(value)));
      expect(reading.reasons).toHaveLength(1);
      expect(reading.reasons[0]?.code).toBe('message_malformed');
      expect(reading.reasons[0]?.detail.length).toBeGreaterThan(0);
      expect(reading.claimed).toEqual({});
    });

    it('names the offending envelope field', () => {
      expect(readInvalid(Buffer.from(JSON.stringify({ manifest: 'YQ==' }))).reasons[0]?.detail).toContain('signature');
      const extra = readInvalid(Buffer.from(JSON.stringify({ manifest: 'YQ==', signature: 'YQ==', note: 1 })));
      expect(extra.reasons[0]?.detail).toContain('note');
    });

    it('refuses extra fields even on an otherwise valid signed envelope', () => {
      const capture = signed();
      const parsed = JSON.parse(capture.envelope.toString('utf8')) as Record<string, unknown>;
      const reading = readInvalid(Buffer.from(JSON.stringify({ ...parsed, deviceId: 'cam-1' })));
      expect(reading.reasons.map((r) => r.code)).toEqual(['message_malformed']);
    });
  });

  describe('manifest_invalid', () => {
    it.each([
      ['plain text', 'not json at all'],
      ['truncated JSON', '{"protocol":"verity/1"'],
    ])('a manifest that is not JSON: %s', (_label, text) => {
      const reading = readInvalid(envelopeOf(text));
      expect(reading.reasons.map((r) => r.code)).toEqual(['manifest_invalid']);
      expect(reading.reasons[0]?.detail).toMatch(/^not JSON: |^not valid UTF-8$/);
      expect(reading.claimed).toEqual({});
    });

    it.each([
      ['null', null],
      ['a number', 7],
      ['an array', [{ deviceId: 'cam-1' }]],
    ])('a manifest that is JSON %s claims nothing', (_label, value) => {
      const reading = readInvalid(envelopeOf(value));
      expect(reading.reasons.map((r) => r.code)).toEqual(['manifest_invalid']);
      expect(reading.claimed).toEqual({});
    });

    const valid = buildManifest(draft());
    const schemaViolations: [string, unknown, string][] = [
      ['a bad uuid', { ...valid, captureId: 'not-a-uuid' }, 'captureId'],
      ['a uuid with a bad variant', { ...valid, captureId: '3f1c2b7a-9d4e-4c1a-cb2f-1e2d3c4b5a69' }, 'captureId'],
      ['the wrong protocol string', { ...valid, protocol: 'verity/3' }, 'protocol'],
      ['no protocol', { ...valid, protocol: undefined }, 'protocol'],
      ['an unknown top-level field', { ...valid, firmware: '1.2.3' }, 'firmware'],
      ['an unknown location field', { ...valid, location: { ...valid.location, altitude: 3 } }, 'altitude'],
      ['a latitude out of range', { ...valid, location: { latitude: 90.0001, longitude: 0 } }, 'location.latitude'],
      ['a longitude out of range', { ...valid, location: { latitude: 0, longitude: -180.5 } }, 'location.longitude'],
      ['a capture time without offset', { ...valid, capturedAt: '2024-06-15T12:00:00' }, 'capturedAt'],
      ['an impossible date', { ...valid, capturedAt: '2024-02-30T12:00:00Z' }, 'capturedAt'],
      ['a violation type that is not snake_case', { ...valid, violationType: 'RedLight' }, 'violationType'],
      ['a reading that is an object', { ...valid, readings: { speed: { value: 1 } } }, 'readings.speed'],
      ['a reading string over 256 characters', { ...valid, readings: { note: 'x'.repeat(257) } }, 'readings.note'],
      ['no media', { ...valid, media: [] }, 'media'],
      ['17 media items', { ...valid, media: Array.from({ length: 17 }, (_, i) => ({ ...valid.media[0], name: `f${i}` })) }, 'media'],
      [
        'an uppercase media hash',
        { ...valid, media: [{ ...valid.media[0], sha256: valid.media[0]!.sha256.toUpperCase() }] },
        'media.0.sha256',
      ],
      ['a zero media size', { ...valid, media: [{ ...valid.media[0], sizeBytes: 0 }] }, 'media.0.sizeBytes'],
      ['a fractional media size', { ...valid, media: [{ ...valid.media[0], sizeBytes: 1.5 }] }, 'media.0.sizeBytes'],
      ['an unknown content type', { ...valid, media: [{ ...valid.media[0], contentType: 'image/png' }] }, 'media.0.contentType'],
      ['a media name with a slash', { ...valid, media: [{ ...valid.media[0], name: '../etc/passwd' }] }, 'media.0.name'],
      ['a bad device id', { ...valid, deviceId: 'cam 1' }, 'deviceId'],
    ];

    it.each(schemaViolations)('a manifest with %s', (_label, manifest, path) => {
      const reading = readInvalid(envelopeOf(manifest));
      expect(reading.reasons).toHaveLength(1);
      expect(reading.reasons[0]?.code).toBe('manifest_invalid');
      expect(reading.reasons[0]?.detail).toContain(path);
    });

    it('refuses two media items with the same name, even with different contents', () => {
      const manifest = buildManifest(
        draft({
          media: [
            { name: 'frame.jpg', contentType: 'image/jpeg', capturedAt, bytes: Buffer.from('one') },
            { name: 'frame.jpg', contentType: 'image/jpeg', capturedAt, bytes: Buffer.from('two') },
          ],
        }),
      );
      const reading = readInvalid(signManifest(manifest, deviceKeys.privateKey, []).envelope);
      expect(reading.reasons).toEqual([{ code: 'manifest_invalid', detail: 'media names must be unique' }]);
      expect(reading.claimed).toEqual({ deviceId: 'cam-1', captureId: '3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a69' });
    });

    it('salvages the claimed device and capture id of an invalid manifest', () => {
      const reading = readInvalid(envelopeOf({ ...valid, protocol: 'verity/0' }));
      expect(reading.claimed).toEqual({ deviceId: 'cam-1', captureId: valid.captureId });
    });

    it('salvages only string claims, cut to 64 characters', () => {
      const reading = readInvalid(envelopeOf({ deviceId: 'd'.repeat(100), captureId: 12 }));
      expect(reading.claimed).toEqual({ deviceId: 'd'.repeat(64) });
    });

    it('lists at most five issues', () => {
      const reading = readInvalid(envelopeOf({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 }));
      expect(reading.reasons).toHaveLength(1);
      expect(reading.reasons[0]!.detail.split('; ')).toHaveLength(5);
    });
  });
});

describe('signatureVerifies', () => {
  const message = Buffer.from('{"protocol":"verity/1"}');
  const signature = sign(null, message, deviceKeys.privateKey);

  it('accepts the signature of the exact bytes with the matching key', () => {
    expect(signatureVerifies(message, signature, deviceKeys.publicKey)).toBe(true);
  });

  it('refuses the signature made with another key', () => {
    expect(signatureVerifies(message, signature, otherKeys.publicKey)).toBe(false);
  });

  it('refuses the signature when any one byte of the message changes', () => {
    for (let i = 0; i < message.length; i++) {
      const changed = Buffer.from(message);
      changed[i] = changed[i]! ^ 0x01;
      expect(signatureVerifies(changed, signature, deviceKeys.publicKey), `byte ${i}`).toBe(false);
    }
  });

  it('refuses a signature with one bit flipped', () => {
    const flipped = Buffer.from(signature);
    flipped[10] = flipped[10]! ^ 0x80;
    expect(signatureVerifies(message, flipped, deviceKeys.publicKey)).toBe(false);
  });

  it.each([0, 1, 63, 65, 128])('refuses a signature of %i bytes without throwing', (length) => {
    const wrongLength = Buffer.alloc(length);
    signature.copy(wrongLength, 0, 0, Math.min(length, 64));
    expect(signatureVerifies(message, wrongLength, deviceKeys.publicKey)).toBe(false);
  });

  it('returns false rather than throwing for a key of another type', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(signatureVerifies(message, signature, rsa.publicKey)).toBe(false);
  });
});

describe('checkProvenance', () => {
  it('passes a capture signed by an enabled device certified at capture time', () => {
    expect(provenance(signed(), registered())).toEqual([]);
  });

  it('refuses a manifest naming another device than the topic, before anything else', () => {
    const reasons = provenance(signed(), undefined, 'cam-2');
    expect(reasons).toEqual([{ code: 'device_mismatch', detail: 'topic says cam-2, manifest says cam-1' }]);
  });

  it('treats device ids as case-sensitive', () => {
    expect(provenance(signed(), registered(), 'CAM-1').map((r) => r.code)).toEqual(['device_mismatch']);
  });

  it('refuses an unknown device', () => {
    expect(provenance(signed(), undefined)).toEqual([{ code: 'device_unknown', detail: 'no registered device cam-1' }]);
  });

  it('refuses a revoked device with that reason only, even when nothing else holds', () => {
    const device = registered({ status: 'revoked', publicKey: otherKeys.publicKey, certifications: [] });
    const reasons = provenance(signed(), device);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]?.code).toBe('device_revoked');
  });

  it('refuses a disabled device but still checks its signature and certification', () => {
    expect(provenance(signed(), registered({ status: 'disabled' })).map((r) => r.code)).toEqual(['device_disabled']);
    expect(provenance(signed(), registered({ status: 'disabled', publicKey: otherKeys.publicKey })).map((r) => r.code)).toEqual([
      'device_disabled',
      'signature_invalid',
    ]);
    expect(provenance(signed(), registered({ status: 'disabled', certifications: [] })).map((r) => r.code)).toEqual([
      'device_disabled',
      'not_certified_at_capture',
    ]);
  });

  it('refuses a forged signature made with another key', () => {
    expect(provenance(signed({}, otherKeys.privateKey), registered())).toEqual([
      { code: 'signature_invalid', detail: QUARANTINE_REASONS.signature_invalid },
    ]);
  });

  it('refuses a signature over different bytes: one manifest byte changed after signing', () => {
    const capture = signed();
    const text = capture.manifestBytes.toString('utf8');
    // 92 -> 93 keeps the manifest valid, so only the signature can catch it.
    const tampered = Buffer.from(text.replace('"speedKmh":92', '"speedKmh":93'), 'utf8');
    expect(tampered.length).toBe(capture.manifestBytes.length);
    expect(tampered.equals(capture.manifestBytes)).toBe(false);
    const originalSignature = Buffer.from((JSON.parse(capture.envelope.toString()) as { signature: string }).signature, 'base64');
    const reading = readValid(envelopeOf(tampered.toString('utf8'), originalSignature));
    expect(reading.manifest.readings.speedKmh).toBe(93);
    expect(checkProvenance({ topicDeviceId: 'cam-1', ...reading, device: registered(), ...keyWindow }).map((r) => r.code)).toEqual([
      'signature_invalid',
    ]);
  });

  it('refuses a signature over a re-serialisation of the same manifest', () => {
    const capture = signed();
    const pretty = JSON.stringify(capture.manifest, null, 1);
    const signature = sign(null, capture.manifestBytes, deviceKeys.privateKey);
    const reading = readValid(envelopeOf(pretty, signature));
    expect(reading.manifest).toEqual(capture.manifest);
    expect(checkProvenance({ topicDeviceId: 'cam-1', ...reading, device: registered(), ...keyWindow }).map((r) => r.code)).toEqual([
      'signature_invalid',
    ]);
  });

  it.each([63, 65])('refuses a signature of %i bytes', (length) => {
    const capture = signed();
    const signature = Buffer.alloc(length);
    sign(null, capture.manifestBytes, deviceKeys.privateKey).copy(signature);
    const reading = readValid(envelopeOf(capture.manifestBytes.toString('utf8'), signature));
    expect(checkProvenance({ topicDeviceId: 'cam-1', ...reading, device: registered(), ...keyWindow }).map((r) => r.code)).toEqual([
      'signature_invalid',
    ]);
  });

  it('does not judge certification when the signature is invalid', () => {
    const reasons = provenance(signed({}, otherKeys.privateKey), registered({ certifications: [] }));
    expect(reasons.map((r) => r.code)).toEqual(['signature_invalid']);
  });

  describe('certification at the moment of capture', () => {
    it('names the kind and the problem of each gap in the detail', () => {
      const certifications = [
        ...certifiedFrom('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z', ['legal_review', 'technical_review', 'location_publication']),
        ...certifiedFrom('2023-01-01T00:00:00Z', '2024-01-01T00:00:00Z', ['metrological_verification']),
        ...certifiedFrom('2024-07-01T00:00:00Z', '2025-07-01T00:00:00Z', ['signage']),
      ];
      expect(provenance(signed(), registered({ certifications }))).toEqual([
        {
          code: 'not_certified_at_capture',
          detail: 'at 2024-06-15T12:00:00.000Z: metrological_verification expired, signage not yet valid',
        },
      ]);
    });

    it('names a missing kind', () => {
      const certifications = certifiedFrom('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z').filter((c) => c.kind !== 'signage');
      const reasons = provenance(signed(), registered({ certifications }));
      expect(reasons).toEqual([{ code: 'not_certified_at_capture', detail: 'at 2024-06-15T12:00:00.000Z: signage missing' }]);
    });

    it('uses the capture time of the manifest, half-open at the end of a period', () => {
      const certifications = certifiedFrom('2024-01-01T00:00:00Z', '2024-06-15T12:00:00Z');
      expect(provenance(signed({ capturedAt: new Date('2024-06-15T11:59:59.999Z') }), registered({ certifications }))).toEqual([]);
      expect(provenance(signed(), registered({ certifications })).map((r) => r.code)).toEqual(['not_certified_at_capture']);
    });

    it('reads a capture time with an offset as the instant it denotes', () => {
      const capture = signed();
      const manifest: Manifest = { ...capture.manifest, capturedAt: '2024-06-15T14:00:00+02:00' };
      const resigned = signManifest(manifest, deviceKeys.privateKey, capture.media);
      const endsAtCapture = certifiedFrom('2024-01-01T00:00:00Z', '2024-06-15T12:00:00Z');
      const startsAtCapture = certifiedFrom('2024-06-15T12:00:00Z', '2025-01-01T00:00:00Z');
      expect(provenance(resigned, registered({ certifications: startsAtCapture }))).toEqual([]);
      expect(provenance(resigned, registered({ certifications: endsAtCapture }))).toEqual([
        {
          code: 'not_certified_at_capture',
          detail: `at 2024-06-15T12:00:00.000Z: ${CERTIFICATION_KINDS.map((kind) => `${kind} expired`).join(', ')}`,
        },
      ]);
    });
  });
});

describe('checkMediaFile', () => {
  const bytes = Buffer.from('first frame');
  const item: MediaItem = {
    name: 'frame-1.jpg',
    sha256: sha256Hex(bytes),
    sizeBytes: bytes.length,
    contentType: 'image/jpeg',
    capturedAt: capturedAt.toISOString(),
  };

  it('passes a file with the promised size and hash', () => {
    expect(checkMediaFile(item, { sha256: sha256Hex(bytes), sizeBytes: bytes.length })).toEqual([]);
  });

  it('reports a size mismatch, naming the file and both sizes', () => {
    expect(checkMediaFile(item, { sha256: item.sha256, sizeBytes: 12 })).toEqual([
      { code: 'media_size_mismatch', detail: 'frame-1.jpg: manifest says 11 bytes, received 12' },
    ]);
  });

  it('reports a hash mismatch, naming the file and both hashes', () => {
    const other = sha256Hex(Buffer.from('first framf'));
    expect(checkMediaFile(item, { sha256: other, sizeBytes: 11 })).toEqual([
      { code: 'media_hash_mismatch', detail: `frame-1.jpg: manifest says ${item.sha256}, received ${other}` },
    ]);
  });

  it('reports both when both differ, size first', () => {
    const reasons = checkMediaFile(item, { sha256: sha256Hex(Buffer.from('other')), sizeBytes: 5 });
    expect(reasons.map((r) => r.code)).toEqual(['media_size_mismatch', 'media_hash_mismatch']);
  });

  it('compares hashes exactly: an uppercase spelling of the same digest does not match', () => {
    expect(checkMediaFile(item, { sha256: item.sha256.toUpperCase(), sizeBytes: 11 }).map((r) => r.code)).toEqual(['media_hash_mismatch']);
  });
});

describe('properties', () => {
  it('readEnvelope never throws on arbitrary bytes and refuses them with a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const reading = readEnvelope(Buffer.from(bytes));
        expect(reading.ok).toBe(false);
        if (!reading.ok) expect(reading.reasons.length).toBeGreaterThan(0);
      }),
    );
  });

  it('readEnvelope never throws on arbitrary JSON and refuses it with a reason', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const reading = readEnvelope(Buffer.from(JSON.stringify(value) ?? 'null'));
        expect(reading.ok).toBe(false);
        if (!reading.ok) expect(reading.reasons.length).toBeGreaterThan(0);
      }),
    );
  });

  it('readEnvelope never throws on well-formed envelopes around arbitrary manifests', () => {
    const manifestish = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 256 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
      fc
        .record({ deviceId: fc.jsonValue(), captureId: fc.jsonValue(), protocol: fc.constant('verity/1') }, { requiredKeys: [] })
        .map((value) => Buffer.from(JSON.stringify(value))),
    );
    fc.assert(
      fc.property(manifestish, fc.uint8Array({ minLength: 1, maxLength: 80 }), (manifestBytes, signature) => {
        const payload = Buffer.from(
          JSON.stringify({ manifest: manifestBytes.toString('base64'), signature: Buffer.from(signature).toString('base64') }),
        );
        const reading = readEnvelope(payload);
        expect(reading.ok).toBe(false);
        if (!reading.ok) {
          expect(reading.reasons.map((r) => r.code)).toEqual(['manifest_invalid']);
          if (reading.claimed.deviceId !== undefined) expect(reading.claimed.deviceId.length).toBeLessThanOrEqual(64);
        }
      }),
    );
  });

  const noNegativeZero = (n: number) => n + 0;
  // Within ±2^53: JSON.stringify writes larger doubles as integers other parsers read exactly, which readEnvelope refuses.
  const measurement = fc.double({ min: -(2 ** 53), max: 2 ** 53, noNaN: true }).map(noNegativeZero);
  const readingValue = fc.oneof(
    fc.integer(),
    measurement,
    fc.string({ maxLength: 256 }),
    // Up to 128 code points is at most 256 UTF-16 units, the schema's limit.
    fc.string({ unit: 'binary', maxLength: 128 }),
    fc.boolean(),
  );
  // A "__proto__" key is refused on purpose; the tests at the end of this file cover it.
  const readingKey = fc.string().filter((key) => key !== '__proto__');
  const draftArb = fc.record({
    deviceId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
    captureId: fc.uuid(),
    capturedAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
    clockOffsetMs: measurement,
    location: fc.record({
      latitude: fc.double({ min: -90, max: 90, noNaN: true }).map(noNegativeZero),
      longitude: fc.double({ min: -180, max: 180, noNaN: true }).map(noNegativeZero),
    }),
    violationType: fc.stringMatching(/^[a-z][a-z0-9_]{1,63}$/),
    readings: fc.dictionary(readingKey, readingValue, { maxKeys: 8 }),
    media: fc.uniqueArray(
      fc.record({
        name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
        contentType: fc.constantFrom('image/jpeg' as const, 'video/mp4' as const),
        capturedAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
      }),
      { minLength: 1, maxLength: 16, selector: (file) => file.name },
    ),
  });

  it('sign, then readEnvelope, gives back an equal manifest that passes provenance for a certified enabled device', () => {
    fc.assert(
      fc.property(draftArb, (d) => {
        const manifest = buildManifest(d);
        const capture = signManifest(manifest, deviceKeys.privateKey, d.media);
        const reading = readValid(capture.envelope);
        expect(reading.manifest).toEqual(manifest);
        expect(reading.manifestBytes.equals(capture.manifestBytes)).toBe(true);
        const device = registered({ id: d.deviceId, certifications: certifiedFrom('1999-01-01T00:00:00Z', '2100-01-01T00:00:00Z') });
        expect(checkProvenance({ topicDeviceId: d.deviceId, ...reading, device, ...keyWindow })).toEqual([]);
        for (const [index, file] of d.media.entries()) {
          expect(checkMediaFile(reading.manifest.media[index]!, { sha256: sha256Hex(file.bytes), sizeBytes: file.bytes.length })).toEqual(
            [],
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the same signed envelope fails provenance under any other registered key', () => {
    fc.assert(
      fc.property(draftArb, (d) => {
        const capture = signManifest(buildManifest(d), deviceKeys.privateKey, d.media);
        const reading = readValid(capture.envelope);
        const device = registered({ id: d.deviceId, publicKey: otherKeys.publicKey });
        expect(checkProvenance({ topicDeviceId: d.deviceId, ...reading, device, ...keyWindow }).map((r) => r.code)).toEqual([
          'signature_invalid',
        ]);
      }),
      { numRuns: 50 },
    );
  });
});

describe('signed content the parsed manifest would silently lose is refused', () => {
  it('a reading named "__proto__" is refused, not dropped', () => {
    const readings = JSON.parse('{"__proto__": 5, "speedKmh": 92}') as Record<string, number>;
    const capture = signed({ readings });
    expect(capture.manifestBytes.toString('utf8')).toContain('"readings":{"__proto__":5,"speedKmh":92}');
    const reading = readEnvelope(capture.envelope);
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.reasons.map((r) => r.code)).toEqual(['manifest_invalid']);
  });

  it('a reading named "__proto__" holding an object, which the schema forbids, is refused', () => {
    const manifest = { ...buildManifest(draft()), readings: JSON.parse('{"__proto__": {"nested": [1, 2, 3]}}') as Record<string, number> };
    expect(readEnvelope(signManifest(manifest, deviceKeys.privateKey, []).envelope).ok).toBe(false);
  });

  it('a media item with an unknown field is refused, as the protocol says of unknown fields', () => {
    const valid = buildManifest(draft());
    const manifest = { ...valid, media: [{ ...valid.media[0], gps: '52.37,4.89' }] };
    expect(readEnvelope(envelopeOf(manifest)).ok).toBe(false);
  });
});

describe('a signed manifest two JSON parsers would read differently is refused', () => {
  /** The valid manifest's JSON text with one member written a second time, just after its first. */
  const withRepeat = (text: string, member: string, repeat: string) => {
    const at = text.indexOf(member);
    if (at < 0) throw new Error(`${member} not in ${text}`);
    return `${text.slice(0, at + member.length)},${repeat}${text.slice(at + member.length)}`;
  };
  const manifestText = JSON.stringify(buildManifest(draft()));

  it.each([
    ['in the readings (92 would need a second reviewer, 61 not)', '"speedKmh":92', '"speedKmh":61', 'readings'],
    ['at the top level', '"violationType":"speeding"', '"violationType":"parking"', 'the top-level object'],
    ['in a nested object', '"latitude":52.37', '"latitude":22.5', 'location'],
    ['in a media item', '"name":"frame-1.jpg"', '"name":"frame-9.jpg"', 'media[]'],
  ])('a repeated name %s', (_where, member, repeat, path) => {
    const text = withRepeat(manifestText, member, repeat);
    const reading = readEnvelope(envelopeOf(text));
    expect(reading.ok).toBe(false);
    if (!reading.ok) {
      expect(reading.reasons.map((r) => r.code)).toEqual(['manifest_invalid']);
      expect(reading.reasons[0]?.detail).toContain(`appears twice in ${path}`);
    }
  });

  it('a repeated name in the envelope itself', () => {
    const manifest = Buffer.from(manifestText).toString('base64');
    const envelope = `{"manifest":"${manifest}","signature":"${Buffer.alloc(64).toString('base64')}","manifest":"e30="}`;
    const reading = readEnvelope(Buffer.from(envelope));
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.reasons.map((r) => r.code)).toEqual(['message_malformed']);
  });

  it('a lone surrogate in a plate, or bytes that are not UTF-8', () => {
    const surrogate = readEnvelope(envelopeOf(manifestText.replace('"plate":"粤B12345"', '"plate":"\\ud83d"')));
    expect(surrogate.ok ? [] : surrogate.reasons.map((r) => r.code)).toEqual(['manifest_invalid']);
    const latin1 = Buffer.concat([Buffer.from(manifestText.slice(0, -1) + ',"x":"'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const envelope = Buffer.from(JSON.stringify({ manifest: latin1.toString('base64'), signature: Buffer.alloc(64).toString('base64') }));
    const broken = readEnvelope(envelope);
    expect(broken.ok ? [] : broken.reasons.map((r) => r.detail)).toEqual(['not valid UTF-8']);
  });
});
