import { condition, continueAsNew, proxyActivities, proxyLocalActivities, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import {
  cancelGroupSignal,
  DISPATCH_TASK_QUEUE,
  groupProgressQuery,
  messageTaskQueue,
  pauseGroupSignal,
  RATE_LIMIT_TIMER,
  resumeGroupSignal,
  type BatchRequest,
  type BatchResult,
  type BatchSettings,
  type BatchSlot,
  type GroupFanoutInput,
  type GroupFanoutResult,
  type GroupProgress,
} from './definitions';
import type { SendBatchActivities } from '../activities/batches';
import type { GroupBatchActivities, GroupBatchLocalActivities } from '../activities/groups';

// A batched group: the group's workflow sends its recipients itself, in pages, through
// sendBatch activities on its channel type's task queue. Each page's send slots are reserved
// at once on the channel's shared limiter; a wait for them is a durable, named timer. A
// recipient's row is its record (sent + provider id, or failed with the code), written by the
// batch as it goes, so a retried or resumed batch skips what is recorded. Recipients left
// unsent by transient errors or 429s are sent again by retry passes, after a backoff timer,
// until SEND_MAX_ATTEMPTS. Receipts are written to the rows by the webhook route and wake
// nothing; the channel's delivery timeout is a timer at the end.

export const DEFAULT_BATCH_SETTINGS: BatchSettings = { size: 500, inFlight: 3, concurrency: 32 };
/** Batches one run sends before it continues as new (≈ 12 events each). */
export const BATCHES_PER_RUN = 100;
/** A reserved slot nearer than this is waited for inside the batch; a farther one is a durable timer. */
const TIMER_WORTHY_WAIT_MS = 1_000;
/** A batch's timer fires this long before its first slot, for the activity's dispatch and page. */
const DISPATCH_LEAD_MS = 500;
export const DELIVERY_TIMEOUT_TIMER = 'delivery wait: recipients without a receipt become undelivered';

const groups = proxyActivities<GroupBatchActivities>({
  taskQueue: DISPATCH_TASK_QUEUE,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

const local = proxyLocalActivities<GroupBatchLocalActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds', backoffCoefficient: 2 },
});

const fmt = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '–';
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

export async function batchedFanout(input: GroupFanoutInput): Promise<GroupFanoutResult> {
  const { groupId, total } = input;
  const settings = input.batch ?? DEFAULT_BATCH_SETTINGS;
  const { channelId, channelType, retry } = input.dispatch;
  const from = input.resume ?? { cursor: 0, started: 0, materialized: 0, paused: false, run: 1 };
  const carried = from.batched ?? { sent: 0, failed: 0, retryPass: 0, sendsDone: false, deferred: 0 };
  let { sent, failed, retryPass, sendsDone, deferred } = carried;
  let retryAfterMs = 0;
  // First pass: every recipient up to `cursor` has had its first batch; `next` is the next to reserve.
  let cursor = from.cursor;
  let next = from.cursor;
  let paused = from.paused;
  let cancelled = false;
  let state: GroupProgress['state'] = paused ? 'paused' : 'running';
  setHandler(pauseGroupSignal, () => void (paused = true));
  setHandler(resumeGroupSignal, () => void (paused = false));
  setHandler(cancelGroupSignal, () => void (cancelled = true));
  setHandler(groupProgressQuery, () => ({ state, materialized: Math.max(next, cursor), started: sent + failed, cursor }));

  const runStartedAt = Date.now();
  const sentAtRunStart = sent + failed;
  const details = () => {
    const seconds = (Date.now() - runStartedAt) / 1000;
    const rate = seconds > 0 ? (sent + failed - sentAtRunStart) / seconds : 0;
    const remaining = total - sent - failed;
    const phase = sendsDone ? 'all sent' : retryPass > 0 ? `retry pass ${retryPass}` : `${fmt(cursor)}/${fmt(total)} through their first batch`;
    setCurrentDetails(
      `**${state}** · ${fmt(sent)} sent · ${fmt(failed)} failed · ${phase} · ${rate.toFixed(1)} msg/s · ETA ${eta(remaining / rate)} · run ${from.run}`,
    );
  };
  details();

  const sender = (summary: string, spanMs: number) =>
    proxyActivities<SendBatchActivities>({
      taskQueue: messageTaskQueue(channelType),
      // The batch's own pacing plus room for the provider's slowest answers; a dead worker is noticed by the heartbeat.
      startToCloseTimeout: Math.max(120_000, 3 * spanMs + 60_000),
      heartbeatTimeout: '30 seconds',
      retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
      summary,
    });

  /** Reserves up to `count` slots; a refusal (daily limit, horizon) sleeps on a durable timer and asks again. */
  const reserve = async (count: number, unsentAfter?: number): Promise<BatchSlot | undefined> => {
    for (;;) {
      const slot = await local.reserveBatchSlots(channelId, channelType, count, unsentAfter === undefined ? undefined : { groupId, afterSeq: unsentAfter });
      if (slot.reserved) return slot;
      state = 'running';
      setCurrentDetails(`**running** · rate limited (${slot.reason ?? 'channel rate'}): waiting ${slot.waitMs} ms`);
      await sleep(slot.waitMs, { summary: RATE_LIMIT_TIMER });
      if (paused || cancelled) return undefined;
    }
  };

  const runBatch = async (
    request: Omit<BatchRequest, 'startAtMs' | 'intervalMs' | 'concurrency' | 'retry' | 'cursorThrough'>,
    slot: BatchSlot,
    summary: string,
  ): Promise<BatchResult> => {
    // Woken a little before the first slot: the batch waits the rest itself, on time.
    const wait = slot.startAtMs - Date.now() - DISPATCH_LEAD_MS;
    if (wait >= TIMER_WORTHY_WAIT_MS) await sleep(wait, { summary: RATE_LIMIT_TIMER });
    const result = await sender(summary, slot.count * slot.intervalMs).sendBatch({
      ...request,
      startAtMs: slot.startAtMs,
      intervalMs: slot.intervalMs,
      concurrency: settings.concurrency,
      retry,
      cursorThrough: cursor,
    });
    sent += result.sent;
    failed += result.failed;
    deferred += result.deferred;
    retryAfterMs = Math.max(retryAfterMs, result.retryAfterMs);
    return result;
  };

  let batchesThisRun = 0;
  const lanes = new Set<number>();
  const idle = () => lanes.size === 0;
  // A batch that fails for good (its group is gone) fails the fan-out, from the main loop.
  let laneError: Error | undefined;

  const stopForNow = async (): Promise<'cancelled' | 'resumed'> => {
    await condition(idle);
    if (cancelled) return 'cancelled';
    state = 'paused';
    details();
    await groups.pauseGroupFanout(groupId, cursor);
    await condition(() => !paused || cancelled);
    if (cancelled) return 'cancelled';
    state = 'running';
    details();
    await groups.resumeGroupFanout(groupId);
    return 'resumed';
  };

  const continueRun = () =>
    continueAsNew<(i: GroupFanoutInput) => Promise<GroupFanoutResult>>({
      ...input,
      resume: { cursor, started: sent + failed, materialized: cursor, paused, run: from.run + 1, batched: { sent, failed, retryPass, sendsDone, deferred } },
    });

  while (!sendsDone) {
    if (laneError !== undefined) throw laneError;
    if (cancelled || paused) {
      if ((await stopForNow()) === 'cancelled') break;
      continue;
    }
    if (batchesThisRun >= BATCHES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(idle);
      if (paused || cancelled) continue;
      return continueRun();
    }

    if (retryPass === 0) {
      if (next >= total) {
        await condition(() => idle() || paused || cancelled);
        if (!idle()) continue;
        // Then a retry pass, which ends at once when nothing is left unsent (a run restarted by the
        // sweeper does not know what its predecessors deferred, so it always looks).
        cursor = total;
        retryPass = 1;
        details();
        continue;
      }
      await condition(() => lanes.size < settings.inFlight || paused || cancelled || laneError !== undefined);
      if (paused || cancelled || laneError !== undefined) continue;
      const slot = await reserve(Math.min(settings.size, total - next));
      if (!slot) continue;
      const afterSeq = next;
      next += slot.count;
      lanes.add(afterSeq);
      batchesThisRun++;
      const range = slot.count > 1 ? `recipients ${fmt(afterSeq + 1)}–${fmt(afterSeq + slot.count)}` : `recipient ${fmt(afterSeq + 1)}`;
      void runBatch({ groupId, pass: 'first', afterSeq, limit: slot.count }, slot, `send: ${range}`)
        .catch((err: unknown) => void (laneError = err instanceof Error ? err : new Error(String(err))))
        .finally(() => {
          lanes.delete(afterSeq);
          cursor = lanes.size > 0 ? Math.min(...lanes) : next;
          details();
        });
      continue;
    }

    // A retry pass: after its backoff, every recipient still unsent, page after page, in seq order.
    if (deferred > 0) {
      const backoff = Math.min(retry.maxIntervalMs, Math.max(retryAfterMs, retry.initialIntervalMs * 2 ** (retryPass - 1)));
      setCurrentDetails(`**running** · ${fmt(deferred)} recipients to retry: waiting ${backoff} ms`);
      await sleep(backoff, { summary: `retry pass ${retryPass}: waiting before sending again` });
    }
    deferred = 0;
    retryAfterMs = 0;
    let after = 0;
    let looked = 0;
    for (;;) {
      if (paused || cancelled) break;
      const slot = await reserve(settings.size, after);
      if (!slot || slot.count === 0) break;
      batchesThisRun++;
      const r = await runBatch(
        { groupId, pass: 'retry', afterSeq: after, limit: slot.count },
        slot,
        `retry pass ${retryPass}: ${fmt(slot.count)} unsent recipients after ${fmt(after)}`,
      );
      looked += r.recipients;
      after = r.throughSeq;
      if (r.recipients < slot.count) break;
    }
    if (paused || cancelled) continue;
    if (looked === 0 || deferred === 0) sendsDone = true;
    else retryPass++;
    details();
  }

  if (cancelled) {
    await groups.cancelGroupFanout(groupId, cursor);
    state = 'cancelled';
    details();
    return { state, started: sent + failed, runs: from.run };
  }

  await groups.completeGroupFanout(groupId);
  state = 'completed';
  details();
  // The channel's delivery timeout, for rows that have no workflow of their own to keep it.
  if (input.dispatch.onDeliveryTimeout === 'undelivered') {
    for (;;) {
      const r = await groups.expireBatchedDeliveries(groupId, input.dispatch.deliveryWaitSeconds);
      if (r.nextDueInMs === null) break;
      await sleep(Math.max(1_000, r.nextDueInMs), { summary: DELIVERY_TIMEOUT_TIMER });
    }
  }
  return { state, started: sent + failed, runs: from.run };
}
