import { sign } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/domain/protocol.js';
import { sha256Hex } from '../core/infrastructure/media-store.js';
import { captures } from '../db/schema.js';
import { publishCapture, type MediaFile, type SignedCapture } from '../device-simulator/device-protocol.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { waitFor } from '../test/support/isolated.js';
import { signedCapture, startTestGateway, type TestGateway } from '../test/support/test-gateway.js';

const envelopeOf = (manifest: Buffer | string, signature: Buffer | string) =>
  Buffer.from(
    JSON.stringify({
      manifest: (typeof manifest === 'string' ? Buffer.from(manifest) : manifest).toString('base64'),
      signature: typeof signature === 'string' ? signature : signature.toString('base64'),
    }),
  );

/** The text with its first `from` replaced, failing loudly when `from` is not there (a variant that changed nothing proves nothing). */
function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`${from} not in ${text}`);
  return text.replace(from, to);
}

interface Variant {
  name: string;
  /** The message a forger publishes, made from a capture the device signed. */
  forge: (signed: SignedCapture, signature: Buffer, device: TestDevice) => Buffer;
  code: string;
}

/**
 * Test 8 of docs/reliability.md. The device signs the exact bytes of its manifest; the gateway
 * must verify those bytes and no other reading of them. Passing means: every message below,
 * made from a genuinely signed capture, is stored quarantined with the code named, and none is
 * accepted; the untouched capture is accepted, so the refusals are the variants' own. The
 * parsing rules behind them are unit-tested in core/domain/capture-verifier.test.ts and
 * strict-json.test.ts; this runs them through a gateway on the real broker and database.
 */
const variants: Variant[] = [
  // The same manifest, serialised otherwise, with the device's signature over the original bytes.
  { name: 'indented with two spaces', forge: (s, sig) => envelopeOf(JSON.stringify(s.manifest, null, 2), sig), code: 'signature_invalid' },
  {
    name: 'with its keys in reverse order',
    forge: (s, sig) => envelopeOf(JSON.stringify(Object.fromEntries(Object.entries(s.manifest).reverse())), sig),
    code: 'signature_invalid',
  },
  {
    name: 'with a space after one colon',
    forge: (s, sig) => envelopeOf(replaceOnce(s.manifestBytes.toString(), '":', '": '), sig),
    code: 'signature_invalid',
  },
  { name: 'with a trailing newline', forge: (s, sig) => envelopeOf(`${s.manifestBytes.toString()}\n`, sig), code: 'signature_invalid' },
  {
    name: 'with a letter written as a \\u escape',
    forge: (s, sig) => envelopeOf(replaceOnce(s.manifestBytes.toString(), '"speeding"', '"\\u0073peeding"'), sig),
    code: 'signature_invalid',
  },
  {
    name: 'with an escaped solidus',
    forge: (s, sig) => envelopeOf(replaceOnce(s.manifestBytes.toString(), 'image/jpeg', 'image\\/jpeg'), sig),
    code: 'signature_invalid',
  },
  {
    name: 'with a number written as 72.0',
    forge: (s, sig) => envelopeOf(replaceOnce(s.manifestBytes.toString(), '"speedKmh":72', '"speedKmh":72.0'), sig),
    code: 'signature_invalid',
  },
  {
    name: 'with a number written as 7.2e1',
    forge: (s, sig) => envelopeOf(replaceOnce(s.manifestBytes.toString(), '"speedKmh":72', '"speedKmh":7.2e1'), sig),
    code: 'signature_invalid',
  },
  // Bytes two parsers could read differently: refused even when the device's key signed them.
  {
    name: 'with a byte-order mark, signed',
    forge: (s, _sig, device) => {
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), s.manifestBytes]);
      return envelopeOf(bytes, sign(null, bytes, device.privateKey));
    },
    code: 'manifest_invalid',
  },
  {
    name: 'with a repeated reading, signed',
    forge: (s, _sig, device) => {
      const bytes = Buffer.from(replaceOnce(s.manifestBytes.toString(), '"speedKmh":72', '"speedKmh":72,"speedKmh":59'));
      return envelopeOf(bytes, sign(null, bytes, device.privateKey));
    },
    code: 'manifest_invalid',
  },
  {
    name: 'with a repeated top-level name, signed',
    forge: (s, _sig, device) => {
      const bytes = Buffer.from(
        replaceOnce(s.manifestBytes.toString(), '"violationType":"speeding"', '"violationType":"speeding","violationType":"red_light"'),
      );
      return envelopeOf(bytes, sign(null, bytes, device.privateKey));
    },
    code: 'manifest_invalid',
  },
  {
    name: 'with bytes after the manifest JSON, signed',
    forge: (s, _sig, device) => {
      const bytes = Buffer.concat([s.manifestBytes, Buffer.from('{}')]);
      return envelopeOf(bytes, sign(null, bytes, device.privateKey));
    },
    code: 'manifest_invalid',
  },
  // The envelope around a valid signature.
  { name: 'with bytes after the envelope', forge: (s) => Buffer.concat([s.envelope, Buffer.from(' x')]), code: 'message_malformed' },
  {
    name: 'with a second JSON value after the envelope',
    forge: (s) => Buffer.concat([s.envelope, Buffer.from('{}')]),
    code: 'message_malformed',
  },
  {
    name: 'with a repeated manifest name in the envelope',
    forge: (s) => Buffer.from(`${s.envelope.toString().slice(0, -1)},"manifest":"e30="}`),
    code: 'message_malformed',
  },
  {
    name: 'with a byte appended to the signature',
    forge: (s, sig) => envelopeOf(s.manifestBytes, Buffer.concat([sig, Buffer.from([0])])),
    code: 'signature_invalid',
  },
  {
    name: 'with the signature cut by one byte',
    forge: (s, sig) => envelopeOf(s.manifestBytes, sig.subarray(0, 63)),
    code: 'signature_invalid',
  },
  {
    name: 'with the signature in base64url',
    forge: (s, sig) => envelopeOf(s.manifestBytes, sig.toString('base64url')),
    code: 'message_malformed',
  },
  {
    name: 'with the signature base64 unpadded',
    forge: (s, sig) => envelopeOf(s.manifestBytes, sig.toString('base64').replace(/=+$/, '')),
    code: 'message_malformed',
  },
  {
    name: 'with a line break inside the signature base64',
    forge: (s, sig) => envelopeOf(s.manifestBytes, `${sig.toString('base64').slice(0, 40)}\n${sig.toString('base64').slice(40)}`),
    code: 'message_malformed',
  },
];

