import { pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * Mosquitto's password-file hash (`$7$`, what `mosquitto_passwd` writes by default):
 * PBKDF2-HMAC-SHA512 over a 12-byte salt, 64 bytes out, written as
 * `$7$<iterations>$<base64 salt>$<base64 hash>`. Iterations are mosquitto_passwd's 101: the
 * broker hashes on every connect, and a generated 192-bit password gains nothing from more.
 */
const ITERATIONS = 101;

/** A new broker password for a device: 24 random bytes, URL-safe, shown once at enrolment. */
export function newBrokerPassword(): string {
  return randomBytes(24).toString('base64url');
}

export function mosquittoPasswordHash(password: string, salt: Buffer = randomBytes(12)): string {
  const hash = pbkdf2Sync(password, salt, ITERATIONS, 64, 'sha512');
  return `$7$${ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** One line of a Mosquitto password file; a username with `:` or a line break could not be read back. */
export function passwordFileLine(username: string, hash: string): string {
  if (/[:\r\n]/.test(username)) throw new Error(`not a usable broker username: ${JSON.stringify(username)}`);
  return `${username}:${hash}`;
}

/**
 * Broker usernames starting `verity-` belong to Verity's service accounts (the gateways', the
 * demo simulator's), whose ACL reaches every device: a device enrolled under such an id must
 * never get a password for that account.
 */
export function isServiceAccount(username: string): boolean {
  return username.startsWith('verity-');
}
