import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { closedLoop, spread, type LegResult } from '../engine/load';
import type { NoopActivities } from './noop-workflow';

const TASK_QUEUE = 'bench-noop';
const noopLog = (): void => undefined;
const quiet = { trace: noopLog, debug: noopLog, info: noopLog, warn: noopLog, error: noopLog, log: noopLog };

/** Baseline B, the Temporal ceiling: start-and-await a one-no-op-activity workflow at the same concurrency. */
export async function noopLeg(temporalAddress: string, count: number, concurrency: number): Promise<LegResult> {
  const { code } = await bundleWorkflowCode({ workflowsPath: join(__dirname, 'noop-workflow.ts'), logger: quiet });
  const native = await NativeConnection.connect({ address: temporalAddress });
  const activities: NoopActivities = { noop: () => Promise.resolve() };
  const worker = await Worker.create({ connection: native, taskQueue: TASK_QUEUE, workflowBundle: { code }, activities });
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection });
  const running = worker.run();
  const latency: number[] = [];
  const run = `${Date.now()}`;
  try {
    const t0 = performance.now();
    await closedLoop(count, concurrency, async (i) => {
      const s = performance.now();
      await client.workflow.execute('benchNoop', { taskQueue: TASK_QUEUE, workflowId: `bench-noop-${run}-${i}` });
      latency.push(performance.now() - s);
    });
    const wallSeconds = (performance.now() - t0) / 1000;
    return { name: 'temporal no-op', messages: count, concurrency, perSecond: count / wallSeconds, wallSeconds, toDeliveredMs: spread(latency) };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await native.close();
  }
}
