import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowIdReusePolicy,
} from '@temporalio/client';
import type { MessageStatus } from '../lifecycle';
import type { Config } from '../config';
import type { GroupMessageRow, MessageRow } from '../db/schema';
import {
  DISPATCH_TASK_QUEUE,
  GROUP_FANOUT_WORKFLOW,
  groupWorkflowId,
  messageSearchAttributes,
  messageTaskQueue,
  SEARCH_ATTRIBUTES,
  type DispatchMessageInput,
  type GroupFanoutInput,
} from '../workflows/definitions';

export type DispatchSettings = Pick<Config, 'delivery' | 'sendMaxAttempts' | 'sendInitialIntervalMs' | 'sendMaxIntervalMs'> &
  Partial<Pick<Config, 'groupBatch'>>;

export function dispatchInput(message: MessageRow, settings: DispatchSettings): DispatchMessageInput {
  const channelType = message.channelType;
  return {
    messageId: message.id,
    channelId: message.channelId,
    channelType,
    deliveryWaitSeconds: settings.delivery[channelType].waitSeconds,
    onDeliveryTimeout: settings.delivery[channelType].onTimeout,
    retry: {
      maxAttempts: settings.sendMaxAttempts,
      initialIntervalMs: settings.sendInitialIntervalMs,
      maxIntervalMs: settings.sendMaxIntervalMs,
    },
  };
}

/** Keeps enough of the address to recognise it in the Web UI, not enough to read it. */
export function maskAddress(to: string): string {
  const at = to.indexOf('@');
  if (at > 0) return `${to.slice(0, 1)}***${to.slice(at)}`;
  return to.length <= 6 ? '***' : `${to.slice(0, 4)}***${to.slice(-2)}`;
}

/**
 * Starts `message-<id>`. A first start rejects duplicates (a message that ran never runs
 * again by accident, e.g. when the outbox sweeper races the API); a start that already
 * happened counts as started ('already'). Replays pass their own reuse policy.
 */
