import type { Pool } from 'pg';

// Bookkeeping rows that only matter for a while: an idempotency key for the window in which
// a client retries, a receipt that arrived before its send was recorded, an inbound message
// id for the days a provider may redeliver it. Each table's age column, indexed.
export const EXPIRING_TABLES = {
  idempotency_keys: 'created_at',
  pending_status_updates: 'received_at',
  inbound_dedup: 'received_at',
} as const;

export type ExpiringTable = keyof typeof EXPIRING_TABLES;

export const DEFAULT_EXPIRY_BATCH = 5_000;

/**
 * Deletes `table`'s rows older than `cutoff`, oldest first, `batchSize` rows per statement,
 * so no statement holds many row locks or writes a huge WAL burst. `onBatch` sees the running
 * total after each batch (the activity heartbeats with it). Returns how many rows went.
 */
export async function deleteExpired(
  pool: Pool,
  table: ExpiringTable,
  cutoff: Date,
  opts: { batchSize?: number; onBatch?: (deleted: number) => void } = {},
): Promise<number> {
  const column = EXPIRING_TABLES[table];
  const batchSize = opts.batchSize ?? DEFAULT_EXPIRY_BATCH;
  let deleted = 0;
  for (;;) {
    const res = await pool.query(`DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${column} < $1 ORDER BY ${column} LIMIT $2))`, [
      cutoff,
      batchSize,
    ]);
    deleted += res.rowCount ?? 0;
    opts.onBatch?.(deleted);
    if ((res.rowCount ?? 0) < batchSize) return deleted;
  }
}
