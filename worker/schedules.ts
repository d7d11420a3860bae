import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { Logger } from '../observability/logger';
import { DISPATCH_TASK_QUEUE } from '../workflows/definitions';
import { PARTITION_MAINTENANCE_WORKFLOW, PARTITION_SCHEDULE_ID } from '../workflows/partition-maintenance';
import { RECORD_EXPIRY_SCHEDULE_ID, RECORD_EXPIRY_WORKFLOW } from '../workflows/record-expiry';

export interface PartitionScheduleOptions {
  /** Task queue of the worker that has the partition activities registered. */
  taskQueue?: string;
  /** Time of the daily run, UTC. Default 02:17: off the hour, away from the midnight month flip. */
  hour?: number;
  minute?: number;
}

/**
 * Creates the daily `partition-maintenance` schedule, or brings an existing one
 * to this definition (time, task queue, policies) while keeping its paused state
 * and note. Safe to call at every worker start, from any number of workers.
 */
export async function ensurePartitionSchedule(client: Client, opts: PartitionScheduleOptions = {}): Promise<'created' | 'updated'> {
  return upsertDailySchedule(client, PARTITION_DAILY, opts, 'ensurePartitionSchedule');
}

/**
 * Creates the daily `record-expiry` schedule (idempotency keys, early receipts and inbound
 * dedup ids past their retention), or brings an existing one to this definition while keeping
 * its paused state and note. Safe at every worker start. Default 03:41 UTC, apart from the
 * partition upkeep.
 */
export async function ensureRecordExpirySchedule(client: Client, opts: PartitionScheduleOptions = {}): Promise<'created' | 'updated'> {
  return upsertDailySchedule(client, RECORD_EXPIRY_DAILY, opts, 'ensureRecordExpirySchedule');
}

interface DailySchedule {
  scheduleId: string;
  workflowType: string;
  /** UTC */
  hour: number;
  minute: number;
  comment: string;
}

/** 02:17 UTC: off the hour, away from the midnight month flip. */
const PARTITION_DAILY: DailySchedule = {
  scheduleId: PARTITION_SCHEDULE_ID,
  workflowType: PARTITION_MAINTENANCE_WORKFLOW,
  hour: 2,
  minute: 17,
  comment: 'daily partition upkeep',
};
/** 03:41 UTC, apart from the partition upkeep. */
const RECORD_EXPIRY_DAILY: DailySchedule = {
  scheduleId: RECORD_EXPIRY_SCHEDULE_ID,
  workflowType: RECORD_EXPIRY_WORKFLOW,
  hour: 3,
  minute: 41,
  comment: 'daily record expiry',
};

// One run at a time: two runs would only wait on each other's (partition) locks. A run missed
// during an outage is still worth doing the same day; older ones are superseded by the next.
const DAILY_POLICIES: NonNullable<ScheduleOptions['policies']> = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' };

/**
 * Creates a daily schedule that starts `workflowType` (workflow id = schedule id) on the dispatch
 * queue, or brings an existing one to this definition while keeping its paused state and note.
 */
async function upsertDailySchedule(client: Client, daily: DailySchedule, opts: PartitionScheduleOptions, managedBy: string): Promise<'created' | 'updated'> {
  const { scheduleId, workflowType } = daily;
  const spec: ScheduleSpec = { calendars: [{ hour: opts.hour ?? daily.hour, minute: opts.minute ?? daily.minute, comment: daily.comment }] };
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType,
    args: [{}],
    taskQueue: opts.taskQueue ?? DISPATCH_TASK_QUEUE,
    workflowId: scheduleId,
  };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: DAILY_POLICIES, state: { note: `managed by ${managedBy}` } });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({
    spec,
    action,
    policies: { ...previous.policies, ...DAILY_POLICIES },
    state: { paused: previous.state.paused, note: previous.state.note },
  }));
  return 'updated';
}

export interface ScheduleUpkeep {
  /** Settles after the first attempt: true when the schedules are in place. */
  firstAttempt: Promise<boolean>;
  /** Stops the background retries. */
  stop(): void;
}

/**
 * Runs `ensure` now and, while it fails, again with backoff in the background. A
 * schedule update is a query to the server's scheduler, which times out while the
 * server restarts or is busy; a worker that exited over it would crash-loop while
 * messages wait for it, so the failure is logged and retried instead.
 */
export function keepSchedules(
  ensure: () => Promise<void>,
  logger: Pick<Logger, 'info' | 'warn'>,
  opts: { firstRetryMs?: number; maxRetryMs?: number } = {},
): ScheduleUpkeep {
  const first = opts.firstRetryMs ?? 2_000;
  const max = opts.maxRetryMs ?? 60_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let settleFirst: (ok: boolean) => void = () => undefined;
  const firstAttempt = new Promise<boolean>((resolve) => (settleFirst = resolve));
  const attempt = async (n: number): Promise<void> => {
    try {
      await ensure();
      if (n > 1) logger.info({ event: 'schedules_ensured', attempts: n });
      settleFirst(true);
    } catch (err) {
      const retryMs = Math.min(first * 2 ** (n - 1), max);
      logger.warn({ event: 'schedules_ensure_failed', attempt: n, retry_in_ms: retryMs, err: (err as Error).message });
      settleFirst(false);
      if (!stopped) timer = setTimeout(() => void attempt(n + 1), retryMs);
    }
  };
  void attempt(1);
  return {
    firstAttempt,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
