import { describe, expect, it } from 'vitest';
import { lastFullWeek, parseWeek, weekOf } from './weeks.ts';

describe('ISO weeks', () => {
  it('names weeks as ISO 8601 does, including across a year boundary', () => {
    expect(weekOf(Date.UTC(2026, 10, 24)).label).toBe('2026-W48');
    expect(weekOf(Date.UTC(2026, 0, 1)).label).toBe('2026-W01'); // a Thursday
    expect(weekOf(Date.UTC(2027, 0, 1)).label).toBe('2026-W53'); // a Friday: still 2026's last week
    expect(weekOf(Date.UTC(2024, 11, 30)).label).toBe('2025-W01'); // a Monday in 2025's first week
  });

  it('starts on Monday 00:00 UTC and lasts seven days', () => {
    const week = weekOf(Date.UTC(2026, 10, 26, 15));
    expect(new Date(week.from).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(week.to - week.from).toBe(7 * 86_400_000);
    expect(lastFullWeek(Date.UTC(2026, 10, 26)).label).toBe('2026-W47');
  });

  it('parses its own labels and refuses others', () => {
    expect(parseWeek('2026-W48')).toEqual(weekOf(Date.UTC(2026, 10, 24)));
    expect(parseWeek('2026-W54')).toBeUndefined();
    expect(parseWeek('2025-W53')).toBeUndefined(); // 2025 has 52 weeks
    expect(parseWeek('last week')).toBeUndefined();
  });
});
