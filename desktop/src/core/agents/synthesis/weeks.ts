/** ISO weeks (Monday first, UTC), which name a digest the same way on every device. */

const DAY_MS = 86_400_000;

export interface Week {
  /** `YYYY-Www`. */
  label: string;
  from: number;
  to: number;
}

export function weekOf(ms: number): Week {
  const date = new Date(ms);
  const day = (date.getUTCDay() + 6) % 7; // Monday = 0
  const from = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) - day * DAY_MS;
  // The ISO year is the year of the week's Thursday.
  const thursday = new Date(from + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const jan4 = Date.UTC(year, 0, 4);
  const week1 = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY_MS;
  const n = Math.round((from - week1) / (7 * DAY_MS)) + 1;
  return { label: `${year}-W${String(n).padStart(2, '0')}`, from, to: from + 7 * DAY_MS };
}

export function parseWeek(label: string): Week | undefined {
  const match = /^(\d{4})-W(\d{2})$/.exec(label);
  if (!match) return undefined;
  const year = Number(match[1]);
  const n = Number(match[2]);
  if (n < 1 || n > 53) return undefined;
  const jan4 = Date.UTC(year, 0, 4);
  const week1 = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY_MS;
  const week = weekOf(week1 + (n - 1) * 7 * DAY_MS);
  return week.label === label ? week : undefined;
}

/** The last week that has ended by `now`. */
export function lastFullWeek(now: number): Week {
  return weekOf(weekOf(now).from - 1);
}
