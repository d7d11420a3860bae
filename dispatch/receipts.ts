import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { StatusUpdate } from '../adapters/types';
import type { Db } from '../db/client';
import { deletePendingSignal, duePendingSignals, pendingSignalCount, postponePendingSignal, storePendingSignal } from '../db/pending-signals';
import { advanceStatusFrom, applyReceipt, findMessageByProviderId, messagesUpToWatermark, type ReceiptApplied } from '../db/messages';
import { storePendingStatus } from '../db/pending-receipts';
import type { ChannelRow } from '../db/schema';
import { isFinal, STATUS_RANK } from '../lifecycle';
import type { Metrics } from '../observability/metrics';
import { deliveryStatusSignal, messageWorkflowId, type DeliveryStatus } from '../workflows/definitions';

/**
 * What became of one status update:
 * - applied: written to the row (the workflow needs no word of it, or has ended);
 * - signalling: written, and the signal to the waiting workflow on its way (it leaves the request;
 *   onSignal reports what became of it);
 * - deferred: written, and the signal kept for the sweeper (Temporal did not take the last one in time);
 * - pending: the message is not known yet by that provider id: kept for the send to apply;
 * - stale: the row already says as much or more; unmatched: no such message on this channel.
 */
export type ReceiptOutcome = 'applied' | 'signalling' | 'deferred' | 'pending' | 'unmatched' | 'stale';

export interface ReceiptDeps {
  db: Db;
  temporal: Client;
  metrics: Pick<Metrics, 'messagesDispatched'>;
  /** How long a webhook waits for Temporal to take a signal before keeping it for the sweeper. */
  signalTimeoutMs?: number;
  /** After a signal Temporal did not take, how long receipts skip the attempt and go straight to the sweeper. */
  signalBackoffMs?: number;
  /** Signals sent at once; more wait in memory, up to maxSignalsQueued, then go to pending_signals. */
  maxSignalsInFlight?: number;
  maxSignalsQueued?: number;
  /**
   * What became of a signal that left its request: taken by the workflow, not needed (it had
   * ended), kept in pending_signals for the sweeper, or lost (Temporal and PostgreSQL both
   * failing: the workflow reads the row at its deadline).
   */
  onSignal?: (messageId: string, result: 'signalled' | 'closed' | 'kept' | 'lost', err?: unknown) => void;
}

export interface ReceiptResult {
  outcome: ReceiptOutcome;
  messageId?: string;
  traceId?: string;
}

const DEFAULT_SIGNAL_TIMEOUT_MS = 2_000;
const DEFAULT_SIGNAL_BACKOFF_MS = 5_000;
const DEFAULT_MAX_SIGNALS_IN_FLIGHT = 4;
const DEFAULT_MAX_SIGNALS_QUEUED = 10_000;

/**
 * Receipts are written where they arrive: the forward-only statement on the message's row
 * (the row and its message_events are the record), then, only for a status that ends the
 * wait, a plain signal to the message's workflow (never signalWithStart: a finished message
 * must not run again), sent after the answer. A webhook never fails or waits because Temporal
 * is slow or down.
 */
