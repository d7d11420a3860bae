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

/** `worker/main.ts` as its own process, as in production, against the test run's Temporal and Postgres. */
export async function startWorkerProcess(infra: StackInfra, publicBaseUrl: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
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
  await eventually(async () => ((await fetch(metricsUrl)).ok ? true : undefined), 60_000, 250);
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
