import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfigOrExit } from '../config';

const MIGRATIONS_DIR = join(__dirname, 'migrations');
const PARTITIONS_SQL = join(__dirname, 'partitions.sql');
/** Partitions kept ahead of the current month. */
export const PARTITION_MONTHS_AHEAD = 3;

export interface MigrateResult {
  applied: string[];
  partitionsCreated: string[];
}

/**
 * Applies every db/migrations/*.sql not yet recorded in schema_migrations, each in
 * its own transaction, under an advisory lock so concurrent runs serialise; then
 * makes sure the message partitions exist. Safe to run any number of times.
 */
export async function migrate(databaseUrl: string, now: Date = new Date()): Promise<MigrateResult> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7261001)');
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const file of readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      if (done.has(file)) continue;
      await client.query('BEGIN');
      try {
        await client.query(readFileSync(join(MIGRATIONS_DIR, file), 'utf8'));
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
    await client.query(readFileSync(PARTITIONS_SQL, 'utf8'));
    const monthStart = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
    const created = await client.query<{ part: string }>('SELECT ensure_message_partitions($1::date, $2) AS part', [monthStart, PARTITION_MONTHS_AHEAD]);
    return { applied, partitionsCreated: created.rows.map((r) => r.part) };
  } finally {
    await client.query('SELECT pg_advisory_unlock(7261001)').catch(() => undefined);
    await client.end();
  }
}

if (require.main === module) {
  const url = loadConfigOrExit().databaseUrl;
  if (!url) {
    process.stderr.write('DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/turumba)\n');
    process.exit(78);
  }
  migrate(url).then(
    (r) => {
      process.stdout.write(`${JSON.stringify({ event: 'db_migrated', applied: r.applied, partitions_created: r.partitionsCreated })}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
