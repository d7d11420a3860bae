import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { DispatchSettings } from '../activities/dispatch-start';
import { createOperationActivities } from '../activities/operations';
import { createGroupActivities } from '../activities/groups';
import { createPartitionActivities, type PartitionActivityOptions } from '../activities/partitions';
import { CHANNEL_TYPES } from '../adapters/types';
import { bundleCarriesTraceInterceptors, traceActivityInterceptors, WORKFLOW_INTERCEPTOR_MODULES } from '../observability/trace-worker';
import { withTraceHeaders } from '../observability/trace-client';
import { DISPATCH_TASK_QUEUE, sendTaskQueue } from '../workflows/definitions';

export interface WorkerSetup extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  /** For activities that start workflows (outbox sweeper, replays). */
  temporal: Client;
  dispatch: DispatchSettings;
  /** Prebuilt bundle (production); without it the workflows are bundled from source. */
  workflowBundlePath?: string;
  /** Retention and archive store of the partition upkeep (PARTITION_RETENTION_MONTHS, ARCHIVE_DIR). */
  partitions?: PartitionActivityOptions;
}

/** The prebuilt bundle when one exists next to the compiled code, else undefined. */
export function defaultBundlePath(): string | undefined {
  const candidate = join(__dirname, '..', 'workflow-bundle.js');
  return existsSync(candidate) ? candidate : undefined;
}

/**
 * One worker for the workflows and bookkeeping activities (`dispatch`), one per
 * channel type for provider calls (`send-<type>`), so a slow provider only fills its own queue.
 */
export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const activities = createActivities(setup);
  const temporal = withTraceHeaders(setup.temporal);
  if (setup.workflowBundlePath && !bundleCarriesTraceInterceptors(setup.workflowBundlePath)) {
    setup.logger.warn({ event: 'workflow_bundle_without_trace_interceptors', bundle: setup.workflowBundlePath, fix: 'bundleWorkflowCode({ workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES })' });
  }
  // trace_id: activities bind it from their headers; workflows copy it onto what they schedule.
  // A prebuilt bundle carries the workflow interceptors inside it (bundleWorkflowCode's
  // workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES); the SDK ignores workflowModules then.
  const common: Pick<WorkerOptions, 'connection' | 'namespace' | 'interceptors'> = {
    connection: setup.connection,
    namespace: setup.namespace,
    interceptors: { activity: [traceActivityInterceptors], ...(setup.workflowBundlePath ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }) },
  };
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = setup.workflowBundlePath
    ? { workflowBundle: { codePath: setup.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };

  const dispatch = await Worker.create({
    ...common,
    ...workflowSource,
    taskQueue: DISPATCH_TASK_QUEUE,
    activities: {
      recordStatus: activities.recordStatus,
      recordFailure: activities.recordFailure,
      reserveSendSlot: activities.reserveSendSlot,
      ...createOperationActivities({ db: setup.db, temporal, adapters: setup.adapters, dispatch: setup.dispatch, logger: setup.logger, metrics: setup.metrics }),
      ...createGroupActivities({ db: setup.db, logger: setup.logger, metrics: setup.metrics }),
      ...createPartitionActivities({ db: setup.db, logger: setup.logger, ...setup.partitions }),
    },
    shutdownGraceTime: '10 seconds',
  });
  const senders = await Promise.all(
    CHANNEL_TYPES.filter((t) => setup.adapters.list().some((a) => a.channelType === t)).map((t) =>
      Worker.create({
        ...common,
        taskQueue: sendTaskQueue(t),
        activities: { sendMessage: activities.sendMessage },
        maxConcurrentActivityTaskExecutions: 200,
        shutdownGraceTime: '30 seconds',
      }),
    ),
  );
  return [dispatch, ...senders];
}

export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
