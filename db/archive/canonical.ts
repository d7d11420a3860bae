import { createHash, type Hash } from 'node:crypto';
import type { PoolClient } from 'pg';

// The canonical form of an archived row is the text Postgres gives for
// row_to_json over the manifest's columns, with timestamps rendered in UTC. The
// same SQL makes the archive, checks it and checks a restore, so "identical"
// means byte-identical lines.
//
// Two checksums, because the database cannot hash a 30 M-line string in one go:
// - sha256: over the NDJSON (every line + "\n", in id order), i.e. the
//   decompressed archive; computed while exporting and again on every re-read.
// - row_digest: the sum of the first 8 bytes (signed int64) of sha256(line) over
//   all rows. Order-free, so Postgres computes it in one streaming aggregate; it
//   is how the archive is compared with the table without a second transfer.

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Session settings every canonical read runs under (timestamps render with +00:00). */
export const CANONICAL_SESSION_SQL = "SET LOCAL TimeZone = 'UTC'";

function projection(table: string, columns: readonly string[]): string {
  return `SELECT ${columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(table)}`;
}

/** One canonical line per row, in id order (the primary key index serves the order). */
export function orderedLinesSql(table: string, columns: readonly string[]): string {
  return `SELECT row_to_json(x)::text AS line FROM (${projection(table, columns)}) x ORDER BY x.id`;
}

/** Row count and row_digest computed by Postgres over the same canonical lines. */
export function digestSql(table: string, columns: readonly string[]): string {
  return `SELECT count(*)::text AS rows,
    coalesce(sum(('x' || encode(substr(sha256(convert_to(row_to_json(x)::text, 'UTF8')), 1, 8), 'hex'))::bit(64)::bigint::numeric), 0)::text AS digest
    FROM (${projection(table, columns)}) x`;
}

export interface TableDigest {
  rows: number;
  rowDigest: string;
}

/** Runs digestSql on a client that is inside a transaction (SET LOCAL needs one). */
export async function queryDigest(client: PoolClient, table: string, columns: readonly string[]): Promise<TableDigest> {
  await client.query(CANONICAL_SESSION_SQL);
  const { rows } = await client.query<{ rows: string; digest: string }>(digestSql(table, columns));
  return { rows: Number(rows[0]?.rows ?? 0), rowDigest: rows[0]?.digest ?? '0' };
}

export interface ColumnDef {
  name: string;
  /** SQL type as format_type prints it, e.g. `timestamp with time zone`. */
  type: string;
}

/** Columns of a table in a canonical order: `id` first, then by position. */
export async function tableColumns(client: PoolClient, table: string): Promise<ColumnDef[]> {
  const { rows } = await client.query<ColumnDef>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
     WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
     ORDER BY attname <> 'id', attnum`,
    [table],
  );
  return rows;
}

/** Accumulates both checksums over lines as they stream past, checking id order on the way. */
export class LineDigest {
  rows = 0;
  private sum = 0n;
  private readonly sha: Hash = createHash('sha256');
  private lastId = '';
  private ordered = true;

  add(line: string): void {
    const bytes = Buffer.from(line, 'utf8');
    this.sha.update(bytes);
    this.sha.update('\n');
    this.sum += createHash('sha256').update(bytes).digest().readBigInt64BE(0);
    this.rows += 1;
    // row_to_json puts `id` first (tableColumns orders it so); UUIDv7 text sorts like the uuid.
    const id = line.slice(7, 43);
    if (!line.startsWith('{"id":"') || id <= this.lastId) this.ordered = false;
    this.lastId = id;
  }

  result(): { rows: number; sha256: string; rowDigest: string; orderedById: boolean } {
    return { rows: this.rows, sha256: this.sha.copy().digest('hex'), rowDigest: this.sum.toString(), orderedById: this.ordered };
  }
}
