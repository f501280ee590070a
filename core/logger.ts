import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON logger per process; each role takes a child named after itself. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'verity' } });
}
