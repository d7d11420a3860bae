import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { LineDigest } from './canonical';
import type { ArchiveStore } from './store';

export const ARCHIVE_FORMAT = 'ndjson.gz';

/**
 * `<partition>.manifest.json`, written only after the archive was re-read and
 * matched the table: its presence means "this month is safely archived".
 */
export interface ArchiveManifest {
  version: 1;
  partition: string;
  format: typeof ARCHIVE_FORMAT;
  /** Key of the data file in the same store. */
  archive: string;
  /** The partition's range, [from, to). */
  bounds: { from: string; to: string };
  /** Column order of every line (`id` first), and their SQL types: enough to restore anywhere. */
  columns: string[];
  column_types: string[];
  rows: number;
  /** sha256 of the decompressed archive: every canonical line + "\n", in id order. */
  sha256: string;
  /** Order-free digest of the same lines, as Postgres computed it (db/archive/canonical.ts). */
  row_digest: string;
  /** sha256 and size of the compressed file: a cheap check that it is still the file we verified. */
  file_sha256: string;
  bytes: number;
  exported_at: string;
}

export function archiveKey(partition: string): string {
  return `${partition}.${ARCHIVE_FORMAT}`;
}

export function manifestKey(partition: string): string {
  return `${partition}.manifest.json`;
}

export class ArchiveVerificationError extends Error {
  constructor(
    readonly partition: string,
    readonly problem: string,
  ) {
    super(`archive of ${partition} failed verification: ${problem}`);
    this.name = 'ArchiveVerificationError';
  }
}

/** The manifest, or undefined when absent or unreadable (then the month counts as not archived). */
export async function readManifest(store: ArchiveStore, partition: string): Promise<ArchiveManifest | undefined> {
  const text = await store.readText(manifestKey(partition));
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as Partial<ArchiveManifest>;
    const ok =
      m.version === 1 &&
      m.partition === partition &&
      typeof m.archive === 'string' &&
      typeof m.rows === 'number' &&
      typeof m.sha256 === 'string' &&
      typeof m.row_digest === 'string' &&
      typeof m.file_sha256 === 'string' &&
      typeof m.bytes === 'number' &&
      Array.isArray(m.columns) &&
      Array.isArray(m.column_types) &&
      typeof m.bounds?.from === 'string';
    return ok ? (m as ArchiveManifest) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeManifest(store: ArchiveStore, manifest: ArchiveManifest): Promise<void> {
  await store.writeText(manifestKey(manifest.partition), `${JSON.stringify(manifest, null, 2)}\n`);
}

export interface ArchiveStats {
  rows: number;
  sha256: string;
  rowDigest: string;
  orderedById: boolean;
  fileSha256: string;
  bytes: number;
}

/** Re-reads an archive end to end: decompresses, splits lines, recomputes both checksums. */
export async function readArchiveStats(store: ArchiveStore, key: string, onLines?: (rows: number) => void): Promise<ArchiveStats> {
  const file = createHash('sha256');
  let bytes = 0;
  const digest = new LineDigest();
  // A chunk can end inside a multi-byte character: decode across chunk borders.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  await pipeline(
    store.openRead(key),
    tap((chunk) => {
      file.update(chunk);
      bytes += chunk.length;
    }),
    createGunzip(),
    async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        const parts = (rest + decoder.write(chunk)).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) digest.add(line);
        onLines?.(digest.rows);
      }
    },
  );
  rest += decoder.end();
  // Every line ends with "\n": trailing bytes mean a truncated or foreign file.
  if (rest !== '') throw new Error(`archive ${key} ends without a newline`);
  return { ...digest.result(), fileSha256: file.digest('hex'), bytes };
}

/** Compressed size and sha256 only: proves the file is the one the manifest describes. */
export async function archiveFileMatches(store: ArchiveStore, manifest: ArchiveManifest): Promise<boolean> {
  if ((await store.size(manifest.archive)) !== manifest.bytes) return false;
  const file = createHash('sha256');
  await pipeline(store.openRead(manifest.archive), async function (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) file.update(chunk);
  });
  return file.digest('hex') === manifest.file_sha256;
}

function tap(fn: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      fn(chunk);
      cb(null, chunk);
    },
  });
}
