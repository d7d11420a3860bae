import { afterAll, beforeAll, inject } from 'vitest';
import { connect, type Database } from '../../db/client';

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
