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

/** A real Temporal dev server, a fresh migrated Postgres database and a workflow bundle, for tests and benches. */
export async function startInfra(opts: { name?: string; temporalDbFile?: string } = {}): Promise<RunningInfra> {
  const dir = mkdtempSync(join(tmpdir(), `turumba-${opts.name ?? 'test'}-`));
  const dbName = `turumba_${opts.name ?? 'test'}_${process.pid}_${Date.now()}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  let temporal: TemporalDevServer | undefined;
  try {
    temporal = await startTemporalDevServer({ headless: true, logFile: join(dir, 'temporal.log'), dbFile: opts.temporalDbFile });
    const [bundle] = await Promise.all([
      bundleWorkflowCode({
        workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
        workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
        logger: quietLogger,
      }),
      migrate(databaseUrl),
    ]);
    const workflowBundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, bundle.code);
    const server = temporal;
    return {
      infra: { databaseUrl, temporalAddress: server.address, workflowBundlePath },
      temporal: server,
      async stop() {
        await server.stop();
        await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await temporal?.stop();
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    throw err;
  }
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
