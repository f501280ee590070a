import { createHash, createPublicKey } from 'node:crypto';

/** SHA-256 of the key's SPKI DER, hex: the same key always has one fingerprint, however its PEM text is wrapped. */
export function keyFingerprint(publicKeyPem: string): string {
  return createHash('sha256')
    .update(createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