export async function startDispatch(
  client: Client,
  message: MessageRow,
  settings: DispatchSettings,
  reusePolicy: WorkflowIdReusePolicy = 'REJECT_DUPLICATE',
): Promise<'started' | 'already'> {
  try {
    await client.workflow.start('dispatchMessage', {
      taskQueue: messageTaskQueue(message.channelType),
      workflowId: message.workflowId ?? `message-${message.id}`,
      workflowIdReusePolicy: reusePolicy,
      args: [dispatchInput(message, settings)],
      typedSearchAttributes: messageSearchAttributes({ ...message, status: message.status as MessageStatus }),
      // `replays`: which of the row's runs this is, so a sweep can tell a replay's run from an earlier one.
      memo: { trace_id: message.metadata.trace_id ?? '', replays: message.replays },
      staticSummary: `${message.channelType} to ${maskAddress(message.toAddress)}`,
      staticDetails: `message ${message.id} · channel ${message.channelId} · trace ${message.metadata.trace_id ?? '-'}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already';
    throw err;
  }
  return 'started';
}

/**
 * Starts the run a queued row waits for, as the outbox sweeper does: 'started', 'open' (a run is
 * running: it holds the row), or 'ran' (the run for this row's replay number has already run).
 * A replayed row (replays > 0) shares its workflow id with the closed run it replays: that run is
 * told apart by its memo, and the row's own run is started beside it.
 */
export async function startQueuedMessage(client: Client, message: MessageRow, settings: DispatchSettings): Promise<'started' | 'open' | 'ran'> {
  if (message.replays === 0) return (await startDispatch(client, message, settings)) === 'started' ? 'started' : 'open';
  let latest: WorkflowExecutionDescription | undefined;
  try {
    latest = await client.workflow.getHandle(message.workflowId ?? `message-${message.id}`).describe();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  if (latest?.status.name === 'RUNNING') return 'open';
  if (latest && Number(latest.memo?.replays ?? 0) >= message.replays) return 'ran';
  // ALLOW_DUPLICATE still refuses while a run is open: a replay that started one meanwhile wins.
  return (await startDispatch(client, message, settings, latest ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE')) === 'started' ? 'started' : 'open';
}

/** What every message of a group starts with but its id: computed from the config, so the fan-out workflow needs none. */
export function groupChildInput(group: GroupMessageRow, settings: DispatchSettings): GroupFanoutInput['dispatch'] {
  const asMessage = { ...group, id: '', groupMessageId: group.id } as unknown as MessageRow;
  const { messageId: _, ...rest } = dispatchInput(asMessage, settings);
  return rest;
}

/**
 * Starts `group-<id>`; a fan-out that already started (or finished) is not started again.
 * `resume` starts it from the row's recorded progress (the sweeper's restart), and then a
 * closed earlier run does not stop it: the fan-out skips what its earlier runs did.
 */
export async function startGroupFanout(client: Client, group: GroupMessageRow, settings: DispatchSettings, resume?: GroupFanoutInput['resume']): Promise<void> {
  const sa = SEARCH_ATTRIBUTES;
  const traceId = group.metadata.trace_id ?? '';
  const input: GroupFanoutInput = {
    groupId: group.id,
    mode: group.mode,
    ...(group.mode === 'batched' && settings.groupBatch ? { batch: settings.groupBatch } : {}),
    accountId: group.accountId,
    total: group.total,
    traceId,
    dispatch: groupChildInput(group, settings),
    ...(resume ? { resume } : {}),
  };
  try {
    await client.workflow.start(GROUP_FANOUT_WORKFLOW, {
      taskQueue: DISPATCH_TASK_QUEUE,
      workflowId: groupWorkflowId(group.id),
      args: [input],
      // A finished fan-out never runs again by accident: its recipients were sent. A restart
      // may follow a closed run (ALLOW_DUPLICATE still refuses while a run is open).
      workflowIdReusePolicy: resume ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: sa.accountId, value: group.accountId },
        { key: sa.channelId, value: group.channelId },
        { key: sa.channelType, value: group.channelType },
        { key: sa.groupMessageId, value: group.id },
      ],
      memo: { trace_id: traceId },
      staticSummary: `group of ${group.total} ${group.channelType} messages (${group.mode === 'batched' ? 'batched' : 'one workflow per message'})`,
      staticDetails: `group ${group.id} · channel ${group.channelId} · trace ${traceId}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

export type GroupSweepOutcome = 'running' | 'ended' | { restarted: 'never_started' | 'run_closed'; closedStatus?: string };

/**
 * Makes sure a running or paused group has its fan-out: when `group-<id>` is not running
 * (its start failed, or its run was terminated, timed out or failed), it is started again
 * from the cursor the row records. Every recipient before the cursor has its message
 * started; after it, the fan-out finds each recipient's message if it has one and starts it
 * with REJECT_DUPLICATE, so no recipient is sent twice. `reload` reads the row again once
 * the run is known closed: a run that ended the group wrote that first.
 */
export async function ensureGroupFanout(
  client: Client,
  group: GroupMessageRow,
  settings: DispatchSettings,
  reload: () => Promise<GroupMessageRow | undefined>,
): Promise<GroupSweepOutcome> {
  let closedStatus: string | undefined;
  try {
    const run = await client.workflow.getHandle(groupWorkflowId(group.id)).describe();
    if (run.status.name === 'RUNNING') return 'running';
    closedStatus = run.status.name;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const now = await reload();
  if (!now || (now.status !== 'running' && now.status !== 'paused')) return 'ended';
  await startGroupFanout(client, now, settings, {
    cursor: now.cursor,
    started: now.started,
    materialized: now.materialized,
    paused: now.status === 'paused',
    run: 1,
  });
  return { restarted: closedStatus ? 'run_closed' : 'never_started', ...(closedStatus ? { closedStatus } : {}) };
}
