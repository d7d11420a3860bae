import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../cli/temporal-dev';
import { migrate } from '../db/migrate';
import { ADMIN_URL, createDatabase, writeWorkflowBundle } from '../tests/support/infra';

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
  const database = await createDatabase('chaos');
  const databaseUrl = database.url;

  const port = await freePort();
  const dbFile = join(dir, 'temporal.sqlite');
  const start = () => startTemporalDevServer({ headless: true, port, dbFile, logFile: join(dir, 'temporal.log') });
  let temporal: TemporalDevServer = await start();
  const [workflowBundlePath] = await Promise.all([writeWorkflowBundle(dir), migrate(databaseUrl)]);

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
      await database.drop();
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