export function createReceipts(deps: ReceiptDeps) {
  const { db, temporal, metrics } = deps;
  const signalTimeoutMs = deps.signalTimeoutMs ?? DEFAULT_SIGNAL_TIMEOUT_MS;
  const signalBackoffMs = deps.signalBackoffMs ?? DEFAULT_SIGNAL_BACKOFF_MS;
  const maxInFlight = deps.maxSignalsInFlight ?? DEFAULT_MAX_SIGNALS_IN_FLIGHT;
  const maxQueued = deps.maxSignalsQueued ?? DEFAULT_MAX_SIGNALS_QUEUED;
  // While Temporal is unreachable every webhook would wait out the deadline: one failure sends
  // the receipts of the next few seconds straight to the sweeper, so the route keeps answering fast.
  let skipSignalsUntil = 0;

  const signal = async (messageId: string, update: DeliveryStatus): Promise<'signalled' | 'closed'> => {
    try {
      await temporal.withDeadline(Date.now() + signalTimeoutMs, () =>
        temporal.workflow.getHandle(messageWorkflowId(messageId)).signal(deliveryStatusSignal, update),
      );
      return 'signalled';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'closed';
      throw err;
    }
  };

  // The provider's time (often to the minute) is kept as given; the statement times the status by
  // it, else by the arrival, and never before the row's previous status.
  const change = (update: StatusUpdate) => ({
    status: update.status,
    at: new Date(),
    providerTime: update.occurredAt,
    errorCode: update.errorCode,
    errorMessage: update.errorMessage,
    source: 'webhook' as const,
  });

  const apply = async (messageId: string, update: StatusUpdate, channelType: string): Promise<ReceiptOutcome> =>
    applied(messageId, update, channelType, await advanceStatusFrom(db, messageId, change(update)));

  /** What follows a receipt's write: `previous` is the status the row moved from, undefined when it did not move. */
  const applied = async (
    messageId: string,
    update: StatusUpdate,
    channelType: string,
    { previous, awaitsReceipt }: Pick<ReceiptApplied, 'previous' | 'awaitsReceipt'>,
  ): Promise<ReceiptOutcome> => {
    if (previous === undefined) return 'stale';
    metrics.messagesDispatched.inc({ channel_type: channelType, status: update.status });
    // Only the receipt that ends the wait wakes the workflow: a `read` after `delivered` moves the row, not it.
    // No workflow waits while the send is in flight (its result carries the row's status), nor for
    // a batched group's recipient (the row is all there is).
    if (!awaitsReceipt || !isFinal(update.status) || isFinal(previous)) return 'applied';
    const wake: DeliveryStatus = {
      status: update.status,
      providerMessageId: update.providerMessageId || undefined,
      errorCode: update.errorCode,
      errorMessage: update.errorMessage,
      occurredAt: (update.occurredAt ?? new Date()).toISOString(),
    };
    if (Date.now() >= skipSignalsUntil && queue.length < maxQueued) {
      queue.push({ messageId, wake });
      pump();
      return 'signalling';
    }
    await keep(messageId, wake);
    return 'deferred';
  };

  // The signal leaves the request: the webhook answers once the row holds the receipt, and a
  // bounded number of signals are in flight. One that Temporal does not take goes to
  // pending_signals for the sweeper; a process that dies with signals queued loses only the
  // wake-up, as the workflow reads the row at its deadline.
  const queue: { messageId: string; wake: DeliveryStatus }[] = [];
  let inFlight = 0;
  let idle: (() => void)[] = [];
  const keep = (messageId: string, wake: DeliveryStatus) =>
    storePendingSignal(db, {
      messageId,
      status: wake.status,
      occurredAt: new Date(wake.occurredAt),
      errorCode: wake.errorCode,
      errorMessage: wake.errorMessage,
    });
  const pump = (): void => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const next = queue.shift();
      if (!next) break;
      inFlight++;
      const send = Date.now() >= skipSignalsUntil ? signal(next.messageId, next.wake) : Promise.reject(new Error('signals paused'));
      void send
        .then(
          (result) => deps.onSignal?.(next.messageId, result),
          async (failure: unknown) => {
            skipSignalsUntil = Math.max(skipSignalsUntil, Date.now() + signalBackoffMs);
            await keep(next.messageId, next.wake).then(
              () => deps.onSignal?.(next.messageId, 'kept', failure),
              (err: unknown) => deps.onSignal?.(next.messageId, 'lost', err),
            );
          },
        )
        .finally(() => {
          inFlight--;
          pump();
          if (inFlight === 0 && queue.length === 0) {
            for (const resolve of idle) resolve();
            idle = [];
          }
        });
    }
  };
  /** Resolves once every queued signal was delivered or kept: the route's close waits for it. */
  const drain = (): Promise<void> => (inFlight === 0 && queue.length === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve)));

  /** Correlates one status update with its message(s) on this channel and applies it. */
  const deliver = async (channel: ChannelRow, update: StatusUpdate): Promise<ReceiptResult[]> => {
    if (update.watermark) {
      const ids = await messagesUpToWatermark(db, channel.id, update.watermark.recipient, update.watermark.upTo, update.status);
      return Promise.all(ids.map(async (id) => ({ outcome: await apply(id, update, channel.channelType), messageId: id })));
    }
    // The common case in one round trip: the message named by our id, or found by the
    // provider's among the recent months, and written.
    const target = update.messageId ? { messageId: update.messageId } : update.providerMessageId ? { providerMessageId: update.providerMessageId } : undefined;
    let hit = target ? await applyReceipt(db, channel.id, target, change(update)) : undefined;
    if (!hit && !update.messageId && update.providerMessageId) {
      // A receipt for a message of an older month.
      const older = await findMessageByProviderId(db, channel.id, update.providerMessageId, new Date(), { olderOnly: true });
      if (older) hit = await applyReceipt(db, channel.id, { messageId: older.id }, change(update));
    }
    if (hit) {
      const found = { messageId: hit.id, traceId: hit.traceId };
      // Duplicates and late, lower statuses are the common case under provider retries: the row
      // already said as much or more, so neither the workflow nor the row changed.
      if (STATUS_RANK[hit.seen] >= STATUS_RANK[update.status]) return [{ outcome: 'stale', ...found }];
      return [{ outcome: await applied(hit.id, update, channel.channelType, hit), ...found }];
    }
    // By our id, a miss is a message of another channel or none at all.
    if (update.messageId) return [{ outcome: 'unmatched' }];
    if (!update.providerMessageId) return [{ outcome: 'unmatched' }];
    // The provider called back before our send recorded its id: keep it for the send to apply.
    await storePendingStatus(db, channel.id, { ...change(update), providerMessageId: update.providerMessageId });
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

  return { deliver, deliverPendingSignals, drain };
}

export type Receipts = ReturnType<typeof createReceipts>;
