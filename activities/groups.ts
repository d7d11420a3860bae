import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client';
import {
  completeGroup,
  getGroup,
  insertGroupMessages,
  recipientMessageIds,
  recipientPage,
  recordStartedThrough,
  resumeGroup,
  stopGroup,
} from '../db/groups';
import type { GroupMessageRow } from '../db/schema';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { GroupActivities, MaterializedPage } from '../workflows/group-fanout';
import { maskAddress } from '../dispatch/start';

export interface GroupActivityDeps {
  db: Db;
  logger: Logger;
  metrics: Metrics;
}

/** The side effects of the groupFanout workflow: ids in, ids out, never message bodies. */
export function createGroupActivities(deps: GroupActivityDeps): GroupActivities {
  const { db, metrics } = deps;

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
      log(group).info({ event: 'group_cancelled', started_through_seq: startedThroughSeq, unstarted_removed: removed });
      return removed;
    },
  };
}
