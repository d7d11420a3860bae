import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '../bench/partitions';
import { connect, type Database } from './client';
import { migrate } from './migrate';
import { createAccount } from './accounts';
import { createChannel } from './channels';
import { advanceStatus, getMessage, insertMessage, listMessages } from './messages';
import { messages } from './schema';

// The drizzle code paths must not notice that `messages` is partitioned: rows
// in different months behave exactly like rows of one table. The one deliberate
// difference: created_at (the partition key) cannot be updated.

const NOW = new Date('2030-03-15T12:00:00Z');
const NOV = Date.UTC(2029, 10, 20, 8, 30);
const JAN = Date.UTC(2030, 0, 5, 23, 59, 59, 999);
const MAR = Date.UTC(2030, 2, 1, 0, 0, 0, 0);

async function pgErrorOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    // drizzle wraps the driver's error; the SQLSTATE lives on the cause.
    const cause = (err as { cause?: unknown }).cause ?? err;
    return cause as { code?: string; message: string };
  }
  throw new Error('expected the statement to fail');
}

describe('drizzle on the partitioned messages table (real PostgreSQL)', () => {
  let scratch: ScratchDatabase;
  let database: Database;
  let accountId: string;
  let channelId: string;

  const partitionOf = async (id: string) =>
    (await database.pool.query<{ part: string }>('SELECT tableoid::regclass::text AS part FROM messages WHERE id = $1', [id])).rows.map((r) => r.part);

  const newMessage = (at: number, to = '+15550001111') =>
    insertMessage(database.db, { accountId, channelId, channelType: 'sms', to, body: `hello ${at}`, metadata: { trace_id: `t${at}`, user: { k: 'v' } } }, at);

  beforeAll(async () => {
    scratch = await createScratchDatabase('turumba_orm');
    await migrate(scratch.url, NOW);
    database = connect(scratch.url, { max: 3 });
    await database.pool.query(`SELECT ensure_message_partitions('2029-10-01', 5)`);
    accountId = (await createAccount(database.db, 'orm')).id;
    channelId = (await createChannel(database.db, { accountId, channelType: 'sms', provider: 'twilio', name: 'c', credentials: {} })).id;
  });

  afterAll(async () => {
    await database?.close();
    await scratch?.drop();
  });

  it('insert puts each row in its month, and select reads them back unchanged', async () => {
    const rows = [await newMessage(NOV), await newMessage(JAN), await newMessage(MAR)];
    expect(await partitionOf(rows[0]!.id)).toEqual(['messages_y2029m11']);
    expect(await partitionOf(rows[1]!.id)).toEqual(['messages_y2030m01']);
    // The first millisecond of a month belongs to that month, not the one before.
    expect(await partitionOf(rows[2]!.id)).toEqual(['messages_y2030m03']);

    for (const r of rows) {
      expect(r.createdAt.getTime()).toBe(Number.parseInt(r.id.replace(/-/g, '').slice(0, 12), 16));
      const read = await getMessage(database.db, r.id, accountId);
      expect(read).toEqual(r);
      expect(read).toMatchObject({ status: 'queued', toAddress: '+15550001111', metadata: { trace_id: `t${r.createdAt.getTime()}`, user: { k: 'v' } } });
    }
    const all = await database.db.select().from(messages).where(eq(messages.accountId, accountId)).orderBy(messages.createdAt);
    expect(all.map((m) => m.id)).toEqual(rows.map((r) => r.id));
  });

  it('update and returning work on rows of different months, pinned or not', async () => {
    const a = await newMessage(NOV + 1000);
    const b = await newMessage(JAN - 1000);
    const pinned = await database.db
      .update(messages)
      .set({ body: 'edited' })
      .where(and(eq(messages.id, a.id), eq(messages.createdAt, a.createdAt)))
      .returning({ id: messages.id, body: messages.body });
    expect(pinned).toEqual([{ id: a.id, body: 'edited' }]);
    // Without created_at Postgres visits every month, but the result is the same.
    const unpinned = await database.db.update(messages).set({ subject: 's' }).where(eq(messages.id, b.id)).returning({ id: messages.id });
    expect(unpinned).toEqual([{ id: b.id }]);
    expect((await getMessage(database.db, a.id))?.body).toBe('edited');
    expect((await getMessage(database.db, b.id))?.subject).toBe('s');
    expect((await getMessage(database.db, b.id))?.body).toBe(`hello ${JAN - 1000}`);
  });

  it('status transitions move forward only, in every month', async () => {
    for (const at of [NOV + 2000, JAN + 2000, MAR + 2000]) {
      const m = await newMessage(at);
      const sentAt = new Date(at + 1000);
      expect(await advanceStatus(database.db, m.id, { status: 'sending', at: new Date(at + 500) })).toBe(true);
      expect(await advanceStatus(database.db, m.id, { status: 'sent', at: sentAt, providerMessageId: `SM${at}` })).toBe(true);
      expect(await advanceStatus(database.db, m.id, { status: 'delivered', at: new Date(at + 2000) })).toBe(true);
      expect(await advanceStatus(database.db, m.id, { status: 'sent', at: new Date(at + 3000) })).toBe(false);
      expect(await advanceStatus(database.db, m.id, { status: 'delivered', at: new Date(at + 4000) })).toBe(false);
      const row = await getMessage(database.db, m.id);
      expect(row).toMatchObject({ status: 'delivered', sentAt, deliveredAt: new Date(at + 2000), createdAt: m.createdAt });
      expect(row?.metadata).toMatchObject({ provider_message_id: `SM${at}`, trace_id: `t${at}` });
      expect(await partitionOf(m.id)).toHaveLength(1);
    }
  });

  it('delete removes only the row, from its month', async () => {
    const keep = await newMessage(NOV + 3000);
    const gone = await newMessage(NOV + 4000);
    const deleted = await database.db
      .delete(messages)
      .where(and(eq(messages.id, gone.id), eq(messages.createdAt, gone.createdAt)))
      .returning({ id: messages.id });
    expect(deleted).toEqual([{ id: gone.id }]);
    expect(await getMessage(database.db, gone.id)).toBeUndefined();
    expect((await getMessage(database.db, keep.id))?.id).toBe(keep.id);
  });

  it('insert ... on conflict do nothing sees the primary key across the partitioned table', async () => {
    const m = await newMessage(JAN + 5000);
    const again = await database.db
      .insert(messages)
      .values({ ...m, body: 'duplicate' })
      .onConflictDoNothing()
      .returning({ id: messages.id });
    expect(again).toEqual([]);
    expect((await getMessage(database.db, m.id))?.body).toBe(`hello ${JAN + 5000}`);
  });

  it('refuses an update of created_at: the row would leave the month its id names', async () => {
    const m = await newMessage(NOV + 6000);
    const err = await pgErrorOf(
      database.db
        .update(messages)
        .set({ createdAt: new Date(JAN) })
        .where(eq(messages.id, m.id)),
    );
    expect(err.code).toBe('23514');
    expect(err.message).toBe(`messages.created_at cannot change (message ${m.id})`);
    const raw = await pgErrorOf(database.pool.query(`UPDATE messages SET created_at = created_at + interval '1 month' WHERE id = $1`, [m.id]));
    expect(raw.code).toBe('23514');
    expect(await partitionOf(m.id)).toEqual(['messages_y2029m11']);
    expect((await getMessage(database.db, m.id))?.createdAt).toEqual(m.createdAt);
    // Writing the same value is not a change.
    const same = await database.db
      .update(messages)
      .set({ createdAt: m.createdAt, body: 'same month' })
      .where(eq(messages.id, m.id))
      .returning({ id: messages.id });
    expect(same).toEqual([{ id: m.id }]);
  });

  it('a row for a month without a partition fails loudly instead of landing somewhere', async () => {
    const err = await pgErrorOf(newMessage(Date.UTC(2031, 0, 1)));
    expect(err.code).toBe('23514');
    expect(err.message).toBe('no partition of relation "messages" found for row');
    const { rows } = await database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE created_at >= '2031-01-01'`);
    expect(rows[0]?.n).toBe(0);
  });

  it('listMessages reads across months in one page, newest first', async () => {
    const other = (await createAccount(database.db, 'orm-list')).id;
    const ids: string[] = [];
    for (const at of [NOV + 7000, JAN + 7000, MAR + 7000]) {
      ids.push((await insertMessage(database.db, { accountId: other, channelId, channelType: 'sms', to: '+15550002222', metadata: {} }, at)).id);
    }
    const page = await listMessages(database.db, { accountId: other, limit: 10 });
    expect(page.items.map((m) => m.id)).toEqual([...ids].reverse());
    expect(page.nextCursor).toBeNull();
    const firstTwo = await listMessages(database.db, { accountId: other, limit: 2 });
    const rest = await listMessages(database.db, { accountId: other, limit: 2, cursor: firstTwo.nextCursor ?? undefined });
    expect([...firstTwo.items, ...rest.items].map((m) => m.id)).toEqual([...ids].reverse());
  });
});