describe('signature canonicalisation attacks through the gateway', () => {
  let gateway: TestGateway;
  let camera: TestDevice;
  let device: MqttClient;
  let media: MediaFile[];

  beforeAll(async () => {
    gateway = await startTestGateway('canonical');
    camera = await enrolTestDevice(gateway.database.db);
    device = await gateway.connect('forger');
    media = await testMedia();
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  const rowOf = (message: Buffer) =>
    waitFor(`the row of ${sha256Hex(message).slice(0, 12)}`, async () => {
      const [row] = await gateway.database.db
        .select()
        .from(captures)
        .where(eq(captures.messageSha256, sha256Hex(message)));
      return row && row.state !== 'received' ? row : undefined;
    });

  /** The device's signature, read back out of its envelope. */
  const signatureOf = (signed: SignedCapture) =>
    Buffer.from((JSON.parse(signed.envelope.toString()) as { signature: string }).signature, 'base64');

  it('quarantines every variant with its code and accepts none, while the untouched capture is accepted', async () => {
    const forged = await Promise.all(
      variants.map(async (variant) => {
        const signed = await signedCapture(camera, { media });
        return { variant, message: variant.forge(signed, signatureOf(signed), camera) };
      }),
    );
    for (const { message } of forged) await device.publishAsync(topics.capture(gateway.topicRoot, camera.id), message, { qos: 1 });
    const genuine = await signedCapture(camera, { media });
    await publishCapture(device, gateway.topicRoot, genuine);

    const outcomes = await Promise.all(
      forged.map(async ({ variant, message }) => [variant.name, (await rowOf(message)).quarantineReasons?.map((reason) => reason.code)]),
    );
    expect(Object.fromEntries(outcomes)).toEqual(Object.fromEntries(variants.map((variant) => [variant.name, [variant.code]])));
    expect((await rowOf(genuine.envelope)).state).toBe('verified');
  });

  it('quarantines as replayed the same signature written in another base64 spelling after the original', async () => {
    const signed = await signedCapture(camera, { media });
    await publishCapture(device, gateway.topicRoot, signed);
    expect((await rowOf(signed.envelope)).state).toBe('verified');
    // 64 bytes end in one base64 letter that carries 2 bits and 4 spare ones; setting a spare bit decodes to the same signature.
    const canonical = signatureOf(signed).toString('base64');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = canonical.at(-3)!;
    const respelled = `${canonical.slice(0, -3)}${alphabet[alphabet.indexOf(last) | 1]}==`;
    expect(Buffer.from(respelled, 'base64').equals(signatureOf(signed))).toBe(true);
    const copy = envelopeOf(signed.manifestBytes, respelled);
    await device.publishAsync(topics.capture(gateway.topicRoot, camera.id), copy, { qos: 1 });
    expect((await rowOf(copy)).quarantineReasons?.map((reason) => reason.code)).toEqual(['replayed']);
  });
});
