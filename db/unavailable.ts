import { DatabaseBusyError } from './client.js';

/** SQLSTATE classes and codes that mean the database, not the request, is the problem. */
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);
const STATEMENT_TIMEOUT = '57014';

function codeOf(error: unknown): string | undefined {
  const own = (error as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  const cause = (error as { cause?: unknown }).cause;
  return cause && cause !== error ? codeOf(cause) : undefined;
}

function messageChain(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error && parts.length < 5; current = current.cause) parts.push(current.message);
  return parts.join(' | ');
}

/**
 * Says in words why the database cannot serve a request right now (busy, unreachable, too
 * slow), or undefined when the error is something else. Such requests are answered 503: the
 * client may retry, and nobody sees a raw driver message as a 500.
 */
export function databaseUnavailability(error: unknown): string | undefined {
  if (error instanceof DatabaseBusyError || messageChain(error).includes('DatabaseBusyError')) {
    return 'the database is busy: no connection came free in time; try again in a moment';
  }
  const code = codeOf(error);
  if (code === STATEMENT_TIMEOUT) return 'the database took too long to answer; try again in a moment';
  if (
    (code && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) ||
    /Connection terminated|connect ECONNREFUSED/.test(messageChain(error))
  ) {
    return 'the database is unreachable right now; try again in a moment';
  }
  return undefined;
}
