import type { WorkflowService } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

// A message's send runs in its workflow task (a local activity), so the send work waiting is
// the workflow task backlog of its channel type's queue.
const WORKFLOW = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW;

/** Workflow tasks waiting on a task queue (approximate: the server's backlog count over all partitions). */
export async function readQueueBacklog(service: WorkflowService, namespace: string, taskQueue: string): Promise<number> {
  const res = await service.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: WORKFLOW, reportStats: true });
  const count = res.stats?.approximateBacklogCount;
  if (count === null || count === undefined) return 0;
  return typeof count === 'number' ? count : count.toNumber();
}

export interface QueueDepthPoller {
  /** One round over every queue; a queue the server could not describe keeps its last value. */
  poll(): Promise<void>;
  stop(): void;
}

/**
 * Keeps `turumba_dispatch_queue_depth{channel_type}` current with the backlog of each
 * `dispatch-<channel_type>` queue. Every worker reports the same server-side number, so
 * queries take max() over instances, never sum().
 */
export function pollQueueDepth(deps: {
  service: WorkflowService;
  namespace: string;
  queues: ReadonlyArray<{ channelType: string; taskQueue: string }>;
  metrics: Pick<Metrics, 'queueDepth'>;
  logger: Logger;
  everyMs?: number;
}): QueueDepthPoller {
  let failing = false;
  const poll = async (): Promise<void> => {
    const results = await Promise.allSettled(
      deps.queues.map(async (q) => {
        deps.metrics.queueDepth.set({ channel_type: q.channelType }, await readQueueBacklog(deps.service, deps.namespace, q.taskQueue));
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // One line when polling starts failing and one when it recovers, not one every 10 s.
    if (failed && !failing) deps.logger.warn({ event: 'queue_depth_poll_failed', err: (failed.reason as Error).message });
    if (!failed && failing) deps.logger.info({ event: 'queue_depth_poll_recovered' });
    failing = failed !== undefined;
  };
  const timer = setInterval(() => void poll(), deps.everyMs ?? 10_000);
  timer.unref();
  void poll();
  return { poll, stop: () => clearInterval(timer) };
}
