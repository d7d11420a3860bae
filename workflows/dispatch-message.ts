import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { MessageStatus } from '../adapters/types';
import {
  deliveryStatusSignal,
  DISPATCH_TASK_QUEUE,
  isFinal,
  RATE_LIMIT_TIMER,
  SEARCH_ATTRIBUTES,
  SEND_ERROR_TYPES,
  sendTaskQueue,
  STATUS_RANK,
  statusQuery,
  type DeliveryStatus,
  type DispatchMessageInput,
  type DispatchMessageResult,
  type SendFailureDetails,
} from './definitions';

const record = proxyActivities<Pick<Activities, 'recordStatus' | 'recordFailure'>>({
  taskQueue: DISPATCH_TASK_QUEUE,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

// A local activity: one marker event instead of three, on the hot path of every message.
const limiter = proxyLocalActivities<Pick<Activities, 'reserveSendSlot'>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds', backoffCoefficient: 2 },
});

/**
 * One outbound message: send it (durable retries), then wait for delivery
 * receipts until a final status or the delivery wait runs out.
 */
export async function dispatchMessage(input: DispatchMessageInput): Promise<DispatchMessageResult> {
  let status: MessageStatus = 'queued';
  let providerMessageId: string | undefined;
  // Receipts may arrive before the send returns (the provider raced us); they wait here, in history.
  const inbox: DeliveryStatus[] = [];
  setHandler(deliveryStatusSignal, (update) => {
    inbox.push(update);
  });
  setHandler(statusQuery, () => status);

  const moveTo = (next: MessageStatus, detail: string): void => {
    status = next;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.messageStatus, value: next }]);
    setCurrentDetails(`**${next}** · ${detail}`);
  };

  const { sendMessage } = proxyActivities<Pick<Activities, 'sendMessage'>>({
    taskQueue: sendTaskQueue(input.channelType),
    startToCloseTimeout: '30 seconds',
    retry: {
      maximumAttempts: input.retry.maxAttempts,
      initialInterval: input.retry.initialIntervalMs,
      maximumInterval: input.retry.maxIntervalMs,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: [SEND_ERROR_TYPES.permanent],
    },
  });

  // Wait for this message's slot on the channel's shared limiter; the sleep is durable and
  // shows in the UI as a timer.
  for (;;) {
    const slot = await limiter.reserveSendSlot(input.channelId, input.channelType);
    if (slot.waitMs <= 0) break;
    setCurrentDetails(`**${status}** · rate limited (${slot.reason ?? 'channel rate'}): waiting ${slot.waitMs} ms`);
    await sleep(slot.waitMs, { summary: RATE_LIMIT_TIMER });
    if (slot.reserved) break;
  }

  try {
    const sent = await sendMessage(input.messageId);
    providerMessageId = sent.providerMessageId;
    inbox.push(...sent.early);
    moveTo('sent', `provider id ${sent.providerMessageId}`);
  } catch (err) {
    const failure = sendFailure(err);
    await record.recordFailure(input.messageId, failure, input.channelType);
    moveTo('failed', `${failure.code}: ${failure.message}`);
    throw ApplicationFailure.nonRetryable(`send failed (${failure.code}): ${failure.message}`, 'MessageSendFailed', failure);
  }

  // Applies the highest receipt waiting in the inbox, if it moves the message forward.
  const applyInbox = async (): Promise<void> => {
    const best = inbox.splice(0).reduce<DeliveryStatus | undefined>(
      (acc, u) => (STATUS_RANK[u.status] > STATUS_RANK[acc?.status ?? status] ? u : acc),
      undefined,
    );
    if (!best) return;
    await record.recordStatus(input.messageId, best, input.channelType);
    moveTo(best.status, best.errorCode ? `error ${best.errorCode}` : `at ${best.occurredAt}`);
  };

  const deadline = Date.now() + input.deliveryWaitSeconds * 1000;
  let timedOut = false;
  while (!isFinal(status)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || !(await condition(() => inbox.length > 0, remaining, { summary: 'waiting for a delivery receipt' }))) {
      timedOut = true;
      break;
    }
    await applyInbox();
  }
  // A receipt that arrived with the last one (e.g. read right after delivered) is not dropped.
  await applyInbox();
  if (timedOut && !isFinal(status) && input.onDeliveryTimeout === 'undelivered') {
    const update: DeliveryStatus = { status: 'undelivered', errorCode: 'delivery_timeout', errorMessage: `no receipt within ${input.deliveryWaitSeconds} s`, occurredAt: new Date().toISOString() };
    await record.recordStatus(input.messageId, update, input.channelType);
    moveTo('undelivered', 'no delivery receipt in time');
  }
  return { status, providerMessageId };
}

function sendFailure(err: unknown): SendFailureDetails {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const d = cause.details?.[0] as Partial<SendFailureDetails> | undefined;
    return { code: d?.code ?? cause.type ?? 'unknown', message: d?.message ?? cause.message };
  }
  if (cause instanceof Error) return { code: cause.name, message: cause.message };
  return { code: 'unknown', message: `send failed in ${workflowInfo().workflowId}` };
}
