import { afterAll, beforeAll, inject } from 'vitest';
import { connect, type Database } from '../../db/client';
import { createAccount } from '../../db/accounts';
import { createChannel } from '../../db/channels';

/**
 * The run's PostgreSQL database for the describe block that calls it: connected before
 * its tests, closed after them. Read `.db` / `.pool` inside hooks and tests only.
 */
export function useSpecDatabase(max = 2): Database {
  let database: Database | undefined;
  beforeAll(() => {
    database = connect(inject('databaseUrl'), { max });
  });
  afterAll(async () => {
    await database?.close();
  });
  const open = (): Database => {
    if (!database) throw new Error('the spec database is open only inside hooks and tests');
    return database;
  };
  return {
    get db() {
      return open().db;
    },
    get pool() {
      return open().pool;
    },
    close: () => open().close(),
  };
}

/** An account with one SMS channel, filled in before the block's tests, for specs whose rows need an owner. */
export function useSpecChannel(database: Database, accountName: string): { readonly accountId: string; readonly channelId: string } {
  const owner = { accountId: '', channelId: '' };
  beforeAll(async () => {
    owner.accountId = (await createAccount(database.db, accountName)).id;
    owner.channelId = (await createChannel(database.db, { accountId: owner.accountId, channelType: 'sms', provider: 'twilio', name: 'c', credentials: {} })).id;
  });
  return owner;
}
