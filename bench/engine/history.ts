import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** What counts as a billable Temporal action here (an approximation of Temporal Cloud's definition). */
export const ACTIONS_DEFINITION =
  'actions ≈ workflow started + activities scheduled + timers started + signals received + search-attribute upserts + properties modified (details/memo) + markers (local activities, side effects) + child workflows / external signals started';

const ACTION_ATTRIBUTES: ReadonlyArray<keyof HistoryEvent> = [
  'workflowExecutionStartedEventAttributes',
  'activityTaskScheduledEventAttributes',
  'timerStartedEventAttributes',
  'workflowExecutionSignaledEventAttributes',
  'upsertWorkflowSearchAttributesEventAttributes',
  'workflowPropertiesModifiedEventAttributes',
  'markerRecordedEventAttributes',
  'startChildWorkflowExecutionInitiatedEventAttributes',
  'signalExternalWorkflowExecutionInitiatedEventAttributes',
];

export interface HistoryCost {
  sampled: number;
  eventsPerMessage: number;
  actionsPerMessage: number;
  /** Event attribute kinds and their mean count per workflow, to show where events go. */
  breakdown: Record<string, number>;
  /** Failed workflow tasks by cause, over the sample (each costs three events and a retry). */
  taskFailures: Record<string, number>;
}

export async function historyCost(client: Client, workflowIds: string[]): Promise<HistoryCost> {
  let events = 0;
  let actions = 0;
  const kinds: Record<string, number> = {};
  const taskFailures: Record<string, number> = {};
  for (const id of workflowIds) {
    const handle = client.workflow.getHandle(id);
    // A delivered row comes a moment before its workflow's last task: read whole histories.
    await handle.result().catch(() => undefined);
    const history = await handle.fetchHistory();
    for (const ev of history.events ?? []) {
      const failed = ev.workflowTaskFailedEventAttributes;
      if (failed) {
        const cause = `${String(failed.cause ?? 'unknown')}${failed.failure?.message ? `: ${failed.failure.message.slice(0, 120)}` : ''}`;
        taskFailures[cause] = (taskFailures[cause] ?? 0) + 1;
      }
      events++;
      const kind = Object.keys(ev).find((k) => k.endsWith('EventAttributes') && ev[k as keyof HistoryEvent] != null);
      if (kind) kinds[kind.replace(/EventAttributes$/, '')] = (kinds[kind.replace(/EventAttributes$/, '')] ?? 0) + 1;
      if (ACTION_ATTRIBUTES.some((a) => ev[a] != null)) actions++;
    }
  }
  const n = Math.max(1, workflowIds.length);
  const breakdown = Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, Math.round((v / n) * 10) / 10]));
  return { sampled: workflowIds.length, eventsPerMessage: events / n, actionsPerMessage: actions / n, breakdown, taskFailures };
}
