import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../cli/temporal-dev';
import { Keyring } from '../db/credentials-crypto';

// The engine as it runs in production: API and worker as separate processes,
// so a benchmark's load generator does not share their event loops.

export interface EngineProcesses {
  apiUrl: string;
  api: ChildProcess;
  worker: ChildProcess;
  workerMetricsUrl: string;
  apiMetricsUrl: string;
  stop(): Promise<void>;
}

const ROOT = join(__dirname, '..');
/** The simulators of benches and chaos listen on loopback; sandbox channels are theirs. */
export const BENCH_EGRESS_ALLOW = '127.0.0.1';
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function start(entry: string, env: Record<string, string>): ChildProcess {
  // BENCH_CPU_PROF_DIR=dir: API and worker write a V8 CPU profile there when they stop.
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(ROOT, entry)], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startEngine(opts: {
  databaseUrl: string;
  temporalAddress: string;
  workflowBundlePath: string;
  env?: Record<string, string>;
  /** Other processes of the run (the Temporal dev server) that a signal must not leave behind either. */
  stopOnSignal?: ChildProcess[];
}): Promise<EngineProcesses> {
  const apiPort = await freePort();
  const metricsPort = await freePort();
  const apiMetricsPort = await freePort();
  const env = {
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    WORKFLOW_BUNDLE_PATH: opts.workflowBundlePath,
    API_PORT: String(apiPort),
    API_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(metricsPort),
    API_METRICS_PORT: String(apiMetricsPort),
    CREDENTIALS_KEY: process.env.CREDENTIALS_KEY ?? Keyring.generateKey(),
    EGRESS_ALLOW: BENCH_EGRESS_ALLOW,
    ALLOW_SANDBOX_CHANNELS: 'true',
    ...opts.env,
  };
  const worker = start('worker/main.ts', env);
  const api = start('api/main.ts', env);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  // A bench stopped by a signal takes its engine along; otherwise API and worker run on as orphans.
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const c of [api, worker, ...(opts.stopOnSignal ?? [])]) if (c.exitCode === null) c.kill('SIGTERM');
    process.exit(128 + constants.signals[signal]);
  };
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  const forgetSignals = () => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  };
  const stopChild = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 15_000).unref();
    });
  try {
    await Promise.all([waitHttp(`${apiUrl}/ready`, 60_000), waitHttp(`http://127.0.0.1:${metricsPort}/metrics`, 60_000)]);
  } catch (err) {
    await Promise.all([stopChild(api), stopChild(worker)]);
    forgetSignals();
    throw err;
  }
  return {
    apiUrl,
    api,
    worker,
    workerMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    apiMetricsUrl: `http://127.0.0.1:${apiMetricsPort}/metrics`,
    stop: async () => {
      await Promise.all([stopChild(api), stopChild(worker)]);
      forgetSignals();
    },
  };
}
