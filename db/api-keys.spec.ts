import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect, type Database } from './client';
import { createAccount } from './accounts';
import { accountForApiKey, createApiKey } from './api-keys';

describe('API keys (real PostgreSQL)', () => {
  let database: Database;
  let accountId: string;

  beforeAll(async () => {
    database = connect(inject('databaseUrl'), { max: 2 });
    accountId = (await createAccount(database.db, 'api-keys-spec')).id;
  });
  afterAll(async () => {
    await database.close();
  });

  it('stores API keys hashed and resolves only the exact key', async () => {
    const { key, prefix } = await createApiKey(database.db, accountId);
    expect(await accountForApiKey(database.db, key)).toBe(accountId);
    expect(await accountForApiKey(database.db, `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    const { rows } = await database.pool.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE prefix = $1', [prefix]);
    expect(rows[0]?.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.key_hash).not.toContain(key);
  });
});
