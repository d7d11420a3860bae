import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import { DISPATCH_TASK_QUEUE } from '../workflows/definitions';
import { OUTBOX_SCHEDULE_ID } from '../workflows/replay-definitions';

/** Messages accepted this long ago without a started workflow are swept (the API may still be starting them). */
export const OUTBOX_GRACE_SECONDS = 30;

/** Creates the `outbox-sweeper` schedule (every minute) unless it exists. Safe from every worker at start. */
export async function ensureOutboxSchedule(client: Client): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: OUTBOX_SCHEDULE_ID,
      spec: { intervals: [{ every: '1 minute' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'sweepOutboxWorkflow',
        taskQueue: DISPATCH_TASK_QUEUE,
        args: [{ olderThanSeconds: OUTBOX_GRACE_SECONDS, limit: 500 }],
      },
      policies: { overlap: 'SKIP', catchupWindow: '1 minute' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
