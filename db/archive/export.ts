import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Pool } from 'pg';
import { CANONICAL_SESSION_SQL, LineDigest, orderedLinesSql, queryDigest, tableColumns, type ColumnDef } from './canonical';
import {
  ARCHIVE_FORMAT,
  archiveKey,
  ArchiveVerificationError,
  manifestKey,
  readArchiveStats,
  readManifest,
  writeManifest,
  type ArchiveManifest,
} from './manifest';
import type { ArchiveStore } from './store';

export interface ArchiveProgress {
  phase: 'export' | 'digest' | 'verify';
  partition: string;
  rows: number;
}

export interface ExportOptions {
  bounds: { from: Date; to: Date };
  onProgress?: (p: ArchiveProgress) => void;
  signal?: AbortSignal;
  batchSize?: number;
  now?: () => Date;
}

/**
 * Exports one partition (attached or already detached) to `<name>.ndjson.gz`,
 * then proves the file: it is re-read and must match, line for line, the count
 * and row_digest Postgres computes in the same snapshot, and the sha256 taken
 * while writing. Only then is the manifest written. Any earlier archive of the
 * same month is kept under a `.superseded-<time>` name, never overwritten.
 */
export async function exportPartition(pool: Pool, store: ArchiveStore, table: string, opts: ExportOptions): Promise<ArchiveManifest> {
  const now = opts.now ?? (() => new Date());
  const progress = (phase: ArchiveProgress['phase'], rows: number) => opts.onProgress?.({ phase, partition: table, rows });
  const key = archiveKey(table);
  const client = await pool.connect();
  const writer = await store.createWriter(key);
  let written: ReturnType<LineDigest['result']>;
  let inDb: { rows: number; rowDigest: string };
  let columns: ColumnDef[];
  try {
    // One snapshot for the export and for the database's own count and digest.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(CANONICAL_SESSION_SQL);
    columns = await tableColumns(client, table);
    if (columns[0]?.name !== 'id') throw new Error(`${table} has no id column`);
    const names = columns.map((c) => c.name);
    await client.query(`DECLARE archive_rows NO SCROLL CURSOR FOR ${orderedLinesSql(table, names)}`);
    const digest = new LineDigest();
    const batch = opts.batchSize ?? 5000;
    async function* lines(): AsyncGenerator<string> {
      for (;;) {
        opts.signal?.throwIfAborted();
        const { rows } = await client.query<{ line: string }>(`FETCH ${batch} FROM archive_rows`);
        if (rows.length === 0) return;
        let chunk = '';
        for (const r of rows) {
          digest.add(r.line);
          chunk += `${r.line}\n`;
        }
        progress('export', digest.rows);
        yield chunk;
      }
    }
    await pipeline(Readable.from(lines()), createGzip(), writer.stream);
    written = digest.result();
    await client.query('CLOSE archive_rows');
    progress('digest', written.rows);
    inDb = await queryDigest(
      client,
      table,
      columns.map((c) => c.name),
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    await writer.abort();
    throw err;
  } finally {
    client.release();
  }
  if (written.rows !== inDb.rows || written.rowDigest !== inDb.rowDigest) {
    await writer.abort();
    throw new ArchiveVerificationError(table, `exported ${written.rows} rows, table has ${inDb.rows} (or the row digests differ)`);
  }

  await supersede(store, table, now());
  await writer.commit();
  const reread = await readArchiveStats(store, key, (rows) => progress('verify', rows));
  const problem =
    reread.rows !== inDb.rows
      ? `archive holds ${reread.rows} rows, table ${inDb.rows}`
      : reread.rowDigest !== inDb.rowDigest
        ? 'row digest differs from the table'
        : reread.sha256 !== written.sha256
          ? 'sha256 differs from what was written'
          : !reread.orderedById
            ? 'lines are not in id order'
            : undefined;
  if (problem) throw new ArchiveVerificationError(table, problem);

  const manifest: ArchiveManifest = {
    version: 1,
    partition: table,
    format: ARCHIVE_FORMAT,
    archive: key,
    bounds: { from: opts.bounds.from.toISOString(), to: opts.bounds.to.toISOString() },
    columns: columns.map((c) => c.name),
    column_types: columns.map((c) => c.type),
    rows: reread.rows,
    sha256: reread.sha256,
    row_digest: reread.rowDigest,
    file_sha256: reread.fileSha256,
    bytes: reread.bytes,
    exported_at: now().toISOString(),
  };
  await writeManifest(store, manifest);
  return manifest;
}

/** Moves a previous manifest and archive aside, so a re-export can never destroy an archive. */
async function supersede(store: ArchiveStore, table: string, at: Date): Promise<void> {
  const previous = await readManifest(store, table);
  if (!previous) return;
  const suffix = `superseded-${at.toISOString().replace(/[:.]/g, '')}`;
  // The manifest goes first: without it the month counts as not archived, which is the safe reading.
  await store.rename(manifestKey(table), `${table}.${suffix}.manifest.json`);
  if ((await store.size(previous.archive)) !== undefined) await store.rename(previous.archive, `${table}.${suffix}.${ARCHIVE_FORMAT}`);
}
