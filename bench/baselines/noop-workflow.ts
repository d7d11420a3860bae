import { proxyActivities } from '@temporalio/workflow';

// Baseline B: the least a durable workflow with one activity can cost on this Temporal server.

export interface NoopActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<NoopActivities>({ startToCloseTimeout: '10 seconds' });

export async function benchNoop(): Promise<void> {
  await noop();
}
