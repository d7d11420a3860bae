import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  db: Db;
  pool: Pool;
  close(): Promise<void>;
}

/**
 * `namedStatements: false` for a server that runs every connection in one session (PGlite
 * behind its socket, in the dev stack): there a statement one connection prepares already
 * exists for the next, which then fails to prepare it.
 */
export function connect(databaseUrl: string, opts: { max?: number; namedStatements?: boolean } = {}): Database {
  const pool = new Pool({ connectionString: databaseUrl, max: opts.max ?? 10 });
  if (opts.namedStatements === false) unnamedPools.add(pool);
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

const unnamedPools = new WeakSet<Pool>();

/** The statement as the pool may run it: named (prepared once per connection) unless the pool says not. */
export function statementFor<S extends { name: string; text: string }>(pool: Pool, statement: S): S | Omit<S, 'name'> {
  if (!unnamedPools.has(pool)) return statement;
  const { name: _name, ...unnamed } = statement;
  return unnamed;
}
