import { generateKeyPairSync } from 'node:crypto';
import { verifyAcknowledgement, type GatewayPublicKey, type SignedAcknowledgement } from '../../core/domain/signed-ack.js';
import { publicKeyFingerprint, type ServerSigningKey } from '../../core/infrastructure/signing-key.js';

/** A fresh gateway key for one test's gateway; kept in memory, as nothing reads it from disk. */
export function testGatewayKey(): ServerSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, fingerprint: publicKeyFingerprint(publicKeyPem) };
}

/**
 * Opens what arrived on `<root>/devices/<id>/acks` as a device must: verified with the gateway's
 * key and addressed to the topic's device. Throws otherwise, so a test reading acks through
 * this also proves each one was signed.
 */
export function openAck(topic: string, payload: Buffer, keys: GatewayPublicKey | readonly GatewayPublicKey[]): SignedAcknowledgement {
  const deviceId = /\/devices\/([^/]+)\/acks$/.exec(topic)?.[1];
  if (!deviceId) throw new Error(`${topic} is not an acks topic`);
  const verified = verifyAcknowledgement(payload, Array.isArray(keys) ? keys : [keys as GatewayPublicKey], deviceId);
  if (!verified.ok) throw new Error(`acknowledgement on ${topic} does not verify: ${verified.problem}: ${payload.toString()}`);
  return verified.ack;
}
