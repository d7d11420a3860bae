import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  proxyLocalActivities,
  sleep,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { isFinal, STATUS_RANK, type MessageStatus } from '../lifecycle';
import {
  deliveryStatusSignal,
  RATE_LIMIT_TIMER,
  SEARCH_ATTRIBUTES,
  SEND_ERROR_TYPES,
  statusQuery,
  type DeliveryStatus,
  type DispatchMessageInput,
  type DispatchMessageResult,
  type SendFailureDetails,
} from './definitions';

// Local activities: each is one marker event in the workflow task that runs it, instead of
// three events and a workflow task of its own. The workflow runs on its channel type's task
// queue (messageTaskQueue), so a hanging provider fills only its own type's worker slots.
const local = proxyLocalActivities<Pick<Activities, 'reserveSendSlot' | 'recordFailure' | 'recordStatus' | 'readStatus'>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds', backoffCoefficient: 2 },
});

/** Send retries waiting longer than this wait on a workflow timer. */
export const SEND_LOCAL_RETRY_THRESHOLD = '1 second';

const rank = (status: MessageStatus): number => STATUS_RANK[status];
/** Status only moves forward. */
const higher = (current: MessageStatus, next: MessageStatus | undefined): MessageStatus => (next && rank(next) > rank(current) ? next : current);

/**
 * One outbound message: reserve a send slot (durable sleeps when refused), send it (durable
 * retries), then wait for the webhook route's signal that a final receipt is on the row, until
 * the delivery wait runs out. A delivered message costs two workflow tasks: one that reserves
 * and sends, one that takes the receipt and completes.
 */
export async function dispatchMessage(input: DispatchMessageInput): Promise<DispatchMessageResult> {
  let status: MessageStatus = 'queued';
  let providerMessageId: string | undefined;
  // The best final receipt signalled so far; it may arrive before the send returns (the provider raced us).
  let receipt: DeliveryStatus | undefined;
  setHandler(deliveryStatusSignal, (update) => {
    if (!receipt || rank(update.status) > rank(receipt.status)) receipt = update;
  });
  setHandler(statusQuery, () => status);
  // MessageStatus is `queued` from the start and set once, here, at the end: Running = in flight.
  const finish = (detail: string): void => {
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.messageStatus, value: status }]);
    setCurrentDetails(`**${status}** · ${detail}`);
  };

  const { sendMessage } = proxyLocalActivities<Pick<Activities, 'sendMessage'>>({
    startToCloseTimeout: '30 seconds',
    // A backoff longer than this is a durable timer in the history (visible, survives a worker
    // restart, holds no worker slot) instead of a sleep inside the worker.
    localRetryThreshold: SEND_LOCAL_RETRY_THRESHOLD,
    retry: {
      maximumAttempts: input.retry.maxAttempts,
      initialInterval: input.retry.initialIntervalMs,
      maximumInterval: input.retry.maxIntervalMs,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: [SEND_ERROR_TYPES.permanent],
    },
  });

  // Wait for this message's slot on the channel's shared limiter; the sleep is durable and
  // shows in the UI as a named timer.
  for (;;) {
    const slot = await local.reserveSendSlot(input.channelId, input.channelType);
    if (slot.waitMs <= 0) break;
    setCurrentDetails(`**${status}** · rate limited (${slot.reason ?? 'channel rate'}): waiting ${slot.waitMs} ms`);
    await sleep(slot.waitMs, { summary: RATE_LIMIT_TIMER });
    if (slot.reserved) break;
  }

  try {
    const sent = await sendMessage(input.messageId);
    providerMessageId = sent.providerMessageId;
    // The send recorded `sent` on the row and applied any receipt that came before it.
    status = higher(status, sent.status);
    setCurrentDetails(`**${status}** · provider id ${sent.providerMessageId}`);
  } catch (err) {
    const failure = sendFailure(err);
    await local.recordFailure(input.messageId, failure, input.channelType);
    status = 'failed';
    finish(`${failure.code}: ${failure.message}`);
    throw ApplicationFailure.nonRetryable(`send failed (${failure.code}): ${failure.message}`, 'MessageSendFailed', failure);
  }

  let detail = `provider id ${providerMessageId}`;
  if (
    !isFinal(status) &&
    !(await condition(() => receipt !== undefined && isFinal(receipt.status), input.deliveryWaitSeconds * 1000, { summary: 'waiting for a delivery receipt' }))
  ) {
    // Before giving up, the row: it is the record, and a receipt's signal may have been lost
    // or be waiting in the sweeper while Temporal was unreachable.
    status = higher(status, await local.readStatus(input.messageId));
    if (!isFinal(status) && input.onDeliveryTimeout === 'undelivered') {
      const update: DeliveryStatus = {
        status: 'undelivered',
        errorCode: 'delivery_timeout',
        errorMessage: `no receipt within ${input.deliveryWaitSeconds} s`,
        occurredAt: new Date().toISOString(),
      };
      // The row's status after the attempt: a receipt written just now outranks the timeout.
      status = higher(status, await local.recordStatus(input.messageId, update, input.channelType));
      detail = status === 'undelivered' ? 'no delivery receipt in time' : detail;
    }
  }
  if (receipt) {
    status = higher(status, receipt.status);
    if (receipt.status === status) detail = receipt.errorCode ? `error ${receipt.errorCode}` : `at ${receipt.occurredAt}`;
  }
  finish(detail);
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
