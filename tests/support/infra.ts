import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import { startTemporalDevServer, type TemporalDevServer } from '../../cli/temporal-dev';
import { migrate } from '../../db/migrate';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../observability/trace-worker';
import type { StackInfra } from './stack';

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface RunningInfra {
  infra: StackInfra;
  temporal: TemporalDevServer;
  stop(): Promise<void>;
}

/**
 * A real Temporal dev server, a fresh migrated Postgres database and a workflow bundle, for tests and benches.
 * `temporalOnDisk` keeps the dev server's state in a SQLite file (WAL) in the run's directory
 * instead of in memory: a long run holds tens of thousands of closed workflows, and in memory
 * each costs the server about 380 KB of RSS.
 */
export async function startInfra(opts: { name?: string; temporalOnDisk?: boolean } = {}): Promise<RunningInfra> {
  const dir = mkdtempSync(join(tmpdir(), `turumba-${opts.name ?? 'test'}-`));
  const database = await createDatabase(opts.name ?? 'test');

  let temporal: TemporalDevServer | undefined;
  try {
    temporal = await startTemporalDevServer({
      headless: true,
      logFile: join(dir, 'temporal.log'),
      dbFile: opts.temporalOnDisk ? join(dir, 'temporal.sqlite') : undefined,
    });
    const [workflowBundlePath] = await Promise.all([writeWorkflowBundle(dir), migrate(database.url)]);
    const server = temporal;
    return {
      infra: { databaseUrl: database.url, temporalAddress: server.address, workflowBundlePath },
      temporal: server,
      async stop() {
        await server.stop();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await temporal?.stop();
    await database.drop();
    throw err;
  }
}

/** A new empty database on the admin URL's server, named after its user and this process. */
export async function createDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const dbName = `turumba_${name}_${process.pid}_${Date.now()}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`) };
}

/** Bundles the workflows with the trace interceptors, as the worker runs them, into `dir`; returns the file. */
export async function writeWorkflowBundle(dir: string): Promise<string> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: quietLogger,
  });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, bundle.code);
  return path;
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => process.stderr.write(`${m}\n`), log: noop };
