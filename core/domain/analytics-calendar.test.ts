import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, analysisPeriod, consecutiveRuns, daysBetween, eachDay, isoWeekday, localDay, monthOf } from './analytics-calendar.js';

describe('localDay', () => {
  it('puts a late evening in Shanghai on its own day, not the next UTC one', () => {
    expect(localDay(new Date('2026-03-01T15:30:00Z'), 'Asia/Shanghai')).toBe('2026-03-01');
    expect(localDay(new Date('2026-03-01T16:30:00Z'), 'Asia/Shanghai')).toBe('2026-03-02');
    expect(localDay(new Date('2026-03-01T16:30:00Z'), 'UTC')).toBe('2026-03-01');
  });
});

describe('day arithmetic', () => {
  it('crosses months, years and leap days', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
    expect(daysBetween('2024-01-01', '2024-12-31')).toBe(366);
    expect(daysBetween('2024-01-02', '2024-01-01')).toBe(0);
    expect(eachDay('2026-01-30', '2026-02-02')).toEqual(['2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02']);
  });

  it('adding and counting days agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 3000 }), (offset, length) => {
        const from = addDays('1990-01-01', offset);
        return daysBetween(from, addDays(from, length)) === length + 1;
      }),
    );
  });

  it('names months and ISO weekdays', () => {
    expect(monthOf('2026-11-23')).toBe('2026-11-01');
    expect(isoWeekday('2026-11-23')).toBe(1);
    expect(isoWeekday('2026-11-29')).toBe(7);
  });
});

describe('analysisPeriod', () => {
  it('ends settleDays before today and spans screenDays', () => {
    const period = analysisPeriod(new Date('2026-11-23T02:00:00Z'), {
      timeZone: 'Asia/Shanghai',
      settleDays: 7,
      screenDays: 365,
      trendRecentDays: 90,
    });
    expect(period).toEqual({ from: '2025-11-17', to: '2026-11-16', recentFrom: '2026-08-19' });
    expect(daysBetween(period.from, period.to)).toBe(365);
    expect(daysBetween(period.recentFrom, period.to)).toBe(90);
  });
});

describe('consecutiveRuns', () => {
  it('folds days into runs, whatever their order and repeats', () => {
    expect(consecutiveRuns(['2026-01-03', '2026-01-01', '2026-01-02', '2026-01-02', '2026-01-09', '2026-02-01'])).toEqual([
      ['2026-01-01', '2026-01-03'],
      ['2026-01-09', '2026-01-09'],
      ['2026-02-01', '2026-02-01'],
    ]);
    expect(consecutiveRuns([])).toEqual([]);
  });
});
