import { createHash, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AnyAcknowledgement } from './protocol.js';
import { messageProtocol, signAcknowledgement, verifyAcknowledgement, type GatewayPublicKey } from './signed-ack.js';

function gatewayKey() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = createPublicKey(privateKey);
  const fingerprint = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  const published: GatewayPublicKey = { fingerprint, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  return { privateKey, fingerprint, published };
}

const current = gatewayKey();
const previous = gatewayKey();
const issuedAt = new Date('2026-12-03T10:00:00.000Z');

const accepted: AnyAcknowledgement = {
  about: 'capture',
  captureId: '3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a69',
  messageSha256: 'a'.repeat(64),
  status: 'accepted',
  reasons: [],
};

const signedFor = (deviceId: string, ack: AnyAcknowledgement = accepted, key = current) =>
  signAcknowledgement(ack, { deviceId, issuedAt }, key);

function envelopeOf(ack: object, signWith = current): Buffer {
  const bytes = Buffer.from(JSON.stringify(ack));
  return Buffer.from(
    JSON.stringify({ ack: bytes.toString('base64'), signature: sign(null, bytes, signWith.privateKey).toString('base64') }),
  );
}

describe('signed acknowledgements', () => {
  it('verifies what the gateway signed and returns the outcome with who it is for, when, and by which key', () => {
    const result = verifyAcknowledgement(signedFor('cam-1'), [current.published], 'cam-1');
    expect(result).toEqual({
      ok: true,
      ack: { ...accepted, protocol: 'verity/2', deviceId: 'cam-1', issuedAt: issuedAt.toISOString(), gatewayKey: current.fingerprint },
    });
  });

  it('verifies every kind of acknowledgement', () => {
    const kinds: AnyAcknowledgement[] = [
      accepted,
      { about: 'health', messageSha256: 'b'.repeat(64), status: 'refused', reasons: [{ code: 'health_replayed', detail: 'seen' }] },
      { about: 'chunk', sha256: 'c'.repeat(64), chunkIndex: 2, chunkCount: 3, status: 'refused', reasons: [] },
      { about: 'chunks', sha256: 'd'.repeat(64), chunkCount: 3, chunksReceived: 1, status: 'expired', reasons: [] },
    ];
    for (const ack of kinds)
      expect(verifyAcknowledgement(signedFor('cam-1', ack), [current.published], 'cam-1')).toMatchObject({ ok: true, ack });
  });

  it('finds the signing key among several by its fingerprint, so acks survive a gateway key rotation', () => {
    const keys = [current.published, previous.published];
    expect(verifyAcknowledgement(signedFor('cam-1', accepted, previous), keys, 'cam-1').ok).toBe(true);
    expect(verifyAcknowledgement(signedFor('cam-1', accepted, previous), [current.published], 'cam-1')).toMatchObject({
      ok: false,
      refusal: 'unknown_key',
    });
  });

  it('refuses a forged plain v1 acknowledgement, which anyone on the broker can publish', () => {
    const forged = Buffer.from(JSON.stringify({ ...accepted }));
    expect(verifyAcknowledgement(forged, [current.published], 'cam-1')).toMatchObject({ ok: false, refusal: 'malformed' });
  });

  it('refuses an ack signed by a key that is not the one it names', () => {
    const stranger = gatewayKey();
    const claimed = {
      ...accepted,
      protocol: 'verity/2',
      deviceId: 'cam-1',
      issuedAt: issuedAt.toISOString(),
      gatewayKey: current.fingerprint,
    };
    expect(verifyAcknowledgement(envelopeOf(claimed, stranger), [current.published], 'cam-1')).toMatchObject({
      ok: false,
      refusal: 'signature_invalid',
    });
  });

  it('refuses a genuine ack for another device, so copying one onto this device topic changes nothing', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
        (addressee, reader) => {
          fc.pre(addressee !== reader);
          expect(verifyAcknowledgement(signedFor(addressee), [current.published], reader)).toMatchObject({
            ok: false,
            refusal: 'wrong_device',
          });
          expect(verifyAcknowledgement(signedFor(addressee), [current.published], addressee).ok).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses the ack after any one bit of its signed bytes or its signature flips', () => {
    const genuine = JSON.parse(signedFor('cam-1').toString()) as { ack: string; signature: string };
    const flip = (base64: string, bit: number) => {
      const bytes = Buffer.from(base64, 'base64');
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      return bytes.toString('base64');
    };
    const ackBits = Buffer.from(genuine.ack, 'base64').length * 8;
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), (inSignature, at) => {
        const tampered = inSignature
          ? { ...genuine, signature: flip(genuine.signature, at % 512) }
          : { ...genuine, ack: flip(genuine.ack, at % ackBits) };
        expect(verifyAcknowledgement(Buffer.from(JSON.stringify(tampered)), [current.published], 'cam-1').ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses the payload after any one bit of it flips, base64 padding bits included', () => {
    const genuine = signedFor('cam-1');
    fc.assert(
      fc.property(fc.nat({ max: genuine.length * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(genuine);
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyAcknowledgement(tampered, [current.published], 'cam-1').ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses whatever bytes arrive that the gateway did not sign', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(verifyAcknowledgement(bytes, [current.published], 'cam-1').ok).toBe(false);
      }),
    );
  });

  it('refuses a correctly signed ack that lacks the v2 fields', () => {
    expect(verifyAcknowledgement(envelopeOf({ ...accepted, gatewayKey: current.fingerprint }), [current.published], 'cam-1').ok).toBe(
      false,
    );
  });
});

describe('the version of a device message', () => {
  const envelope = (message: unknown) =>
    Buffer.from(JSON.stringify({ manifest: Buffer.from(JSON.stringify(message)).toString('base64'), signature: 'AA==' }));

  it('is v1 only for a message that says verity/1, so v1 devices get the answers they can read', () => {
    expect(messageProtocol(envelope({ protocol: 'verity/1', deviceId: 'cam-1' }))).toBe('verity/1');
    expect(messageProtocol(envelope({ protocol: 'verity/2', deviceId: 'cam-1' }))).toBe('verity/2');
  });

  it('is v2 for anything unreadable, which therefore gets a signed answer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(messageProtocol(bytes)).toBe('verity/2');
      }),
    );
    expect(messageProtocol(envelope({ protocol: 'verity/9' }))).toBe('verity/2');
    expect(messageProtocol(envelope(['verity/1']))).toBe('verity/2');
  });
});
