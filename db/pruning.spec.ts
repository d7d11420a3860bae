import { drizzle } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, seedMessages, type ScratchDatabase } from '../bench/partitions';
import type { Db } from './client';
import { migrate } from './migrate';
import { createAccount } from './accounts';
import { createChannel } from './channels';
import { findMessageByProviderId, getMessage, insertMessage, InvalidCursorError, listMessages } from './messages';
import * as schema from './schema';

// Proves, with the plans Postgres itself reports, that each query path reads only
// the months it should and through the intended index. The SQL is captured from
// the real repository functions (drizzle's query logger) and EXPLAINed with the
// same parameters, on 13 months × 30,000 rows, analysed (small tables get
// plans no production table would: the planner's choice depends on the size).

const NOW = new Date('2030-03-15T12:00:00Z');
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `01900000-0000-7000-8000-${String(i + 1).padStart(12, '0')}`);
const CHANNELS = Array.from({ length: 80 }, (_, i) => `01900001-0000-7000-8000-${String(i + 1).padStart(12, '0')}`);

interface Captured {
  sql: string;
  params: unknown[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows': number;
  Plans?: PlanNode[];
}

interface PlanSummary {
  partitions: string[];
  indexes: string[];
  /** Partitions read by a Seq Scan: a whole month, unless it is empty. */
  seqScans: string[];
  /** Largest row estimate of any scan node. */
  maxScanRows: number;
}

describe('partition pruning of the message query paths (EXPLAIN on real PostgreSQL)', () => {
  let scratch: ScratchDatabase;
  let pool: Pool;
  let captured: Captured[] = [];
  let db: Db;
  let parentIndex: Map<string, string>;

  beforeAll(async () => {
    scratch = await createScratchDatabase('turumba_pruning');
    await migrate(scratch.url, NOW);
    pool = new Pool({ connectionString: scratch.url, max: 3 });
    await pool.query(`SELECT ensure_message_partitions('2029-03-01', 12)`);
    for (let m = 0; m < 13; m++) {
      const from = new Date(Date.UTC(2029, 2 + m, 1));
      const to = m === 12 ? NOW : new Date(Date.UTC(2029, 3 + m, 1));
      await seedMessages(pool, { from, to, rows: 30_000, accounts: ACCOUNTS, channels: CHANNELS });
    }
    await pool.query('VACUUM ANALYZE messages');
    db = drizzle(pool, { schema, logger: { logQuery: (sql, params) => captured.push({ sql, params }) } });
    const { rows } = await pool.query<{ child: string; parent: string }>(
      `SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind = 'i'`,
    );
    parentIndex = new Map(rows.map((r) => [r.child, r.parent]));
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await scratch?.drop();
  });

  /** Runs `fn` and returns what it returned plus the plan of every statement it sent. */
  async function explained<T>(fn: () => Promise<T>): Promise<{ value: T; plans: PlanSummary[] }> {
    captured = [];
    const value = await fn();
    const plans: PlanSummary[] = [];
    for (const q of captured) {
      const { rows } = await pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.params);
      const nodes: PlanNode[] = [];
      const walk = (n: PlanNode) => {
        nodes.push(n);
        n.Plans?.forEach(walk);
      };
      walk(rows[0]!['QUERY PLAN'][0]!.Plan);
      const scanNodes = nodes.filter((n) => n['Relation Name'] !== undefined || n['Index Name'] !== undefined);
      plans.push({
        seqScans: scanNodes
          .filter((n) => n['Node Type'] === 'Seq Scan')
          .map((n) => n['Relation Name'] ?? '?')
          .sort(),
        maxScanRows: Math.max(...scanNodes.map((n) => n['Plan Rows'])),
        partitions: [...new Set(nodes.flatMap((n) => (n['Relation Name'] ? [n['Relation Name']] : [])))].sort(),
        // Each partition has its own copy of an index; name the one on `messages` it belongs to.
        indexes: [...new Set(nodes.flatMap((n) => (n['Index Name'] ? [parentIndex.get(n['Index Name']) ?? n['Index Name']] : [])))].sort(),
      });
    }
    return { value, plans };
  }

  const months = (from: string, to: string): string[] => {
    const out: string[] = [];
    for (let d = new Date(`${from}-01T00:00:00Z`); d <= new Date(`${to}-01T00:00:00Z`); d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))) {
      out.push(`messages_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
    }
    return out;
  };

  describe('GET /v1/messages/:id (getMessage)', () => {
    const first = async (partition: string) =>
      (await pool.query<{ id: string; account_id: string }>(`SELECT id, account_id FROM ${partition} ORDER BY id LIMIT 1`)).rows[0]!;

    it('by id alone (the worker path): the one partition named by the UUIDv7, through the primary key', async () => {
      const m = await first('messages_y2029m07');
      const { value, plans } = await explained(() => getMessage(db, m.id));
      expect(value?.id).toBe(m.id);
      expect(plans).toEqual([{ partitions: ['messages_y2029m07'], indexes: ['messages_pkey'], seqScans: [], maxScanRows: 1 }]);
    });

    it('scoped to the account (the API path): one partition, a one-row index lookup', async () => {
      const m = await first('messages_y2029m11');
      const { value, plans } = await explained(() => getMessage(db, m.id, m.account_id));
      expect(value?.id).toBe(m.id);
      // Both indexes are bound by equality on both their columns (id, created_at) or
      // (account_id, created_at) and find the row directly; the planner may take either.
      expect(plans).toHaveLength(1);
      expect(plans[0]).toMatchObject({ partitions: ['messages_y2029m11'], seqScans: [], maxScanRows: 1 });
      expect(plans[0]!.indexes).toHaveLength(1);
      expect(['messages_pkey', 'messages_account_created_idx']).toContain(plans[0]!.indexes[0]);
    });

    it('a message of the current month, written by insertMessage: still one partition', async () => {
      const account = await createAccount(db, 'pruning');
      const channel = await createChannel(db, { accountId: account.id, channelType: 'sms', provider: 'twilio', name: 'c', credentials: {} });
      const m = await insertMessage(
        db,
        { accountId: account.id, channelId: channel.id, channelType: 'sms', to: '+15550000001', metadata: {} },
        NOW.getTime() - 3600_000,
      );
      const { value, plans } = await explained(() => getMessage(db, m.id));
      expect(value?.id).toBe(m.id);
      expect(plans).toEqual([{ partitions: ['messages_y2030m03'], indexes: ['messages_pkey'], seqScans: [], maxScanRows: 1 }]);
    });
  });

  describe('GET /v1/messages (listMessages)', () => {
    it('account + one day: one partition, the (account_id, created_at DESC) index', async () => {
      const since = new Date('2029-08-10T00:00:00Z');
      const { value, plans } = await explained(() =>
        listMessages(db, { accountId: ACCOUNTS[3]!, since, until: new Date(since.getTime() + 86_400_000), limit: 50 }),
      );
      expect(value.items.length).toBeGreaterThan(0);
      for (const r of value.items) {
        expect(r.accountId).toBe(ACCOUNTS[3]);
        expect(r.createdAt.toISOString().slice(0, 10)).toBe('2029-08-10');
      }
      expect(plans).toMatchObject([{ partitions: ['messages_y2029m08'], indexes: ['messages_account_created_idx'], seqScans: [] }]);
    });

    it('a range across a month boundary reads exactly the two months', async () => {
      const { plans } = await explained(() =>
        listMessages(db, { accountId: ACCOUNTS[0]!, since: new Date('2029-10-31T12:00:00Z'), until: new Date('2029-11-01T12:00:00Z'), limit: 50 }),
      );
      expect(plans).toMatchObject([{ partitions: ['messages_y2029m10', 'messages_y2029m11'], indexes: ['messages_account_created_idx'], seqScans: [] }]);
    });

    it('a later page is bounded by its cursor too: months after the cursor are not read', async () => {
      const q = { accountId: ACCOUNTS[5]!, since: new Date('2029-06-01T00:00:00Z'), until: new Date('2029-09-01T00:00:00Z'), limit: 100 };
      let page = await listMessages(db, q);
      while (page.items[page.items.length - 1]!.createdAt.toISOString().slice(0, 7) !== '2029-07') {
        page = await listMessages(db, { ...q, cursor: page.nextCursor ?? undefined });
      }
      const cursorAt = page.items[page.items.length - 1]!.createdAt.getTime();
      const { value, plans } = await explained(() => listMessages(db, { ...q, cursor: page.nextCursor ?? undefined }));
      expect(value.items[0]!.createdAt.getTime()).toBeLessThanOrEqual(cursorAt);
      expect(plans).toMatchObject([{ partitions: ['messages_y2029m06', 'messages_y2029m07'], indexes: ['messages_account_created_idx'], seqScans: [] }]);
    });

    it('pages through 3 months newest first, every row exactly once, in (created_at, id) order', async () => {
      const q = { accountId: ACCOUNTS[7]!, since: new Date('2029-04-20T00:00:00Z'), until: new Date('2029-07-10T00:00:00Z'), limit: 97 };
      const seen: Array<{ id: string; t: number }> = [];
      let cursor: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const r = await listMessages(db, { ...q, cursor });
        seen.push(...r.items.map((m) => ({ id: m.id, t: m.createdAt.getTime() })));
        if (!r.nextCursor) break;
        cursor = r.nextCursor;
      }
      const { rows } = await pool.query<{ id: string }>(
        `SELECT id FROM messages WHERE account_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at DESC, id DESC`,
        [q.accountId, q.since, q.until],
      );
      expect(rows.length).toBeGreaterThan(2000);
      expect(seen.map((s) => s.id)).toEqual(rows.map((r) => r.id));
    });

    it('filters by status, channel and direction, and refuses a forged cursor', async () => {
      const r = await listMessages(db, { accountId: ACCOUNTS[1]!, status: 'failed', channelId: CHANNELS[21]!, direction: 'outbound', limit: 1000 });
      expect(r.items.length).toBeGreaterThan(0);
      expect(new Set(r.items.map((m) => `${m.status}/${m.channelId}/${m.direction}/${m.accountId}`))).toEqual(
        new Set([`failed/${CHANNELS[21]}/outbound/${ACCOUNTS[1]}`]),
      );
      expect(r.items.map((m) => m.createdAt.getTime())).toEqual([...r.items.map((m) => m.createdAt.getTime())].sort((a, b) => b - a));
      await expect(listMessages(db, { accountId: ACCOUNTS[1]!, limit: 10, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(listMessages(db, { accountId: ACCOUNTS[1]!, limit: 0 })).rejects.toBeInstanceOf(RangeError);
    });
  });

  describe('webhook lookup by (channel_id, provider_message_id) (findMessageByProviderId)', () => {
    const byMonth = async (partition: string) =>
      (
        await pool.query<{ id: string; channel_id: string; pmid: string }>(
          `SELECT id, channel_id, metadata_->>'provider_message_id' AS pmid FROM ${partition} ORDER BY id LIMIT 1`,
        )
      ).rows[0]!;

    it('a recent message: one query over the previous and current month only, through the provider-id index', async () => {
      const m = await byMonth('messages_y2030m02');
      const { value, plans } = await explained(() => findMessageByProviderId(db, m.channel_id, m.pmid, NOW));
      expect(value?.id).toBe(m.id);
      expect(plans).toEqual([{ partitions: ['messages_y2030m02', 'messages_y2030m03'], indexes: ['messages_provider_id_idx'], seqScans: [], maxScanRows: 1 }]);
    });

    it('an older message: the recent query misses, then the fallback reads every other month', async () => {
      const m = await byMonth('messages_y2029m05');
      const { value, plans } = await explained(() => findMessageByProviderId(db, m.channel_id, m.pmid, NOW));
      expect(value?.id).toBe(m.id);
      const older = [...months('2029-03', '2030-01'), ...months('2030-04', '2030-06')].sort();
      expect(plans).toMatchObject([
        { partitions: ['messages_y2030m02', 'messages_y2030m03'], indexes: ['messages_provider_id_idx'], seqScans: [], maxScanRows: 1 },
        { partitions: older, indexes: ['messages_provider_id_idx'], maxScanRows: 1 },
      ]);
      // The months ahead are empty (no statistics yet): reading one whole costs nothing.
      for (const part of plans[1]!.seqScans) {
        expect(['messages_y2030m04', 'messages_y2030m05', 'messages_y2030m06']).toContain(part);
        expect((await pool.query(`SELECT count(*)::int AS n FROM ${part}`)).rows[0]).toEqual({ n: 0 });
      }
    });

    it('an unknown id misses both and answers undefined', async () => {
      const { value, plans } = await explained(() => findMessageByProviderId(db, CHANNELS[0]!, 'SMdoesnotexist', NOW));
      expect(value).toBeUndefined();
      expect(plans).toHaveLength(2);
    });
  });
});
