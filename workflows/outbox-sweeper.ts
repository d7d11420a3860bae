import { proxyActivities } from '@temporalio/workflow';
import type { OperationActivities } from '../activities/operations';

const { sweepOutbox, sweepGroups } = proxyActivities<Pick<OperationActivities, 'sweepOutbox' | 'sweepGroups'>>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3 },
});

/** Run by the `outbox-sweeper` schedule: no accepted message, and no started group, is left without its workflow. */
export async function sweepOutboxWorkflow(input: {
  olderThanSeconds: number;
  limit: number;
}): Promise<{ started: number; pending: number; groupsRestarted: number }> {
  let total = 0;
  for (;;) {
    const r = await sweepOutbox(input.olderThanSeconds, input.limit);
    total += r.started;
    if (r.started < input.limit) {
      const groups = await sweepGroups(input.olderThanSeconds, input.limit);
      return { started: total, pending: r.pending, groupsRestarted: groups.restarted };
    }
  }
}
