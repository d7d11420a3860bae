import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client';
import { completeGroup, getGroup, insertGroupMessages, recipientMessageIds, recipientPage, recordStartedThrough, resumeGroup, stopGroup } from '../db/groups';
import type { GroupMessageRow } from '../db/schema';
import type { AdapterRegistry } from '../adapters/registry';
import { CredentialsUnreadableError } from '../db/credentials-crypto';
import { expireBatchedDeliveries, failUnsent, unsentCount } from '../db/group-batches';
import { reserveSlot } from '../db/rate-limiter';
import { cachedChannelLookup } from '../db/channels';
import type { BatchSlot } from '../workflows/definitions';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { maskAddress } from '../dispatch/start';

export interface MaterializedRecipient {
  seq: number;
  messageId: string;
  /** Masked address, for the child's summary in the Web UI. */
  to: string;
}

export interface MaterializedPage {
  items: MaterializedRecipient[];
  /** Messages this call created (the rest existed from an earlier attempt). */
  created: number;
}

/** What the per-message fan-out (workflows/group-fanout.ts) runs. */
export interface GroupActivities {
  materializeRecipients(groupId: string, afterSeq: number, limit: number): Promise<MaterializedPage>;
  recordGroupStarts(groupId: string, afterSeq: number, throughSeq: number, started: number): Promise<void>;
  /** Records the pause and removes messages made but not started (they are made afresh on resume). */
  pauseGroupFanout(groupId: string, startedThroughSeq: number): Promise<number>;
  resumeGroupFanout(groupId: string): Promise<void>;
  completeGroupFanout(groupId: string): Promise<void>;
  cancelGroupFanout(groupId: string, startedThroughSeq: number): Promise<number>;
}

/** Local activities of a batched group's workflow (workflows/group-batches.ts), on the group's worker. */
export interface GroupBatchLocalActivities {
  /** With `unsentOf`, at most as many slots as the group has unsent recipients after that seq (0: none left). */
  reserveBatchSlots(channelId: string, channelType: string, count: number, unsentOf?: { groupId: string; afterSeq: number }): Promise<BatchSlot>;
}

/** What a batched group's workflow (workflows/group-batches.ts) runs on the group's worker. */
export interface GroupBatchActivities {
  pauseGroupFanout(groupId: string, startedThroughSeq: number): Promise<number>;
  resumeGroupFanout(groupId: string): Promise<void>;
  completeGroupFanout(groupId: string): Promise<void>;
  cancelGroupFanout(groupId: string, startedThroughSeq: number): Promise<number>;
  expireBatchedDeliveries(groupId: string, waitSeconds: number): Promise<{ expired: number; nextDueInMs: number | null }>;
}

export interface GroupActivityDeps {
  db: Db;
  adapters: AdapterRegistry;
  logger: Logger;
  metrics: Metrics;
}

