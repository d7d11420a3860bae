import type { Pool, PoolClient } from 'pg';
import { quoteIdent } from './canonical';

// What the catalog says about the months of `messages`. Together with the
// manifests it is the whole state of archival: nothing else is recorded, so a
// rerun after any crash starts from the truth.

export type PartitionState = 'attached' | 'detach_pending' | 'detached';

export interface PartitionInfo {
  name: string;
  state: PartitionState;
  isDefault: boolean;
  /** Range bounds; undefined for DEFAULT, MINVALUE/MAXVALUE or a detached table. */
  from?: Date;
  to?: Date;
}

/** Attached and detach-pending partitions of `messages`, plus detached month tables left beside it. */
export async function listPartitions(pool: Pool): Promise<PartitionInfo[]> {
  const attached = await pool.query<{ name: string; pending: boolean; is_default: boolean; from: Date | null; to: Date | null }>(
    `SELECT c.relname AS name, i.inhdetachpending AS pending, b.expr = 'DEFAULT' AS is_default,
            (regexp_match(b.expr, $$FROM \\('([^']+)'\\) TO$$))[1]::timestamptz AS "from",
            (regexp_match(b.expr, $$TO \\('([^']+)'\\)$$))[1]::timestamptz AS "to"
     FROM pg_inherits i
     JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
     WHERE i.inhparent = to_regclass('messages')
     ORDER BY 4 NULLS FIRST, 1`,
  );
  const detached = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
     WHERE c.relkind = 'r' AND NOT c.relispartition
       AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('messages'))
       AND c.relname ~ '^messages_y[0-9]{4}m[0-9]{2}$'
     ORDER BY 1`,
  );
  return [
    ...attached.rows.map((r) => ({
      name: r.name,
      state: r.pending ? ('detach_pending' as const) : ('attached' as const),
      isDefault: r.is_default,
      from: r.from ?? undefined,
      to: r.to ?? undefined,
    })),
    ...detached.rows.map((r) => ({ name: r.name, state: 'detached' as const, isDefault: false })),
  ];
}

export async function partitionState(pool: Pool, name: string): Promise<PartitionInfo | undefined> {
  return (await listPartitions(pool)).find((p) => p.name === name);
}

export class PartitionBusyError extends Error {
  constructor(readonly partition: string) {
    super(`another maintenance run is working on ${partition}`);
    this.name = 'PartitionBusyError';
  }
}

/**
 * Runs `fn` holding a session advisory lock for one partition, on a client
 * outside any transaction (DETACH ... CONCURRENTLY refuses to run inside one).
 */
export async function withPartitionLock<T>(pool: Pool, name: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(7261002, hashtext($1)) AS ok', [name]);
    if (!rows[0]?.ok) throw new PartitionBusyError(name);
    try {
      return await fn(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock(7261002, hashtext($1))', [name]);
    }
  } finally {
    client.release();
  }
}

/**
 * Detaches without blocking traffic. A concurrent detach runs in two
 * transactions; if it is interrupted between them (crash, cancel, timeout) the
 * partition stays "detach pending" and only FINALIZE completes it.
 */
export async function detachPartition(
  pool: Pool,
  client: PoolClient,
  info: PartitionInfo,
  signal?: AbortSignal,
): Promise<'detached' | 'finalized' | 'already'> {
  if (info.state === 'detached') return 'already';
  const mode = info.state === 'detach_pending' ? 'FINALIZE' : 'CONCURRENTLY';
  await cancellable(pool, client, `ALTER TABLE messages DETACH PARTITION ${quoteIdent(info.name)} ${mode}`, signal);
  return mode === 'FINALIZE' ? 'finalized' : 'detached';
}

/** Drops a month table that is no longer attached; refuses an attached one. */
export async function dropDetached(client: PoolClient, name: string): Promise<void> {
  const { rows } = await client.query<{ attached: boolean }>('SELECT relispartition AS attached FROM pg_class WHERE oid = to_regclass($1)', [name]);
  if (rows[0]?.attached !== false) throw new Error(`${name} is attached or missing; only a detached month is dropped`);
  await client.query(`DROP TABLE ${quoteIdent(name)}`);
}

/** The detach waits for older transactions to end; an aborted activity must not leave it waiting. */
async function cancellable(pool: Pool, client: PoolClient, sql: string, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const cancel = () => void pool.query('SELECT pg_cancel_backend($1)', [rows[0]?.pid]).catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await client.query(sql);
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
