import { describe, expect, it } from 'vitest';
import { useSpecDatabase } from '../tests/support/spec-database';
import { CHANNEL_TYPES, MESSAGE_STATUSES, STATUS_RANK, type MessageStatus } from '../lifecycle';

// The migrations spell the lifecycle a second time, in SQL: message_status_rank() orders
// every conditional status update, and CHECK constraints list the words. They must say
// what lifecycle/ says.

type Order = 'before' | 'same' | 'after';
const order = (a: number, b: number): Order => (a < b ? 'before' : a === b ? 'same' : 'after');

describe('the SQL lifecycle agrees with lifecycle/ (real PostgreSQL)', () => {
  const database = useSpecDatabase(1);

  it('message_status_rank() orders every pair of statuses as STATUS_RANK does', async () => {
    const { rows } = await database.pool.query<{ a: MessageStatus; b: MessageStatus; ra: number | null; rb: number | null }>(
      `SELECT a, b, message_status_rank(a) AS ra, message_status_rank(b) AS rb
       FROM unnest($1::text[]) WITH ORDINALITY AS x(a, i), unnest($1::text[]) WITH ORDINALITY AS y(b, j)
       ORDER BY i, j`,
      [MESSAGE_STATUSES],
    );
    expect(rows).toHaveLength(MESSAGE_STATUSES.length ** 2);
    const sql = rows.map((r) => `${r.a} ${r.ra === null || r.rb === null ? 'unranked' : order(r.ra, r.rb)} ${r.b}`);
    const ts = MESSAGE_STATUSES.flatMap((a) => MESSAGE_STATUSES.map((b) => `${a} ${order(STATUS_RANK[a], STATUS_RANK[b])} ${b}`));
    expect(sql).toEqual(ts);
  });

  it('the CHECK constraints list exactly the statuses and the channel types', async () => {
    const quoted = async (table: string, column: string): Promise<string[]> => {
      const { rows } = await database.pool.query<{ def: string }>(
        `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
         WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND c.conkey = ARRAY[
           (SELECT attnum FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2)]`,
        [table, column],
      );
      expect(rows, `one CHECK on ${table}.${column}`).toHaveLength(1);
      return [...(rows[0]?.def ?? '').matchAll(/'([^']*)'::text/g)].map((m) => m[1] ?? '');
    };
    expect(await quoted('messages', 'status')).toEqual([...MESSAGE_STATUSES]);
    expect(await quoted('channels', 'channel_type')).toEqual([...CHANNEL_TYPES]);
  });
});