/** The side effects of the groupFanout workflow: ids in, ids out, never message bodies. */
export function createGroupActivities(deps: GroupActivityDeps): GroupActivities & GroupBatchActivities & GroupBatchLocalActivities {
  const { db, metrics, adapters } = deps;
  const lookup = cachedChannelLookup(db);

  const load = async (groupId: string): Promise<GroupMessageRow> => {
    const group = await getGroup(db, groupId);
    if (!group) throw ApplicationFailure.nonRetryable(`group ${groupId} not found`, 'GroupNotFound');
    return group;
  };
  const log = (group: GroupMessageRow) => deps.logger.child({ group_message_id: group.id, trace_id: group.metadata.trace_id ?? '' });

  return {
    async materializeRecipients(groupId: string, afterSeq: number, limit: number): Promise<MaterializedPage> {
      const group = await load(groupId);
      // A run restarted by the sweeper after the group ended (a race with its last activity) makes nothing.
      if (group.status === 'cancelled' || group.status === 'completed') return { items: [], created: 0 };
      const page = await recipientPage(db, groupId, afterSeq, limit);
      const fresh = page.filter((r) => r.messageId === null);
      const claimed = await insertGroupMessages(
        db,
        group,
        fresh.map((r) => r.seq),
      );
      const ids = new Map<number, string>();
      for (const r of page) if (r.messageId) ids.set(r.seq, r.messageId);
      for (const [seq, id] of claimed) ids.set(seq, id);
      // Another attempt of this activity (a timed-out one still running) claimed these first: use its ids.
      const lost = fresh.filter((r) => !claimed.has(r.seq)).map((r) => r.seq);
      if (lost.length > 0) for (const [seq, id] of await recipientMessageIds(db, groupId, lost)) ids.set(seq, id);

      const items = page.map((r) => {
        const messageId = ids.get(r.seq);
        if (!messageId) throw new Error(`recipient ${r.seq} of group ${groupId} has no message yet`);
        return { seq: r.seq, messageId, to: maskAddress(r.to) };
      });
      if (items.length > 0) {
        log(group).info({ event: 'group_page_materialized', after_seq: afterSeq, recipients: items.length, created: claimed.size });
      }
      return { items, created: claimed.size };
    },

    async recordGroupStarts(groupId: string, afterSeq: number, throughSeq: number, started: number): Promise<void> {
      await recordStartedThrough(db, await load(groupId), afterSeq, throughSeq, started);
    },

    async pauseGroupFanout(groupId: string, startedThroughSeq: number): Promise<number> {
      const group = await load(groupId);
      const removed = await stopGroup(db, group, startedThroughSeq, 'paused');
      log(group).info({ event: 'group_paused', started_through_seq: startedThroughSeq, unstarted_removed: removed });
      return removed;
    },

    async resumeGroupFanout(groupId: string): Promise<void> {
      await resumeGroup(db, groupId);
      log(await load(groupId)).info({ event: 'group_resumed' });
    },

    async completeGroupFanout(groupId: string): Promise<void> {
      const done = await completeGroup(db, groupId);
      if (!done) return;
      const seconds = done.startedAt ? (done.completedAt.getTime() - done.startedAt.getTime()) / 1000 : 0;
      metrics.groupFanoutDuration.observe(seconds);
      log(await load(groupId)).info({ event: 'group_fanout_completed', duration_ms: Math.round(seconds * 1000) });
    },

    async cancelGroupFanout(groupId: string, startedThroughSeq: number): Promise<number> {
      const group = await load(groupId);
      const removed = await stopGroup(db, group, startedThroughSeq, 'cancelled');
      // A batched recipient left for a retry pass has a row: it ends failed, never half-sent.
      const ended = group.mode === 'batched' ? await failUnsent(db, group, 'group_cancelled', 'the group was cancelled before this recipient was sent') : 0;
      if (ended > 0) metrics.messagesDispatched.inc({ channel_type: group.channelType, status: 'failed' }, ended);
      log(group).info({ event: 'group_cancelled', started_through_seq: startedThroughSeq, unstarted_removed: removed, unsent_failed: ended });
      return removed;
    },

    async reserveBatchSlots(channelId: string, channelType: string, count: number, unsentOf?: { groupId: string; afterSeq: number }): Promise<BatchSlot> {
      let wanted = count;
      if (unsentOf) wanted = Math.min(wanted, await unsentCount(db, await load(unsentOf.groupId), unsentOf.afterSeq));
      const channel = await lookup(channelId).catch((err: unknown) => {
        if (err instanceof CredentialsUnreadableError) return undefined;
        throw err;
      });
      const now = Date.now();
      // No channel (or no readable one): the batch fails its recipients at once, no slot needed.
      if (!channel || wanted === 0) return { waitMs: 0, reserved: true, count: wanted, intervalMs: 0, startAtMs: now };
      const perSecond = channel.rateLimitPerSecond ?? adapters.get(channel.channelType, channel.provider).defaultRateLimitPerSecond;
      // One batch spans at most ~30 s of the channel's rate, so pause and cancel act within it.
      wanted = Math.max(1, Math.min(wanted, Math.ceil(perSecond * BATCH_SPAN_SECONDS)));
      // The span starts BATCH_LEAD_MS from now at the earliest: the batch is dispatched and its page
      // made before its first slot, so it never starts late and bunches its head into a burst.
      const from = new Date(now + BATCH_LEAD_MS);
      let slot = await reserveSlot(db, { channelId, perSecond, dailyLimit: channel.dailyLimit, count: wanted }, from);
      // A daily limit with fewer slots left today than the batch: send those, then wait for tomorrow.
      while (!slot.reserved && slot.reason === 'daily_limit' && wanted > 1) {
        wanted = Math.floor(wanted / 2);
        slot = await reserveSlot(db, { channelId, perSecond, dailyLimit: channel.dailyLimit, count: wanted }, from);
      }
      if (!slot.reserved) metrics.rateLimitHits.inc({ channel_id: channelId });
      return {
        ...slot,
        count: slot.reserved ? wanted : 0,
        intervalMs: 1000 / perSecond,
        startAtMs: from.getTime() + slot.waitMs,
        waitMs: slot.waitMs + BATCH_LEAD_MS,
      };
    },

    async expireBatchedDeliveries(groupId: string, waitSeconds: number): Promise<{ expired: number; nextDueInMs: number | null }> {
      const group = await load(groupId);
      const now = new Date();
      const r = await expireBatchedDeliveries(db, group, waitSeconds, now);
      if (r.expired > 0) {
        metrics.messagesDispatched.inc({ channel_type: group.channelType, status: 'undelivered' }, r.expired);
        log(group).info({ event: 'group_delivery_timeout', undelivered: r.expired, wait_seconds: waitSeconds });
      }
      return { expired: r.expired, nextDueInMs: r.nextDueAt ? Math.max(0, r.nextDueAt.getTime() - now.getTime()) : null };
    },
  };
}

/** How far ahead of now a batch's first slot is reserved (the batch is dispatched and its page made meanwhile). */
export const BATCH_LEAD_MS = 500;
/** Longest stretch of the channel's rate one batch reserves. */
const BATCH_SPAN_SECONDS = 30;
