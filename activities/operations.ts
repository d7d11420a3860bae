import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { AdapterRegistry } from '../adapters/registry';
import type { Db } from '../db/client';
import { countReplayCandidates, outboxCount, outboxMessages, replayCandidates, type ReplayFilter } from '../db/replay';
import { getChannel } from '../db/channels';
import { markWorkflowStarted } from '../db/messages';
import { replayMessage } from '../dispatch/replay';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { createReceipts } from '../dispatch/receipts';
import { ensureGroupFanout, startQueuedMessage, type DispatchSettings } from '../dispatch/start';
import { getGroup, markGroupWorkflowStarted, unmovedGroups } from '../db/groups';

export interface OperationDeps {
  db: Db;
  temporal: Client;
  adapters: AdapterRegistry;
  dispatch: DispatchSettings;
  logger: Logger;
  metrics: Metrics;
}

export interface ReplayPage {
  ids: string[];
  replayed: number;
  lastId: string | undefined;
  /** Channel send rate, so the replay workflow can pace itself. */
  perSecond: number;
}

export function createOperationActivities(deps: OperationDeps) {
  const { db, metrics, logger } = deps;
  const receipts = createReceipts({ db, temporal: deps.temporal, metrics });
  return {
    countReplay: async (filter: ReplayFilter): Promise<number> => countReplayCandidates(db, filter),

    replayPage: async (filter: ReplayFilter, afterId: string | undefined, limit: number): Promise<ReplayPage> => {
      const ids = await replayCandidates(db, filter, afterId, limit);
      let replayed = 0;
      for (const id of ids) {
        if ((await replayMessage(deps, id, filter.accountId, `replay:${Context.current().info.workflowExecution?.workflowId ?? 'api'}`)) === 'replayed')
          replayed++;
        Context.current().heartbeat(id);
      }
      let perSecond = 100;
      if (filter.channelId) {
        const channel = await getChannel(db, filter.channelId);
        if (channel) perSecond = channel.rateLimitPerSecond ?? deps.adapters.get(channel.channelType, channel.provider).defaultRateLimitPerSecond;
      }
      return { ids, replayed, lastId: ids.at(-1), perSecond };
    },

    /** Starts workflows for accepted messages whose start was never acknowledged. */
    sweepOutbox: async (olderThanSeconds: number, limit: number): Promise<{ started: number; pending: number }> => {
      const stuck = await outboxMessages(db, new Date(Date.now() - olderThanSeconds * 1000), OUTBOX_LOOKBACK_DAYS, limit);
      let started = 0;
      for (const message of stuck) {
        const outcome = await startQueuedMessage(deps.temporal, message, deps.dispatch);
        await markWorkflowStarted(db, message.id);
        if (outcome === 'started') started++;
        // The run for this row's replay closed without moving it (terminated before it sent): an operator's case.
        if (outcome === 'ran')
          logger.warn({
            event: 'outbox_run_closed',
            message_id: message.id,
            run: message.replays,
            reason: 'the run for this replay closed and left the row queued',
          });
        logger.info({
          event: 'outbox_started',
          message_id: message.id,
          channel_type: message.channelType,
          trace_id: message.metadata.trace_id,
          run: message.replays,
          outcome,
        });
      }
      const pending = await outboxCount(db, OUTBOX_LOOKBACK_DAYS);
      metrics.outboxPending.set(pending);
      // Receipts already on their rows whose signal the webhook route could not deliver.
      const signals = await receipts.deliverPendingSignals(limit);
      if (signals.delivered > 0 || signals.remaining > 0)
        logger.info({ event: 'pending_signals_swept', delivered: signals.delivered, remaining: signals.remaining });
      return { started, pending };
    },

    /**
     * Restarts the fan-out of every running or paused group whose row has not moved for
     * `olderThanSeconds` and whose workflow is not running (its start failed, or its run was
     * terminated): group messages are not in the outbox, their group's fan-out starts them.
     */
    sweepGroups: async (olderThanSeconds: number, limit: number): Promise<{ checked: number; restarted: number }> => {
      const olderThan = new Date(Date.now() - olderThanSeconds * 1000);
      let checked = 0;
      let restarted = 0;
      let afterId: string | undefined;
      for (;;) {
        const page = await unmovedGroups(db, olderThan, limit, afterId);
        for (const group of page) {
          checked++;
          const outcome = await ensureGroupFanout(deps.temporal, group, deps.dispatch, () => getGroup(db, group.id));
          if (outcome === 'running' && group.workflowStartedAt === null) await markGroupWorkflowStarted(db, group.id);
          if (typeof outcome === 'object') {
            await markGroupWorkflowStarted(db, group.id);
            restarted++;
            logger.warn({
              event: 'group_fanout_restarted',
              group_message_id: group.id,
              reason: outcome.restarted,
              closed_status: outcome.closedStatus,
              cursor: group.cursor,
              total: group.total,
              trace_id: group.metadata.trace_id,
            });
          }
          Context.current().heartbeat(group.id);
        }
        afterId = page.at(-1)?.id;
        if (page.length < limit) return { checked, restarted };
      }
    },
  };
}

export type OperationActivities = ReturnType<typeof createOperationActivities>;

/** Accepted messages older than this are not swept: partitions stay pruned, and such a row is an incident. */
const OUTBOX_LOOKBACK_DAYS = 7;
