import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger('info', stream), lines };
}

describe('createLogger', () => {
  it('never writes a cookie, bearer token, CSRF token, password or key, at any of the depths fastify and the roles log them', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 12, maxLength: 40 }).map((text) => `SECRET-${text}`),
        (secret) => {
          const { log, lines } = capture();
          log.info(
            {
              req: {
                method: 'POST',
                url: '/api/session',
                headers: { authorization: `Bearer ${secret}`, cookie: `verity_session=${secret}`, 'x-csrf-token': secret },
              },
            },
            'request',
          );
          log.info({ res: { statusCode: 200, headers: { 'set-cookie': `verity_session=${secret}` } } }, 'reply');
          log.info({ body: { username: 'li.wei', password: secret } }, 'body');
          log.info({ password: secret, newPassword: secret, currentPassword: secret }, 'top level');
          log.warn({ config: { s3: { secretAccessKey: secret }, admin: { adminToken: secret } } }, 'nested');
          log.error({ device: { privateKeyPem: secret }, session: { token: secret, csrfToken: secret } }, 'keys');
          const output = lines.join('');
          expect(output).not.toContain(secret.slice('SECRET-'.length));
          expect(output.match(/\[redacted\]/g)?.length).toBe(13);
          // What is not secret stays readable.
          expect(output).toContain('li.wei');
          expect(output).toContain('/api/session');
        },
      ),
      { numRuns: 50 },
    );
  });
});
