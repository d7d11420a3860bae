import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../cli/temporal-dev';
import type { StackInfra } from './stack';
import { eventually } from './stack';

const ROOT = join(__dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  metricsUrl: string;
  /** The worker's log lines at warn and above, parsed (its stdout is JSON lines). */
  warnings: Array<Record<string, unknown>>;
  /** SIGTERM (graceful) or SIGKILL; resolves with the exit code once it is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `worker/main.ts` as its own process, as in production, against the test run's Temporal and Postgres.
 * Its metrics port is probed free just before the start; another socket can take it in between,
 * so a worker that exits before it serves is started again on another.
 */
export async function startWorkerProcess(infra: StackInfra, publicBaseUrl: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  for (let attempt = 1; ; attempt++) {
    const started = await spawnWorker(infra, publicBaseUrl, env);
    if (started) return started;
    if (attempt >= 3) throw new Error('the worker process exited before it served /metrics, three times');
  }
}

async function spawnWorker(infra: StackInfra, publicBaseUrl: string, env: Record<string, string>): Promise<WorkerProcess | undefined> {
  const port = await freePort();
  // tsx as a loader, not its CLI wrapper: signals reach the worker itself and its exit code is its own.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'worker', 'main.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: infra.databaseUrl,
      TEMPORAL_ADDRESS: infra.temporalAddress,
      WORKFLOW_BUNDLE_PATH: infra.workflowBundlePath,
      PUBLIC_BASE_URL: publicBaseUrl,
      WORKER_METRICS_PORT: String(port),
      LOG_LEVEL: 'warn',
      EGRESS_ALLOW: '127.0.0.1',
      ALLOW_SANDBOX_CHANNELS: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const warnings: Array<Record<string, unknown>> = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.level === 'warn' || entry.level === 'error' || entry.level === 'fatal') warnings.push(entry);
      } catch {
        // not a log line
      }
    }
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  // Ready when the port answers with the worker's own metrics (not whatever else may hold it).
  const serves = async () => {
    const res = await fetch(metricsUrl).catch(() => undefined);
    return res?.ok === true && (await res.text()).includes('# TYPE turumba_');
  };
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const state = await eventually(async () => (exited() ? 'exited' : (await serves()) ? 'serving' : undefined), 60_000, 250);
  if (state === 'exited') return undefined;
  return {
    child,
    metricsUrl,
    warnings,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}
