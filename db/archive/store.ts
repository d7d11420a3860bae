import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * Where archives live. An object appears under its key only once it is complete
 * (commit), so a reader never sees half an archive. A directory store ships here;
 * an S3-compatible store fits the same shape (createWriter = multipart upload that
 * commits on CompleteMultipartUpload, writeText = PutObject, rename = copy + delete).
 */
export interface ArchiveStore {
  /** Human-readable location for manifests and logs; never carries credentials. */
  readonly location: string;
  createWriter(key: string): Promise<ArchiveWriter>;
  /** Streams an object; the stream errors when the key does not exist. */
  openRead(key: string): Readable;
  /** Size in bytes, or undefined when absent. */
  size(key: string): Promise<number | undefined>;
  readText(key: string): Promise<string | undefined>;
  /** Replaces the object atomically. */
  writeText(key: string, text: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

export interface ArchiveWriter {
  readonly stream: Writable;
  /** Makes the written bytes visible under the key, durably. Call after the stream finished. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

const KEY = /^[\w.-]+$/;

function checkKey(key: string): string {
  if (!KEY.test(key) || key.startsWith('.')) throw new Error(`invalid archive key: ${key}`);
  return key;
}

/** Archives as files in one directory (ARCHIVE_DIR). Writes go to a temp file, fsync, rename. */
export class DirectoryArchiveStore implements ArchiveStore {
  readonly location: string;

  constructor(private readonly dir: string) {
    this.location = resolve(dir);
  }

  private path(key: string): string {
    return join(this.location, checkKey(key));
  }

  async createWriter(key: string): Promise<ArchiveWriter> {
    await mkdir(this.location, { recursive: true });
    const final = this.path(key);
    const tmp = `${final}.partial`;
    const stream = createWriteStream(tmp);
    return {
      stream,
      commit: async () => {
        if (!stream.writableFinished) await finished(stream);
        await fsyncPath(tmp);
        await rename(tmp, final);
        await fsyncPath(this.location);
      },
      abort: async () => {
        stream.destroy();
        await rm(tmp, { force: true });
      },
    };
  }

  openRead(key: string): Readable {
    return createReadStream(this.path(key));
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    await mkdir(this.location, { recursive: true });
    const final = this.path(key);
    const tmp = `${final}.partial`;
    await writeFile(tmp, text, 'utf8');
    await fsyncPath(tmp);
    await rename(tmp, final);
    await fsyncPath(this.location);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.path(from), this.path(to));
    await fsyncPath(this.location);
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
