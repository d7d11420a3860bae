import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  db: Db;
  pool: Pool;
  close(): Promise<void>;
}

export function connect(databaseUrl: string, opts: { max?: number } = {}): Database {
  const pool = new Pool({ connectionString: databaseUrl, max: opts.max ?? 10 });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

/** The pool under a drizzle handle, for what drizzle does not do: plain connections, cursors, named statements. */
export function poolOf(db: Db): Pool {
  const client = (db as { $client?: unknown }).$client;
  if (!(client instanceof Pool)) throw new Error('expected a drizzle handle over a pg Pool');
  return client;
}
