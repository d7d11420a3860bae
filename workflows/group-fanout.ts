import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  condition,
  continueAsNew,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import {
  cancelGroupSignal,
  DISPATCH_TASK_QUEUE,
  messageSearchAttributes,
  messageTaskQueue,
  groupProgressQuery,
  messageWorkflowId,
  pauseGroupSignal,
  resumeGroupSignal,
  type GroupFanoutInput,
  type GroupFanoutResult,
  type GroupProgress,
} from './definitions';
import type { GroupActivities, MaterializedPage, MaterializedRecipient } from '../activities/groups';
import { batchedFanout } from './group-batches';

// One group message. Batched (the default): the group's workflow sends the recipients
// itself (workflows/group-batches.ts). Per message: pages of recipients → message rows → child dispatchMessage
// workflows. Children are abandoned on close, so each run only holds the
// children it started itself; continue-as-new keeps every run's history and
// pending-children count far below Temporal's limits (51,200 events, 2,000 children).

/** Recipients turned into messages per activity call. */
export const PAGE_SIZE = 500;
/**
 * Child starts in flight at once. The server records every start (and every
 * completion) of one parent's children under that parent's lock, one after the
 * other, so a wider window only queues there; a narrow one lets pause and
 * cancel take effect within ~100 starts.
 */
export const START_WINDOW = 100;
/** Children started by one run before it continues as new (≈3 events each, plus task events). */
export const CHILDREN_PER_RUN = 1000;

const groups = proxyActivities<GroupActivities>({
  taskQueue: DISPATCH_TASK_QUEUE,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

export async function groupFanout(input: GroupFanoutInput): Promise<GroupFanoutResult> {
  if (input.mode === 'batched') return batchedFanout(input);
  const { groupId } = input;
  const from = input.resume ?? { cursor: 0, started: 0, materialized: 0, paused: false, run: 1 };
  let { cursor, started, materialized, paused } = from;
  let cancelled = false;
  let state: GroupProgress['state'] = paused ? 'paused' : 'running';
  setHandler(pauseGroupSignal, () => {
    paused = true;
  });
  setHandler(resumeGroupSignal, () => {
    paused = false;
  });
  setHandler(cancelGroupSignal, () => {
    cancelled = true;
  });
  setHandler(groupProgressQuery, () => ({ state, materialized, started, cursor }));
  const details = () => setCurrentDetails(`**${state}** · ${started}/${input.total} started · run ${from.run}`);
  details();

  const startOne = async (r: MaterializedRecipient): Promise<void> => {
    try {
      await startChild('dispatchMessage', {
        workflowId: messageWorkflowId(r.messageId),
        taskQueue: messageTaskQueue(input.dispatch.channelType),
        args: [{ ...input.dispatch, messageId: r.messageId }],
        // The child outlives this run (continue-as-new) and the group; it is its own message.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // A message that already ran (sweeper, earlier attempt) must never run again from here.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: messageSearchAttributes({
          accountId: input.accountId,
          channelId: input.dispatch.channelId,
          channelType: input.dispatch.channelType,
          status: 'queued',
          groupMessageId: groupId,
        }),
        memo: { trace_id: input.traceId },
        staticSummary: `${input.dispatch.channelType} to ${r.to}`,
        staticDetails: `message ${r.messageId} · group ${groupId} · channel ${input.dispatch.channelId} · trace ${input.traceId}`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    started++;
  };

  let startedThisRun = 0;
  // The next page is fetched while this page's last starts resolve, and a page's starts are
  // recorded while the next page's go out, so the server never waits on our round trips.
  let prefetched: Promise<MaterializedPage> | undefined;
  let recording: Promise<void> = Promise.resolve();
  const settle = () => Promise.all([recording, prefetched]);
  for (;;) {
    if (cancelled) break;
    if (paused) {
      state = 'paused';
      details();
      // Once the row says paused, its progress is final and no unstarted message waits
      // (the outbox sweeper would start it) until resumed.
      await settle();
      prefetched = undefined;
      materialized -= await groups.pauseGroupFanout(groupId, cursor);
      await condition(() => !paused || cancelled);
      if (cancelled) break;
      state = 'running';
      details();
      await groups.resumeGroupFanout(groupId);
      continue;
    }
    if (startedThisRun >= CHILDREN_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await settle();
      return continueAsNew<typeof groupFanout>({ ...input, resume: { cursor, started, materialized, paused, run: from.run + 1 } });
    }

    const page = await (prefetched ?? groups.materializeRecipients(groupId, cursor, PAGE_SIZE));
    prefetched = undefined;
    materialized += page.created;
    if (page.items.length === 0) {
      await recording;
      await groups.completeGroupFanout(groupId);
      state = 'completed';
      details();
      return { state, started, runs: from.run };
    }

    // Starts go out in seq order, so the ones issued before a pause or cancel are a prefix of the page.
    let inflight = 0;
    const starts: Array<Promise<void>> = [];
    let issuedThrough = cursor;
    for (const r of page.items) {
      if (inflight >= START_WINDOW) await condition(() => inflight < START_WINDOW || paused || cancelled);
      if (paused || cancelled) break;
      inflight++;
      starts.push(startOne(r).finally(() => inflight--));
      issuedThrough = r.seq;
    }
    const more = starts.length === PAGE_SIZE && startedThisRun + starts.length < CHILDREN_PER_RUN;
    if (more) prefetched = groups.materializeRecipients(groupId, issuedThrough, PAGE_SIZE);
    await Promise.all(starts);
    if (starts.length > 0) {
      startedThisRun += starts.length;
      const after = cursor;
      cursor = issuedThrough;
      details();
      await recording;
      recording = groups.recordGroupStarts(groupId, after, cursor, started);
    }
  }

  // Nothing may create or mark a message behind the clean-up's back.
  await settle();
  const removed = await groups.cancelGroupFanout(groupId, cursor);
  materialized -= removed;
  state = 'cancelled';
  details();
  return { state, started, runs: from.run };
}
