import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useSpecDatabase } from '../tests/support/spec-database';
import { deleteExpired } from './expiry';

// Real PostgreSQL: rows past the cutoff go, in batches; newer rows stay.

describe('deleteExpired', () => {
  const database = useSpecDatabase(2);

  it('deletes rows older than the cutoff in bounded batches and keeps newer ones, in each expiring table', async () => {
    const channel = randomUUID();
    const account = randomUUID();
    const ages = [30, 20, 9, 8, 6, 1]; // days
    for (const [i, days] of ages.entries()) {
      await database.pool.query(
        `INSERT INTO pending_status_updates (channel_id, provider_message_id, status, occurred_at, received_at) VALUES ($1, $2, 'delivered', now(), now() - make_interval(days => $3))`,
        [channel, `p${i}`, days],
      );
      await database.pool.query(
        `INSERT INTO inbound_dedup (channel_id, provider_message_id, message_id, received_at) VALUES ($1, $2, $3, now() - make_interval(days => $4))`,
        [channel, `p${i}`, randomUUID(), days],
      );
      await database.pool.query(
        `INSERT INTO idempotency_keys (account_id, key, request_hash, resource_id, created_at) VALUES ($1, $2, 'h', $3, now() - make_interval(days => $4))`,
        [account, `k${i}`, randomUUID(), days],
      );
    }
    const cutoff = new Date(Date.now() - 7 * 86_400_000);
    const batches: number[] = [];
    const deleted = await deleteExpired(database.pool, 'pending_status_updates', cutoff, { batchSize: 2, onBatch: (n) => batches.push(n) });
    expect(deleted).toBeGreaterThanOrEqual(4);
    // 2 per statement: never more rows than the batch at once.
    expect(batches.slice(0, 2)).toEqual([2, 4]);
    await deleteExpired(database.pool, 'inbound_dedup', cutoff, { batchSize: 3 });
    await deleteExpired(database.pool, 'idempotency_keys', cutoff);

    const left = async (sql: string, id: string) => (await database.pool.query<{ k: string }>(sql, [id])).rows.map((r) => r.k).sort();
    expect(await left('SELECT provider_message_id AS k FROM pending_status_updates WHERE channel_id = $1', channel)).toEqual(['p4', 'p5']);
    expect(await left('SELECT provider_message_id AS k FROM inbound_dedup WHERE channel_id = $1', channel)).toEqual(['p4', 'p5']);
    expect(await left('SELECT key AS k FROM idempotency_keys WHERE account_id = $1', account)).toEqual(['k4', 'k5']);
  });
});
