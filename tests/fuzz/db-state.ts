import type { Pool } from 'pg';

/**
 * Row count and checksum of every table a request could write, limited to the
 * fuzz run's own accounts: other test files share the database, and their
 * leftover workflows may still move their own rows while the fuzz runs.
 */
const SCOPED: Readonly<Record<string, string>> = {
  accounts: 'id = ANY($1::uuid[])',
  api_keys: 'account_id = ANY($1::uuid[])',
  channels: 'account_id = ANY($1::uuid[])',
  messages: 'account_id = ANY($1::uuid[])',
  message_events: 'message_id IN (SELECT id FROM messages WHERE account_id = ANY($1::uuid[]))',
  pending_status_updates: 'channel_id IN (SELECT id FROM channels WHERE account_id = ANY($1::uuid[]))',
  inbound_dedup: 'channel_id IN (SELECT id FROM channels WHERE account_id = ANY($1::uuid[]))',
  contact_windows: 'channel_id IN (SELECT id FROM channels WHERE account_id = ANY($1::uuid[]))',
  rate_limiter_state: 'channel_id IN (SELECT id FROM channels WHERE account_id = ANY($1::uuid[]))',
  group_messages: 'account_id = ANY($1::uuid[])',
  group_recipients: 'group_message_id IN (SELECT id FROM group_messages WHERE account_id = ANY($1::uuid[]))',
  idempotency_keys: 'account_id = ANY($1::uuid[])',
  pending_signals: 'message_id IN (SELECT id FROM messages WHERE account_id = ANY($1::uuid[]))',
  account_daily_usage: 'account_id = ANY($1::uuid[])',
};

export type DbState = Readonly<Record<string, string>>;

export interface StateProbe {
  /** Tables found in the database that the probe does not know how to scope (reported, not checked). */
  unscoped: string[];
  snapshot(): Promise<DbState>;
}

export async function stateProbe(pool: Pool, accountIds: string[]): Promise<StateProbe> {
  const tables = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
  );
  const present = new Set(tables.rows.map((r) => r.name));
  const scoped = Object.entries(SCOPED).filter(([t]) => present.has(t));
  const sql = scoped
    .map(
      ([table, where]) =>
        `SELECT '${table}' AS t, count(*)::text || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS v FROM ${table} x WHERE ${where}`,
    )
    .join(' UNION ALL ');
  return {
    unscoped: [...present].filter((t) => !(t in SCOPED) && t !== 'schema_migrations').sort(),
    async snapshot() {
      const r = await pool.query<{ t: string; v: string }>(sql, [accountIds]);
      return Object.fromEntries(r.rows.map((row) => [row.t, row.v]));
    },
  };
}

/** The tables whose count or checksum differ, as "table: before → after". */
export function stateDiff(before: DbState, after: DbState): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((t) => before[t] !== after[t]).map((t) => `${t}: ${before[t] ?? '-'} → ${after[t] ?? '-'}`);
}
