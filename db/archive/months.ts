// Month arithmetic in UTC: partitions are [first of month 00:00 UTC, first of next month).

export function monthStart(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
}

/** First instant of the month `months` after (or before, when negative) the month of `d`. */
export function monthOffset(d: Date, months: number): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
}

/** `messages_y2026m03` for any instant in March 2026 (UTC). */
export function partitionName(d: Date): string {
  return `messages_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

const NAME = /^messages_y(\d{4})m(0[1-9]|1[0-2])$/;

/** The month a partition name stands for, or undefined for any other name. */
export function boundsFromName(name: string): { from: Date; to: Date } | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  return { from, to: monthOffset(from, 1) };
}

/** YYYY-MM-DD of a month's first day, the form ensure_message_partitions takes. */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}
