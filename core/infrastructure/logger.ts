import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * What must never reach a log, wherever it appears: credentials in request and response
 * headers (session cookies, bearer tokens, CSRF tokens), passwords in any request body or
 * log field, and keys (the S3 secret, ADMIN_TOKEN, private keys).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-csrf-token"]',
  'headers["set-cookie"]',
  ...[
    'password',
    'currentPassword',
    'newPassword',
    'token',
    'csrfToken',
    'adminToken',
    'secretAccessKey',
    'privateKey',
    'privateKeyPem',
  ].flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

/** One JSON logger per process; each role takes a child named after itself. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'verity' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}
