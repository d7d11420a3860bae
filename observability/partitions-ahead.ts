import type { Pool } from 'pg';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

export interface PartitionRange {
  /** Inclusive lower bound, epoch ms. */
  from: number;
  /** Exclusive upper bound, epoch ms. */
  to: number;
}

/**
 * Whole calendar months (UTC) after the current one that attached partitions cover without
 * a gap; -1 when the current month itself is not fully covered (inserts are failing or will).
 * Bounds are read, not partition names, so a hand-made partition covering a month counts.
 */
export function monthsAhead(ranges: readonly PartitionRange[], now: Date): number {
  const monthStart = (offset: number) => Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1);
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  // Walk forward from the start of this month as far as partitions touch each other.
  let coveredTo = monthStart(0);
  for (const r of sorted) {
    if (r.from > coveredTo) break;
    coveredTo = Math.max(coveredTo, r.to);
  }
  if (coveredTo < monthStart(1)) return -1;
  let months = 0;
  while (monthStart(months + 2) <= coveredTo) months++;
  return months;
}

/** The bounds of the attached range partitions of `table` (detach-pending and DEFAULT partitions excluded). */
export async function partitionRanges(pool: Pick<Pool, 'query'>, table = 'messages'): Promise<PartitionRange[]> {
  const { rows } = await pool.query<{ from_ms: string; to_ms: string }>(
    `SELECT (extract(epoch FROM b[1]::timestamptz) * 1000)::bigint::text AS from_ms,
            (extract(epoch FROM b[2]::timestamptz) * 1000)::bigint::text AS to_ms
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid,
            regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \\('([^']+)'\\) TO \\('([^']+)'\\)$$) AS b
      WHERE i.inhparent = to_regclass($1) AND NOT i.inhdetachpending`,
    [table],
  );
  return rows.map((r) => ({ from: Number(r.from_ms), to: Number(r.to_ms) }));
}

export async function partitionsAhead(pool: Pick<Pool, 'query'>, now = new Date(), table = 'messages'): Promise<number> {
  return monthsAhead(await partitionRanges(pool, table), now);
}

/** Sets `turumba_partitions_ahead_months{table}` now and every `everyMs` (a few minutes: it changes once a day). */
export function pollPartitionsAhead(deps: { pool: Pick<Pool, 'query'>; metrics: Pick<Metrics, 'partitionsAhead'>; logger: Logger; everyMs?: number }): {
  poll(): Promise<void>;
  stop(): void;
} {
  const poll = async (): Promise<void> => {
    try {
      deps.metrics.partitionsAhead.set({ table: 'messages' }, await partitionsAhead(deps.pool));
    } catch (err) {
      deps.logger.warn({ event: 'partitions_ahead_poll_failed', err: (err as Error).message });
    }
  };
  const timer = setInterval(() => void poll(), deps.everyMs ?? 5 * 60_000);
  timer.unref();
  void poll();
  return { poll, stop: () => clearInterval(timer) };
}
