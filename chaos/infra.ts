import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../cli/temporal-dev';
import { migrate } from '../db/migrate';
import { ADMIN_URL } from '../tests/support/infra';

// The chaos run's own infrastructure: a fresh database on the shared Postgres and a
// Temporal dev server persisted to a SQLite file, so it can be stopped and started
// again on the same port with its workflows, timers and schedules intact.

export interface ChaosInfra {
  databaseUrl: string;
  temporalAddress: string;
  workflowBundlePath: string;
  dir: string;
  /** Stops the Temporal dev server and starts it again on the same port and file; resolves when it answers. */
  restartTemporal(): Promise<{ downMs: number }>;
  /** The local Postgres cluster's restart, or undefined when Postgres is not one this machine controls. */
  restartPostgres: (() => { downMs: number; output: string }) | undefined;
  stop(): Promise<void>;
}

export async function startChaosInfra(): Promise<ChaosInfra> {
  const dir = mkdtempSync(join(tmpdir(), 'turumba-chaos-'));
  const dbName = `turumba_chaos_${process.pid}_${Date.now()}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  const port = await freePort();
  const dbFile = join(dir, 'temporal.sqlite');
  const start = () => startTemporalDevServer({ headless: true, port, dbFile, logFile: join(dir, 'temporal.log') });
  let temporal: TemporalDevServer = await start();

  const [bundle] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: join(__dirname, '..', 'workflows', 'index.ts'), logger: quietLogger }),
    migrate(databaseUrl),
  ]);
  const workflowBundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  return {
    databaseUrl,
    temporalAddress: temporal.address,
    workflowBundlePath,
    dir,
    async restartTemporal() {
      const began = Date.now();
      await temporal.stop();
      temporal = await start();
      return { downMs: Date.now() - began };
    },
    restartPostgres: localCluster(),
    async stop() {
      await temporal.stop();
      await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `pg_ctlcluster <version> main restart` when ADMIN_URL points at this machine's cluster. */
function localCluster(): ChaosInfra['restartPostgres'] {
  const host = new URL(ADMIN_URL).hostname;
  if (!['127.0.0.1', 'localhost', '::1'].includes(host) || !existsSync('/etc/postgresql')) return undefined;
  const version = readdirSync('/etc/postgresql').find((v) => existsSync(join('/etc/postgresql', v, 'main')));
  if (!version) return undefined;
  return () => {
    const began = Date.now();
    const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pg_ctlcluster ${version} main restart failed: ${r.stderr || r.stdout}`);
    return { downMs: Date.now() - began, output: `pg_ctlcluster ${version} main restart` };
  };
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
