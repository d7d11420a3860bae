import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '../bench/partitions';
import { ensurePartitions } from './archive/lifecycle';
import { listPartitions } from './archive/catalog';
import { migrate } from './migrate';

// ensure_message_partitions (db/partitions.sql): the months ahead exist after
// every run, it never fails because a month is already there, and a partition
// it makes is a full member of `messages` (indexes, constraints, trigger).

const NOW = new Date('2030-03-15T12:00:00Z');

describe('monthly partition upkeep (real PostgreSQL)', () => {
  let scratch: ScratchDatabase;
  let pool: Pool;

  const indexesOf = async (table: string) =>
    (
      await pool.query<{ parent: string }>(
        `SELECT p.relname AS parent FROM pg_index x
         JOIN pg_inherits i ON i.inhrelid = x.indexrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE x.indrelid = to_regclass($1) ORDER BY 1`,
        [table],
      )
    ).rows.map((r) => r.parent);

  beforeAll(async () => {
    scratch = await createScratchDatabase('turumba_partitions');
    pool = new Pool({ connectionString: scratch.url, max: 4 });
  });

  afterAll(async () => {
    await pool?.end();
    await scratch?.drop();
  });

  it('migrate creates the current month and 3 ahead, and a second run creates nothing', async () => {
    const first = await migrate(scratch.url, NOW);
    expect(first.partitionsCreated).toEqual(['messages_y2030m03', 'messages_y2030m04', 'messages_y2030m05', 'messages_y2030m06']);
    const again = await migrate(scratch.url, NOW);
    expect(again).toEqual({ applied: [], partitionsCreated: [] });
    const parts = await listPartitions(pool);
    expect(parts.map((p) => [p.name, p.state, p.isDefault, p.from?.toISOString(), p.to?.toISOString()])).toEqual([
      ['messages_y2030m03', 'attached', false, '2030-03-01T00:00:00.000Z', '2030-04-01T00:00:00.000Z'],
      ['messages_y2030m04', 'attached', false, '2030-04-01T00:00:00.000Z', '2030-05-01T00:00:00.000Z'],
      ['messages_y2030m05', 'attached', false, '2030-05-01T00:00:00.000Z', '2030-06-01T00:00:00.000Z'],
      ['messages_y2030m06', 'attached', false, '2030-06-01T00:00:00.000Z', '2030-07-01T00:00:00.000Z'],
    ]);
  });

  it('a partition it creates carries every index, check constraint and the created_at guard of messages', async () => {
    expect(await indexesOf('messages_y2030m04')).toEqual([
      'messages_account_created_idx',
      'messages_account_status_idx',
      'messages_channel_status_idx',
      'messages_group_idx',
      'messages_pkey',
      'messages_provider_id_idx',
    ]);
    const { rows: checks } = await pool.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'messages_y2030m04'::regclass AND contype = 'c' ORDER BY 1`,
    );
    expect(checks.map((c) => c.def).join(' ')).toMatch(/direction.*outbound.*inbound/);
    expect(checks.map((c) => c.def).join(' ')).toMatch(/status.*queued/);
    const { rows: triggers } = await pool.query<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'messages_y2030m04'::regclass`);
    expect(triggers.map((t) => t.tgname)).toEqual(['messages_created_at_immutable']);
  });

  it('leaves a month alone when another partition already covers it, and reports what is not covered', async () => {
    // Someone split August by hand: the upkeep must neither fail nor fight it.
    await pool.query(`CREATE TABLE messages_aug_first_half PARTITION OF messages FOR VALUES FROM ('2030-08-01 00:00+00') TO ('2030-08-16 00:00+00')`);
    const r = await ensurePartitions(pool, new Date('2030-07-10T00:00:00Z'), 3);
    expect(r.created).toEqual(['messages_y2030m07', 'messages_y2030m09', 'messages_y2030m10']);
    expect(r.covered).toEqual(['messages_y2030m07', 'messages_y2030m09', 'messages_y2030m10']);
    // Half of August has no partition: the maintenance workflow fails on this and alerts.
    expect(r.missing).toEqual(['messages_y2030m08']);
    expect((await pool.query<{ t: string | null }>(`SELECT to_regclass('messages_y2030m08')::text AS t`)).rows[0]).toEqual({ t: null });
    await pool.query('DROP TABLE messages_aug_first_half');
    const fixed = await ensurePartitions(pool, new Date('2030-07-10T00:00:00Z'), 3);
    expect(fixed).toEqual({
      created: ['messages_y2030m08'],
      covered: ['messages_y2030m07', 'messages_y2030m08', 'messages_y2030m09', 'messages_y2030m10'],
      missing: [],
    });
  });

  it('concurrent runs (migrate and the schedule, two workers) create each month once and none fails', async () => {
    const asOf = new Date('2031-01-20T00:00:00Z');
    const runs = await Promise.all([ensurePartitions(pool, asOf, 3), ensurePartitions(pool, asOf, 3), migrate(scratch.url, asOf)]);
    const created = [...runs[0].created, ...runs[1].created, ...runs[2].partitionsCreated].sort();
    expect(created).toEqual(['messages_y2031m01', 'messages_y2031m02', 'messages_y2031m03', 'messages_y2031m04']);
    expect(runs[0].missing).toEqual([]);
    expect(runs[1].missing).toEqual([]);
  });

  it('has no DEFAULT partition: the policy is "none", a row outside every month is an error', async () => {
    expect((await listPartitions(pool)).filter((p) => p.isDefault)).toEqual([]);
  });
});
