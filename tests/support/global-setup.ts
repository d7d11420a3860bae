import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startTemporalDevServer, type TemporalDevServer } from '../../cli/temporal-dev';
import { migrate } from '../../db/migrate';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    workflowBundlePath: string;
  }
}

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** One real Temporal dev server, one fresh Postgres database and one workflow bundle for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'turumba-test-'));
  const dbName = `turumba_test_${process.pid}_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  let temporal: TemporalDevServer | undefined;
  try {
    temporal = await startTemporalDevServer({ headless: true, logFile: join(dir, 'temporal.log') });
    const server = temporal;
    const [bundle] = await Promise.all([
      bundleWorkflowCode({ workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'), logger: quietLogger }),
      migrate(databaseUrl),
    ]);
    const bundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, bundle.code);
    project.provide('temporalAddress', server.address);
    project.provide('databaseUrl', databaseUrl);
    project.provide('workflowBundlePath', bundlePath);
  } catch (err) {
    await temporal?.stop();
    await dropDatabase(dbName);
    throw err;
  }

  return async () => {
    await temporal?.stop();
    await dropDatabase(dbName);
    rmSync(dir, { recursive: true, force: true });
  };
}

async function dropDatabase(name: string): Promise<void> {
  const a = new Client({ connectionString: ADMIN_URL });
  await a.connect();
  await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await a.end();
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => process.stderr.write(`${m}\n`), log: noop };
