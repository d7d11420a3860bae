import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { MessageStatus, StatusUpdate } from '../adapters/types';
import type { Db } from '../db/client';
import { deletePendingSignal, duePendingSignals, pendingSignalCount, postponePendingSignal, storePendingSignal } from '../db/pending-signals';
import { advanceStatusFrom, findMessageByProviderId, getMessage, messagesUpToWatermark, storePendingStatus } from '../db/repo';
import type { ChannelRow } from '../db/schema';
import type { Metrics } from '../observability/metrics';
import { deliveryStatusSignal, isFinal, messageWorkflowId, STATUS_RANK, type DeliveryStatus } from '../workflows/definitions';

/**
 * What became of one status update:
 * - applied: written to the row (the workflow needs no word of it, or has ended);
 * - signalled: written, and the waiting workflow woken;
 * - deferred: written, and the signal kept for the sweeper (Temporal did not take it in time);
 * - pending: the message is not known yet by that provider id: kept for the send to apply;
 * - stale: the row already says as much or more; unmatched: no such message on this channel.
 */
export type ReceiptOutcome = 'applied' | 'signalled' | 'deferred' | 'pending' | 'unmatched' | 'stale';

export interface ReceiptDeps {
  db: Db;
  temporal: Client;
  metrics: Pick<Metrics, 'messagesDispatched'>;
  /** How long a webhook waits for Temporal to take a signal before keeping it for the sweeper. */
  signalTimeoutMs?: number;
  /** After a signal Temporal did not take, how long receipts skip the attempt and go straight to the sweeper. */
  signalBackoffMs?: number;
}

export interface ReceiptResult {
  outcome: ReceiptOutcome;
  messageId?: string;
  traceId?: string;
}

const DEFAULT_SIGNAL_TIMEOUT_MS = 2_000;
const DEFAULT_SIGNAL_BACKOFF_MS = 5_000;

/**
 * Receipts are written where they arrive: the forward-only statement on the message's row
 * (the row and its message_events are the record), then, only for a status that ends the
 * wait, a plain signal to the message's workflow (never signalWithStart: a finished message
 * must not run again). A webhook never fails because Temporal is slow or down.
 */
export function createReceipts(deps: ReceiptDeps) {
  const { db, temporal, metrics } = deps;
  const signalTimeoutMs = deps.signalTimeoutMs ?? DEFAULT_SIGNAL_TIMEOUT_MS;
  const signalBackoffMs = deps.signalBackoffMs ?? DEFAULT_SIGNAL_BACKOFF_MS;
  // While Temporal is unreachable every webhook would wait out the deadline: one failure sends
  // the receipts of the next few seconds straight to the sweeper, so the route keeps answering fast.
  let skipSignalsUntil = 0;

  const signal = async (messageId: string, update: DeliveryStatus): Promise<'signalled' | 'closed'> => {
    try {
      await temporal.withDeadline(Date.now() + signalTimeoutMs, () => temporal.workflow.getHandle(messageWorkflowId(messageId)).signal(deliveryStatusSignal, update));
      return 'signalled';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'closed';
      throw err;
    }
  };

  const apply = async (messageId: string, update: StatusUpdate, channelType: string): Promise<ReceiptOutcome> => {
    const previous = await advanceStatusFrom(db, messageId, {
      status: update.status,
      at: update.occurredAt,
      errorCode: update.errorCode,
      errorMessage: update.errorMessage,
      source: 'webhook',
    });
    if (previous === undefined) return 'stale';
    metrics.messagesDispatched.inc({ channel_type: channelType, status: update.status });
    // Only the receipt that ends the wait wakes the workflow: a `read` after `delivered` moves the row, not it.
    if (!isFinal(update.status) || isFinal(previous)) return 'applied';
    const wake: DeliveryStatus = {
      status: update.status,
      providerMessageId: update.providerMessageId || undefined,
      errorCode: update.errorCode,
      errorMessage: update.errorMessage,
      occurredAt: update.occurredAt.toISOString(),
    };
    if (Date.now() >= skipSignalsUntil) {
      try {
        return (await signal(messageId, wake)) === 'signalled' ? 'signalled' : 'applied';
      } catch {
        skipSignalsUntil = Date.now() + signalBackoffMs;
      }
    }
    // The row already holds the receipt; the sweeper signals it, and the workflow reads the
    // row at its deadline at the latest.
    await storePendingSignal(db, { messageId, status: update.status, occurredAt: update.occurredAt, errorCode: update.errorCode, errorMessage: update.errorMessage });
    return 'deferred';
  };

  /** Correlates one status update with its message(s) on this channel and applies it. */
  const deliver = async (channel: ChannelRow, update: StatusUpdate): Promise<ReceiptResult[]> => {
    if (update.watermark) {
      const ids = await messagesUpToWatermark(db, channel.id, update.watermark.recipient, update.watermark.upTo, update.status);
      return Promise.all(ids.map(async (id) => ({ outcome: await apply(id, update, channel.channelType), messageId: id })));
    }
    const message = update.messageId ? await getMessage(db, update.messageId) : await findMessageByProviderId(db, channel.id, update.providerMessageId);
    if (message && message.channelId !== channel.id) return [{ outcome: 'unmatched' }];
    if (message) {
      const found = { messageId: message.id, traceId: message.metadata.trace_id };
      // Duplicates and late, lower statuses are the common case under provider retries: the row
      // already says as much or more, so neither the workflow nor the row would change.
      if (STATUS_RANK[message.status as MessageStatus] >= STATUS_RANK[update.status]) return [{ outcome: 'stale', ...found }];
      return [{ outcome: await apply(message.id, update, channel.channelType), ...found }];
    }
    if (update.messageId || !update.providerMessageId) return [{ outcome: 'unmatched' }];
    // The provider called back before our send recorded its id: keep it for the send to apply.
    await storePendingStatus(db, channel.id, {
      providerMessageId: update.providerMessageId,
      status: update.status,
      at: update.occurredAt,
      errorCode: update.errorCode,
      errorMessage: update.errorMessage,
    });
    return [{ outcome: 'pending' }];
  };

  /** Delivers signals the webhook route could not; a workflow that has ended needs none. */
  const deliverPendingSignals = async (limit: number): Promise<{ delivered: number; remaining: number }> => {
    let delivered = 0;
    for (const p of await duePendingSignals(db, limit)) {
      try {
        await signal(p.messageId, {
          status: p.status,
          errorCode: p.errorCode,
          errorMessage: p.errorMessage,
          occurredAt: p.occurredAt.toISOString(),
        });
        await deletePendingSignal(db, p.messageId);
        delivered++;
      } catch {
        await postponePendingSignal(db, p.messageId, p.attempts);
      }
    }
    return { delivered, remaining: await pendingSignalCount(db) };
  };

  return { deliver, deliverPendingSignals };
}

export type Receipts = ReturnType<typeof createReceipts>;
