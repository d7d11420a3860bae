import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowIdReusePolicy } from '@temporalio/client';
import type { ChannelType } from '../adapters/types';
import type { Config } from '../config';
import type { MessageRow } from '../db/schema';
import { DISPATCH_TASK_QUEUE, SEARCH_ATTRIBUTES, type DispatchMessageInput } from '../workflows/definitions';

export type DispatchSettings = Pick<Config, 'delivery' | 'sendMaxAttempts' | 'sendInitialIntervalMs' | 'sendMaxIntervalMs'>;

export function dispatchInput(message: MessageRow, settings: DispatchSettings): DispatchMessageInput {
  const channelType = message.channelType as ChannelType;
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
  const sa = SEARCH_ATTRIBUTES;
  try {
    await client.workflow.start('dispatchMessage', {
      taskQueue: DISPATCH_TASK_QUEUE,
      workflowId: message.workflowId ?? `message-${message.id}`,
      workflowIdReusePolicy: reusePolicy,
      args: [dispatchInput(message, settings)],
      typedSearchAttributes: [
        { key: sa.accountId, value: message.accountId },
        { key: sa.channelId, value: message.channelId },
        { key: sa.channelType, value: message.channelType },
        { key: sa.messageStatus, value: message.status },
        ...(message.groupMessageId ? [{ key: sa.groupMessageId, value: message.groupMessageId }] : []),
      ],
      memo: { trace_id: message.metadata.trace_id ?? '' },
      staticSummary: `${message.channelType} to ${maskAddress(message.toAddress)}`,
      staticDetails: `message ${message.id} · channel ${message.channelId} · trace ${message.metadata.trace_id ?? '-'}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already';
    throw err;
  }
  return 'started';
}
