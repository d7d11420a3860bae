import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { DispatchSettings } from '../dispatch/start';
import { createOperationActivities } from '../activities/operations';
import { createGroupActivities } from '../activities/groups';
import { createBatchActivities } from '../activities/batches';
import { createPartitionActivities, type PartitionActivityOptions } from '../activities/partitions';
import { createExpiryActivities } from '../activities/expiry';
import type { RetentionSettings } from '../config';
import { CHANNEL_TYPES } from '../lifecycle';
import { bundleCarriesTraceInterceptors, traceActivityInterceptors, WORKFLOW_INTERCEPTOR_MODULES } from '../observability/trace-worker';
import { withTraceHeaders } from '../observability/trace-client';
import { DISPATCH_TASK_QUEUE, messageTaskQueue } from '../workflows/definitions';

export interface WorkerSetup extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  /** For activities that start workflows (outbox sweeper, replays). */
  temporal: Client;
  dispatch: DispatchSettings;
  /** Prebuilt bundle (production); without it the workflows are bundled from source. */
  workflowBundlePath?: string;
  /** Sends in flight at once per channel type (SENDS_PER_CHANNEL_TYPE). */
  sendsPerChannelType?: number;
  /** Retention and archive store of the partition upkeep (PARTITION_RETENTION_MONTHS, ARCHIVE_DIR). */
  partitions?: PartitionActivityOptions;
  /** Days kept of idempotency keys, early receipts and inbound dedup ids (RETENTION_DAYS_*). */
  retention?: RetentionSettings;
}

/** The prebuilt bundle when one exists next to the compiled code, else undefined. */
export function defaultBundlePath(): string | undefined {
  const candidate = join(__dirname, '..', 'workflow-bundle.js');
  return existsSync(candidate) ? candidate : undefined;
}

/**
 * One worker for the bookkeeping workflows and activities (`dispatch`: groups, replays,
 * sweeps, partitions), and one per channel type for its messages' workflows
 * (`dispatch-<type>`), whose sends are local activities of the workflow task: each channel
 * type has its own workflow task and local activity slots, so a slow provider only holds
 * up its own messages.
 */
export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const activities = createActivities(setup);
  const temporal = withTraceHeaders(setup.temporal);
  if (setup.workflowBundlePath && !bundleCarriesTraceInterceptors(setup.workflowBundlePath)) {
    setup.logger.warn({
      event: 'workflow_bundle_without_trace_interceptors',
      bundle: setup.workflowBundlePath,
      fix: 'bundleWorkflowCode({ workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES })',
    });
  }
  // trace_id: activities bind it from their headers; workflows copy it onto what they schedule.
  // A prebuilt bundle carries the workflow interceptors inside it (bundleWorkflowCode's
  // workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES). Without one, the workflows are
  // bundled here once for all the workers.
  const common: Pick<WorkerOptions, 'connection' | 'namespace' | 'interceptors' | 'workflowBundle'> = {
    connection: setup.connection,
    namespace: setup.namespace,
    interceptors: { activity: [traceActivityInterceptors] },
    workflowBundle: setup.workflowBundlePath
      ? { codePath: setup.workflowBundlePath }
      : await bundleWorkflowCode({
          workflowsPath: require.resolve('../workflows'),
          workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
          logger: new DefaultLogger('WARN'),
        }),
  };
  const messageActivities = {
    reserveSendSlot: activities.reserveSendSlot,
    sendMessage: activities.sendMessage,
    recordStatus: activities.recordStatus,
    recordFailure: activities.recordFailure,
    readStatus: activities.readStatus,
    // A batched group's pages: regular activities on the channel type's queue, so a slow
    // provider holds up only its own type's batches.
    ...createBatchActivities(setup),
  };

  const dispatch = await Worker.create({
    ...common,
    taskQueue: DISPATCH_TASK_QUEUE,
    activities: {
      ...createOperationActivities({
        db: setup.db,
        temporal,
        adapters: setup.adapters,
        dispatch: setup.dispatch,
        logger: setup.logger,
        metrics: setup.metrics,
      }),
      ...createGroupActivities({ db: setup.db, adapters: setup.adapters, logger: setup.logger, metrics: setup.metrics }),
      ...createPartitionActivities({ db: setup.db, logger: setup.logger, ...setup.partitions }),
      ...createExpiryActivities({ db: setup.db, logger: setup.logger, retention: setup.retention }),
    },
    shutdownGraceTime: '10 seconds',
  });
  const messageWorkers = await Promise.all(
    CHANNEL_TYPES.filter((t) => setup.adapters.list().some((a) => a.channelType === t)).map((t) =>
      Worker.create({
        ...common,
        taskQueue: messageTaskQueue(t),
        activities: messageActivities,
        // Sends in flight are bounded by the local activity slots. A workflow task that runs a
        // send holds its own slot for the provider's round trip, and a poller needs a free slot
        // to ask for the next task: two more than the sends keep the sticky and the normal
        // queue polled while every send hangs (with just as many, one hanging send could leave
        // the second send's task unpolled until the first one ended).
        maxConcurrentWorkflowTaskExecutions: (setup.sendsPerChannelType ?? DEFAULT_SENDS_PER_CHANNEL_TYPE) + POLLER_SLOTS,
        maxConcurrentLocalActivityExecutions: setup.sendsPerChannelType ?? DEFAULT_SENDS_PER_CHANNEL_TYPE,
        maxConcurrentActivityTaskExecutions: BATCHES_PER_WORKER,
        shutdownGraceTime: '30 seconds',
      }),
    ),
  );
  return [dispatch, ...messageWorkers];
}

const DEFAULT_SENDS_PER_CHANNEL_TYPE = 200;
/** Workflow task slots beyond the sends: one for each of the sticky and the normal queue's pollers. */
const POLLER_SLOTS = 2;
/** sendBatch activities one worker runs at once per channel type (each sends up to its batch concurrency). */
const BATCHES_PER_WORKER = 8;

export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
