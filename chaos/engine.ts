import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { BENCH_EGRESS_ALLOW, startEngine, type EngineProcesses } from '../bench/processes';
import type { ChaosInfra } from './infra';

// API and worker as separate processes (bench/processes.ts), plus what a chaos run
// needs on top: SIGKILL the worker, start a new one with the same settings, and
// notice when either process dies on its own.

const ROOT = join(__dirname, '..');

export interface ChaosEngine {
  apiUrl: string;
  /** SIGKILLs the running worker; resolves once it is gone. */
  killWorker(): Promise<number>;
  /** A fresh worker process with the first one's environment; resolves when its metrics answer. */
  startWorker(): Promise<number>;
  /** Processes that exited without being told to, with their exit codes. */
  unexpectedExits: string[];
  stop(): Promise<void>;
}

export async function startChaosEngine(infra: ChaosInfra, env: Record<string, string>): Promise<ChaosEngine> {
  const engine: EngineProcesses = await startEngine({ ...infra, env });
  // A restarted worker must call back to the same API (PUBLIC_BASE_URL defaults to its port) and serve metrics where the first did.
  const metricsPort = new URL(engine.workerMetricsUrl).port;
  const fullEnv = {
    EGRESS_ALLOW: BENCH_EGRESS_ALLOW,
    ALLOW_SANDBOX_CHANNELS: 'true',
    ...env,
    API_PORT: new URL(engine.apiUrl).port,
    WORKER_METRICS_PORT: metricsPort,
  };
  const unexpectedExits: string[] = [];
  let expected = false;
  let worker: ChildProcess = engine.worker;
  const watch = (name: string, child: ChildProcess) =>
    child.once('exit', (code, signal) => {
      if (!expected) unexpectedExits.push(`${name} pid ${child.pid} exited (code ${code}, signal ${signal}) at ${new Date().toISOString()}`);
    });
  watch('api', engine.api);
  watch('worker', worker);
  const log = createWriteStream(join(infra.dir, 'workers.log'), { flags: 'a' });

  return {
    apiUrl: engine.apiUrl,
    unexpectedExits,
    async killWorker() {
      const pid = worker.pid ?? 0;
      if (worker.exitCode !== null || worker.signalCode !== null) return pid;
      expected = true;
      const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      // tsx runs the worker in a child process: SIGKILL cannot be relayed, so kill the whole tree.
      killTree(pid, 'SIGKILL');
      await gone;
      expected = false;
      return pid;
    },
    async startWorker() {
      worker = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'worker', 'main.ts')], {
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          NODE_ENV: 'production',
          DATABASE_URL: infra.databaseUrl,
          TEMPORAL_ADDRESS: infra.temporalAddress,
          WORKFLOW_BUNDLE_PATH: infra.workflowBundlePath,
          ...fullEnv,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      worker.stderr?.pipe(log, { end: false });
      // The run's directory goes with it: keep what a failed start said for the error.
      let said = '';
      worker.stderr?.on('data', (chunk: Buffer) => void (said = (said + chunk.toString('utf8')).slice(-4000)));
      watch('worker', worker);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const up = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
          (r) => r.ok,
          () => false,
        );
        if (up) return worker.pid ?? 0;
        if (worker.exitCode !== null || Date.now() > deadline) {
          const how = worker.exitCode !== null ? `exited with code ${worker.exitCode}` : 'no metrics within 60 s';
          throw new Error(`restarted worker did not come up (${how}); its stderr ended with:\n${said}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      expected = true;
      for (const child of [engine.api, worker])
        if (child.pid && child.exitCode === null) for (const d of descendants(child.pid)) setTimeout(() => kill(d, 'SIGKILL'), 20_000).unref();
      const current = worker;
      const stopped =
        current.exitCode === null && current.signalCode === null ? new Promise<void>((resolve) => current.once('exit', () => resolve())) : Promise.resolve();
      current.kill('SIGTERM');
      setTimeout(() => current.kill('SIGKILL'), 15_000).unref();
      await Promise.all([engine.stop(), stopped]);
      log.end();
    },
  };
}

/** Child pids first, so nothing is left to be re-parented and outlive the run. */
function descendants(pid: number): number[] {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  const children = r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  return children.flatMap((c) => [...descendants(c), c]);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const p of [...descendants(pid), pid]) kill(p, signal);
}
