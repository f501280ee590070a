/**
 * Calendar days as 'YYYY-MM-DD' strings, the unit every analytics table counts in. A day is
 * local to the configured time zone (violations at 23:30 belong to that evening, not to the
 * next UTC day); the arithmetic on day strings is zone-free.
 */
const DAY_MS = 24 * 3600 * 1000;

/** The local calendar day of an instant in `timeZone`. */
export function localDay(instant: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);
}

export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included (0 when `to` is before `from`). */
export function daysBetween(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1);
}

export function eachDay(from: string, to: string): string[] {
  return Array.from({ length: daysBetween(from, to) }, (_, i) => addDays(from, i));
}

/** The first day of the day's month. */
export function monthOf(day: string): string {
  return `${day.slice(0, 7)}-01`;
}

/** ISO weekday of a day: 1 = Monday … 7 = Sunday. */
export function isoWeekday(day: string): number {
  return ((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7) + 1;
}

export interface AnalysisPeriod {
  from: string;
  to: string;
  /** First day of the trend's recent window; the days before it are the baseline. */
  recentFrom: string;
}

/**
 * The screening period: `screenDays` ending `settleDays` before today, because the newest
 * captures may still be waiting for review and would make every site look quieter.
 */
export function analysisPeriod(
  now: Date,
  settings: { timeZone: string; settleDays: number; screenDays: number; trendRecentDays: number },
): AnalysisPeriod {
  const to = addDays(localDay(now, settings.timeZone), -settings.settleDays);
  return { from: addDays(to, 1 - settings.screenDays), to, recentFrom: addDays(to, 1 - settings.trendRecentDays) };
}

/** Sorted distinct days folded into runs of consecutive days. */
export function consecutiveRuns(days: Iterable<string>): [string, string][] {
  const sorted = [...new Set(days)].sort();
  const runs: [string, string][] = [];
  for (const day of sorted) {
    const last = runs.at(-1);
    if (last && addDays(last[1], 1) === day) last[1] = day;
    else runs.push([day, day]);
  }
  return runs;
}
