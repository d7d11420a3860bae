import { describe, expect, it } from 'vitest';
import { useSpecDatabase } from '../tests/support/spec-database';
import { inject } from 'vitest';
import { migrate } from './migrate';

describe('migrate (real PostgreSQL)', () => {
  const database = useSpecDatabase(2);

  it('migrate is idempotent and keeps current month + 3 partitions', async () => {
    const again = await migrate(inject('databaseUrl'));
    expect(again.applied).toEqual([]);
    expect(again.partitionsCreated).toEqual([]);
    const { rows } = await database.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'messages'::regclass ORDER BY 1`,
    );
    const now = new Date();
    const expected = [0, 1, 2, 3].map((k) => {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
      return `messages_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    });
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(expected));
  });
});
