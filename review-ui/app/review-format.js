// Times and quantities as a reviewer reads them: "due in 2 d 4 h", "3 min before capture".
import { element } from './dom.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A span of time in its two largest units: "2 d 4 h", "3 h 12 min", "4 min". */
export function span(ms) {
  const total = Math.abs(ms);
  if (total < MINUTE) return 'less than a minute';
  const days = Math.floor(total / DAY);
  const hours = Math.floor((total % DAY) / HOUR);
  const minutes = Math.floor((total % HOUR) / MINUTE);
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  return `${minutes} min`;
}

/** The statutory clock: how long is left to review, or how long ago the time ran out; `urgent` within a day. */
export function deadlineClock(deadline, now = Date.now()) {
  const left = new Date(deadline).getTime() - now;
  if (left <= 0) return { text: `overdue by ${span(left)}`, overdue: true, urgent: true };
  return { text: `due in ${span(left)}`, overdue: false, urgent: left < DAY };
}

/** A moment in the reviewer's local time, to the second, with the exact instant in `datetime`. */
export function moment(iso) {
  if (!iso) return element('span', { class: 'muted' }, 'unknown');
  const date = new Date(iso);
  return element(
    'time',
    { datetime: date.toISOString(), title: date.toISOString() },
    date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }),
  );
}

/** How far `iso` lies before or after `reference`, e.g. "3 min before capture". */
export function relativeTo(iso, reference, label) {
  const difference = new Date(iso).getTime() - new Date(reference).getTime();
  if (Math.abs(difference) < MINUTE) return `within a minute of ${label}`;
  return `${span(difference)} ${difference < 0 ? 'before' : 'after'} ${label}`;
}

/** ✓ or ✗ with words next to it, so colour is never the only signal. */
export function verdict(ok, yes, no) {
  return element('span', { class: ok ? 'ok' : 'bad' }, ok ? `✓ ${yes}` : `✗ ${no}`);
}

/** `speedKmh` → `speed kmh`: manifest keys read as words where no better label is known. */
export function keyWords(key) {
  return key
    .replaceAll('_', ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

export function bytes(count) {
  if (count >= 1_000_000) return `${(count / 1_000_000).toFixed(1)} MB`;
  if (count >= 1_000) return `${Math.round(count / 1_000)} KB`;
  return `${count} B`;
}
