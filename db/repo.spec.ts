import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect, type Database } from './client';
import { migrate } from './migrate';
import { accountForApiKey, advanceStatus, cachedChannelLookup, createAccount, createApiKey, createChannel, getMessage, insertMessage } from './repo';

describe('repository on the partitioned messages table (real PostgreSQL)', () => {
  let database: Database;
  let accountId: string;
  let channelId: string;

  beforeAll(async () => {
    database = connect(inject('databaseUrl'), { max: 2 });
    accountId = (await createAccount(database.db, 'repo-spec')).id;
    channelId = (await createChannel(database.db, { accountId, channelType: 'sms', provider: 'twilio', name: 'c', credentials: {} })).id;
  });
  afterAll(async () => {
    await database.close();
  });

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

  it('stores API keys hashed and resolves only the exact key', async () => {
    const { key, prefix } = await createApiKey(database.db, accountId);
    expect(await accountForApiKey(database.db, key)).toBe(accountId);
    expect(await accountForApiKey(database.db, `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    const { rows } = await database.pool.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE prefix = $1', [prefix]);
    expect(rows[0]?.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.key_hash).not.toContain(key);
  });

  it('cached channel lookup answers from memory within its ttl, then reads again', async () => {
    const lookup = cachedChannelLookup(database.db, 300);
    expect((await lookup(channelId))?.rateLimitPerSecond).not.toBe(7);
    await database.pool.query('UPDATE channels SET rate_limit_per_second = 7 WHERE id = $1', [channelId]);
    expect((await lookup(channelId))?.rateLimitPerSecond).not.toBe(7);
    await new Promise((r) => setTimeout(r, 350));
    expect((await lookup(channelId))?.rateLimitPerSecond).toBe(7);
    expect(await lookup('018f0000-0000-7000-8000-000000000000')).toBeUndefined();
  });

  it('moves status forward only', async () => {
    const m = await insertMessage(database.db, { accountId, channelId, channelType: 'sms', to: '+15551230000', body: 'x', metadata: { trace_id: 't' } });
    expect(await advanceStatus(database.db, m.id, { status: 'sent', at: new Date(), providerMessageId: 'SM1' })).toBe(true);
    expect(await advanceStatus(database.db, m.id, { status: 'delivered', at: new Date() })).toBe(true);
    expect(await advanceStatus(database.db, m.id, { status: 'sent', at: new Date() })).toBe(false);
    expect(await advanceStatus(database.db, m.id, { status: 'delivered', at: new Date() })).toBe(false);
    const row = await getMessage(database.db, m.id, accountId);
    expect(row?.status).toBe('delivered');
    expect(row?.metadata).toMatchObject({ trace_id: 't', provider_message_id: 'SM1' });
    expect(await getMessage(database.db, m.id, '01a22000-0000-7000-8000-000000000000')).toBeUndefined();
  });
});
