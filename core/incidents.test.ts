import { describe, expect, it } from 'vitest';
import { fallsInIncident, incidentSubject } from './incidents.js';

describe('incident grouping', () => {
  it('groups by plate, case- and space-insensitively, and never groups captures without a subject', () => {
    expect(incidentSubject('c1', { plate: ' 粤b·3k7q9 ' })).toBe('plate:粤B·3K7Q9');
    expect(incidentSubject('c1', { decibels: 91 })).toBe('capture:c1');
    expect(incidentSubject('c1', { plate: '' })).toBe('capture:c1');
  });

  it('takes captures within the window on either side of the incident span', () => {
    const incident = { firstCapturedAt: new Date('2026-01-01T10:00:00Z'), lastCapturedAt: new Date('2026-01-01T10:05:00Z') };
    const window = 30 * 60_000;
    expect(fallsInIncident(incident, new Date('2026-01-01T10:35:00Z'), window)).toBe(true);
    expect(fallsInIncident(incident, new Date('2026-01-01T10:35:01Z'), window)).toBe(false);
    expect(fallsInIncident(incident, new Date('2026-01-01T09:30:00Z'), window)).toBe(true);
    expect(fallsInIncident(incident, new Date('2026-01-01T09:29:59Z'), window)).toBe(false);
  });
});
