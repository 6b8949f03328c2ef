/**
 * An independent, slow reference for calendarInterval fire dates: the contract's rule walked one
 * step at a time from `start` with JS Date arithmetic (no code shared with src/triggers). Dates are
 * 'YYYY-MM-DD' strings (more digits for years past 9999).
 */

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function toIso(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function utcDate(year: number, monthIndex: number, day: number): Date {
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  return d;
}

/**
 * The contract's next fire date: `months` months later keeping the day of month (a month without
 * that day skipped by adding `months` again, never clamped), then `days` days later.
 */
export function referenceNextDate(iso: string, months: number, days: number): string {
  const [year, month, day] = iso.split('-').map(Number) as [number, number, number];
  let d = utcDate(year, month - 1, day);
  if (months > 0) {
    for (let j = 1; ; j++) {
      const index = year * 12 + month - 1 + j * months;
      d = utcDate(Math.floor(index / 12), index % 12, day);
      // Date rolls Feb 30 over into March: a date that kept its day exists.
      if (d.getUTCDate() === day) break;
    }
  }
  d.setUTCDate(d.getUTCDate() + days);
  return toIso(d);
}

/** The first fire date on or after `from` ('YYYY-MM-DD'), walking from `start`. */
export function referenceFirstDateFrom(start: string, months: number, days: number, from: string): string {
  const dayOf = (iso: string): number => {
    const [year, month, day] = iso.split('-').map(Number) as [number, number, number];
    return utcDate(year, month - 1, day).getTime();
  };
  const target = dayOf(from);
  let d = start;
  while (dayOf(d) < target) d = referenceNextDate(d, months, days);
  return d;
}
