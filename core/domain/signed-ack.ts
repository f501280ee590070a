import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { deviceIdSchema, PROTOCOL_VERSION, type AnyAcknowledgement, type ProtocolVersion } from './protocol.js';
import { parseStrictJson } from './strict-json.js';

/** A gateway public key as devices receive it: from GET /api/public/gateway-keys or the enrolment answer. */
export interface GatewayPublicKey {
  /** SHA-256 of the key's SPKI DER, lowercase hex; signed acks name their key with it. */
  fingerprint: string;
  publicKeyPem: string;
}

/** What a v2 acknowledgement adds to the outcome, so a copy cannot be moved to another device or passed off as newer. */
export interface SignedAckFields {
  protocol: typeof PROTOCOL_VERSION;
  deviceId: string;
  issuedAt: string;
  gatewayKey: string;
}

export type SignedAcknowledgement = AnyAcknowledgement & SignedAckFields;

const reasonsSchema = z.array(z.object({ code: z.string(), detail: z.string() }));
const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);
const signedBase = {
  protocol: z.literal(PROTOCOL_VERSION),
  deviceId: deviceIdSchema,
  issuedAt: z.iso.datetime({ offset: true }),
  gatewayKey: sha256Schema,
  reasons: reasonsSchema,
};

/** Loose objects: a later minor addition to an ack must not make today's devices refuse it. */
export const signedAckSchema = z.discriminatedUnion('about', [
  z.looseObject({
    ...signedBase,
    about: z.literal('capture'),
    captureId: z.string().nullable(),
    messageSha256: sha256Schema,
    status: z.enum(['accepted', 'quarantined', 'pending']),
  }),
  z.looseObject({ ...signedBase, about: z.literal('health'), messageSha256: sha256Schema, status: z.enum(['accepted', 'refused']) }),
  z.looseObject({
    ...signedBase,
    about: z.literal('chunk'),
    sha256: sha256Schema,
    chunkIndex: z.number().int(),
    chunkCount: z.number().int(),
    status: z.literal('refused'),
  }),
  z.looseObject({
    ...signedBase,
    about: z.literal('chunks'),
    sha256: sha256Schema,
    chunkCount: z.number().int(),
    chunksReceived: z.number().int(),
    status: z.literal('expired'),
  }),
]);

const envelopeSchema = z.strictObject({ ack: z.base64().min(1), signature: z.base64().min(1) });

/**
 * Base64 whose unused trailing bits are not zero decodes to the same bytes as its canonical
 * form; accepting only the canonical text makes every change to the envelope a refusal.
 */
function canonicalBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Signs an outcome for `deviceId`: the acks-topic payload `{"ack": base64, "signature": base64}`. */
export function signAcknowledgement(
  ack: AnyAcknowledgement,
  to: { deviceId: string; issuedAt: Date },
  key: { privateKey: KeyObject; fingerprint: string },
): Buffer {
  const signed: SignedAcknowledgement = {
    protocol: PROTOCOL_VERSION,
    deviceId: to.deviceId,
    issuedAt: to.issuedAt.toISOString(),
    gatewayKey: key.fingerprint,
    ...ack,
  };
  const bytes = Buffer.from(JSON.stringify(signed), 'utf8');
  return Buffer.from(JSON.stringify({ ack: bytes.toString('base64'), signature: sign(null, bytes, key.privateKey).toString('base64') }));
}

/** Why an ack was refused: an `unknown_key` may be a rotated gateway key, worth fetching the key list again for. */
export type AckRefusal = 'malformed' | 'unknown_key' | 'signature_invalid' | 'wrong_device';

export type AckVerification = { ok: true; ack: SignedAcknowledgement } | { ok: false; refusal: AckRefusal; problem: string };

const refused = (refusal: AckRefusal, problem: string): AckVerification => ({ ok: false, refusal, problem });

/**
 * What a device does with a message on its acks topic: accept the outcome only if a known
 * gateway key signed these exact bytes and the ack names this device. Anyone on the broker
 * can publish there, so anything else is a forgery or a mistake and changes nothing.
 */
export function verifyAcknowledgement(payload: Uint8Array, gatewayKeys: readonly GatewayPublicKey[], deviceId: string): AckVerification {
  const envelopeJson = parseStrictJson(payload);
  if (!envelopeJson.ok) return refused('malformed', `envelope: ${envelopeJson.problem}`);
  const envelope = envelopeSchema.safeParse(envelopeJson.value);
  if (!envelope.success) return refused('malformed', 'envelope: expected {"ack": base64, "signature": base64}');
  const bytes = canonicalBase64(envelope.data.ack);
  const signature = canonicalBase64(envelope.data.signature);
  if (!bytes || !signature) return refused('malformed', 'envelope: base64 not in canonical form');
  const json = parseStrictJson(bytes);
  if (!json.ok) return refused('malformed', `ack: ${json.problem}`);
  const ack = signedAckSchema.safeParse(json.value);
  if (!ack.success) return refused('malformed', 'ack: not a verity/2 acknowledgement');
  const key = gatewayKeys.find((candidate) => candidate.fingerprint === ack.data.gatewayKey);
  if (!key) return refused('unknown_key', `ack: signed by unknown gateway key ${ack.data.gatewayKey}`);
  let valid: boolean;
  try {
    valid = verify(null, bytes, createPublicKey(key.publicKeyPem), signature);
  } catch {
    valid = false;
  }
  if (!valid) return refused('signature_invalid', 'signature does not verify with the named gateway key');
  if (ack.data.deviceId !== deviceId) return refused('wrong_device', `ack: addressed to device ${ack.data.deviceId}`);
  return { ok: true, ack: ack.data as SignedAcknowledgement };
}

/**
 * The version a device message claims, read without trusting it: an ack answers in the
 * device's own version, and anything not plainly `verity/1` gets the signed v2 answer.
 */
export function messageProtocol(payload: Uint8Array): ProtocolVersion {
  const envelope = parseStrictJson(payload);
  if (!envelope.ok || typeof envelope.value !== 'object' || envelope.value === null) return PROTOCOL_VERSION;
  const message = (envelope.value as Record<string, unknown>).manifest;
  if (typeof message !== 'string') return PROTOCOL_VERSION;
  const body = parseStrictJson(Buffer.from(message, 'base64'));
  if (!body.ok || typeof body.value !== 'object' || body.value === null) return PROTOCOL_VERSION;
  return (body.value as Record<string, unknown>).protocol === 'verity/1' ? 'verity/1' : PROTOCOL_VERSION;
}
