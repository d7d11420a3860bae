import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { Pool } from 'pg';
import { loadConfigOrExit } from '../../config';
import { LineDigest, queryDigest, quoteIdent } from './canonical';
import { ArchiveVerificationError, readManifest } from './manifest';
import { DirectoryArchiveStore, type ArchiveStore } from './store';

export interface RestoreOptions {
  /** Table to create; it must not exist. */
  table: string;
  /**
   * Make it a partition of `messages` again (the table is then shaped LIKE
   * messages); otherwise a plain scratch table with exactly the archived columns.
   */
  attach?: boolean;
  batchSize?: number;
}

export interface RestoreResult {
  table: string;
  rows: number;
  sha256: string;
  rowDigest: string;
  attached: boolean;
}

/**
 * Loads `<partition>.ndjson.gz` into a new table and proves it is the archived
 * month: the stream's sha256 and the loaded table's count and row_digest (computed
 * by Postgres over the same canonical lines) must equal the manifest. All in one
 * transaction: on any mismatch nothing is left behind.
 */
export async function restoreArchive(pool: Pool, store: ArchiveStore, partition: string, opts: RestoreOptions): Promise<RestoreResult> {
  const manifest = await readManifest(store, partition);
  if (!manifest) throw new Error(`no manifest for ${partition} in ${store.location}`);
  const table = quoteIdent(opts.table);
  const cols = manifest.columns.map(quoteIdent).join(', ');
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (opts.attach) {
      await client.query(`CREATE TABLE ${table} (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    } else {
      const defs = manifest.columns.map((c, i) => `${quoteIdent(c)} ${manifest.column_types[i] ?? 'text'}`).join(', ');
      await client.query(`CREATE TABLE ${table} (${defs})`);
    }
    const insert = (lines: string[]) =>
      client.query(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${table}, $1::json)`, [`[${lines.join(',')}]`]);
    const streamed = await loadLines(store, manifest.archive, opts.batchSize ?? 2000, insert);
    const loaded = await queryDigest(client, opts.table, manifest.columns);
    const problem =
      streamed.sha256 !== manifest.sha256
        ? 'archive sha256 differs from the manifest'
        : loaded.rows !== manifest.rows
          ? `restored ${loaded.rows} rows, manifest says ${manifest.rows}`
          : loaded.rowDigest !== manifest.row_digest
            ? 'restored rows do not match the manifest digest'
            : undefined;
    if (problem) throw new ArchiveVerificationError(partition, problem);
    if (opts.attach) {
      await client.query(
        `ALTER TABLE messages ATTACH PARTITION ${table} FOR VALUES FROM (${client.escapeLiteral(manifest.bounds.from)}) TO (${client.escapeLiteral(manifest.bounds.to)})`,
      );
    }
    await client.query('COMMIT');
    return { table: opts.table, rows: loaded.rows, sha256: streamed.sha256, rowDigest: loaded.rowDigest, attached: opts.attach === true };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function loadLines(
  store: ArchiveStore,
  key: string,
  batchSize: number,
  insert: (lines: string[]) => Promise<unknown>,
): Promise<ReturnType<LineDigest['result']>> {
  const digest = new LineDigest();
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let batch: string[] = [];
  await pipeline(store.openRead(key), createGunzip(), async function (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      const parts = (rest + decoder.write(chunk)).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        digest.add(line);
        batch.push(line);
        if (batch.length >= batchSize) {
          await insert(batch);
          batch = [];
        }
      }
    }
  });
  if (rest + decoder.end() !== '') throw new Error(`archive ${key} ends without a newline`);
  if (batch.length > 0) await insert(batch);
  return digest.result();
}

// `tsx db/archive/restore.ts --archive-dir DIR --partition messages_y2025m01 --table restored_2025_01 [--attach]`
if (require.main === module) {
  const { values } = parseArgs({
    options: {
      'archive-dir': { type: 'string' },
      partition: { type: 'string' },
      table: { type: 'string' },
      attach: { type: 'boolean', default: false },
    },
  });
  const config = loadConfigOrExit();
  const url = config.databaseUrl;
  const dir = values['archive-dir'] ?? config.archiveDir;
  const partition = values.partition;
  if (!url || !dir || !partition) {
    process.stderr.write('usage: DATABASE_URL=... restore --archive-dir DIR --partition messages_yYYYYmMM [--table NAME] [--attach]\n');
    process.exit(64);
  }
  const pool = new Pool({ connectionString: url, max: 1 });
  const table = values.table ?? (values.attach ? partition : `restored_${partition}`);
  restoreArchive(pool, new DirectoryArchiveStore(dir), partition, { table, attach: values.attach })
    .then(
      (r) => process.stdout.write(`${JSON.stringify({ event: 'archive_restored', ...r })}\n`),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    )
    .finally(() => void pool.end());
}
