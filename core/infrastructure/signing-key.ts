import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The server's own Ed25519 key: it signs audit chain heads and evidence packages, so a reader
 * holding only the public key can tell the record left this system unchanged.
 */
export interface ServerSigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  /** SHA-256 of the public key's SPKI DER, hex: names the key in signatures and packages. */
  fingerprint: string;
}

export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

function fromPrivateKey(privateKey: KeyObject): ServerSigningKey {
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, fingerprint: publicKeyFingerprint(publicKeyPem) };
}

/** Reads the key at `file`, creating one (readable by this user only) on first use. */
export async function loadOrCreateSigningKey(file: string): Promise<ServerSigningKey> {
  try {
    return fromPrivateKey(createPrivateKey(await readFile(file)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  await mkdir(path.dirname(file), { recursive: true });
  // 'wx' so two processes starting together never overwrite each other's fresh key.
  await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' }).catch(async (error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  return fromPrivateKey(createPrivateKey(await readFile(file)));
}

export function signBytes(key: ServerSigningKey, bytes: Uint8Array): string {
  return sign(null, bytes, key.privateKey).toString('base64');
}

export function verifyBytes(publicKeyPem: string, bytes: Uint8Array, signatureBase64: string): boolean {
  try {
    return verify(null, bytes, createPublicKey(publicKeyPem), Buffer.from(signatureBase64, 'base64'));
  } catch {
    return false;
  }
}
