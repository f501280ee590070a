/**
 * What leaves the analyst's screen (law L7): aggregates with fewer than k events are
 * suppressed, because a count of one or two at a place and hour can point at a person.
 */
export function suppressSmallCounts<T>(rows: readonly T[], countOf: (row: T) => number, k: number): { kept: T[]; suppressed: number } {
  const kept = rows.filter((row) => countOf(row) >= k);
  return { kept, suppressed: rows.length - kept.length };
}

/** The line a suppressing export starts with, so nobody mistakes a missing row for zero. */
export function suppressionNote(suppressed: number, total: number, k: number): string {
  return `k-anonymity: ${suppressed} of ${total} rows with fewer than ${k} events suppressed`;
}

export type CsvValue = string | number | boolean | null;

/**
 * RFC 4180 CSV with CRLF line ends, optionally opened by a `# note` line. Text that a
 * spreadsheet would run as a formula (=, +, -, @ first) is prefixed with an apostrophe;
 * numbers are written as they are.
 */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[], note?: string): string {
  const lines = [header.map(field).join(','), ...rows.map((row) => row.map(field).join(','))];
  if (note !== undefined) lines.unshift(`# ${note.replace(/[\r\n]+/g, ' ')}`);
  return `${lines.join('\r\n')}\r\n`;
}

function field(value: CsvValue): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
