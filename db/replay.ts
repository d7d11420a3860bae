import { sql } from 'drizzle-orm';
import type { Db } from './client';
import { getMessage } from './messages';
import type { MessageRow } from './schema';
import { isUuidv7, uuidv7Time } from './uuidv7';

export const REPLAYABLE = ['failed', 'undelivered'] as const;
export type ReplayableStatus = (typeof REPLAYABLE)[number];

/**
 * Puts a failed or undelivered message back to queued for a new run, in one
 * statement: the only place a status moves backwards, and only from a final
 * failure. Bumps `replays` (so the new run's transitions are recorded again) and
 * records a `replay` event. Returns undefined when the message is not replayable.
 */
export async function resetForReplay(db: Db, id: string, accountId: string, source: string): Promise<MessageRow | undefined> {
  if (!isUuidv7(id)) return undefined;
  const r = await db.execute<{ id: string; previous: string }>(sql`
    WITH prev AS (
      SELECT status FROM messages WHERE id = ${id} AND created_at = ${uuidv7Time(id).toISOString()}::timestamptz
    ), upd AS (
      UPDATE messages SET status = 'queued', replays = replays + 1, error_code = NULL, error_message = NULL,
        sending_at = NULL, sent_at = NULL, delivered_at = NULL, read_at = NULL, failed_at = NULL,
        workflow_started_at = NULL, updated_at = now(), workflow_id = COALESCE(workflow_id, 'message-' || id::text),
        metadata_ = (metadata_ - 'provider_message_id' - 'send_recorded') || jsonb_build_object('previous_provider_message_id', metadata_->'provider_message_id')
      WHERE id = ${id} AND created_at = ${uuidv7Time(id).toISOString()}::timestamptz AND account_id = ${accountId}
        AND direction = 'outbound' AND status IN ('failed', 'undelivered')
      RETURNING id, replays
    ), ev AS (
      INSERT INTO message_events (message_id, run, kind, status, occurred_at, source, detail)
      SELECT upd.id, upd.replays, 'replay', 'queued', now(), ${source}, jsonb_build_object('previous_status', (SELECT status FROM prev))
      FROM upd
    )
    SELECT id, (SELECT status FROM prev) AS previous FROM upd`);
  return r.rows[0] ? getMessage(db, id) : undefined;
}

export interface ReplayFilter {
  accountId: string;
  status: ReplayableStatus;
  channelId?: string;
  since: string;
  until: string;
}

/** The next page of replay candidates in id order (ids are time-ordered); the time range prunes partitions. */
export async function replayCandidates(db: Db, f: ReplayFilter, afterId: string | undefined, limit: number): Promise<string[]> {
  const r = await db.execute<{ id: string }>(sql`
    SELECT id FROM messages
    WHERE account_id = ${f.accountId} AND status = ${f.status} AND direction = 'outbound'
      AND created_at >= ${f.since}::timestamptz AND created_at < ${f.until}::timestamptz
      ${f.channelId ? sql`AND channel_id = ${f.channelId}` : sql``}
      ${afterId ? sql`AND id > ${afterId}` : sql``}
    ORDER BY id LIMIT ${limit}`);
  return r.rows.map((x) => x.id);
}

export async function countReplayCandidates(db: Db, f: ReplayFilter): Promise<number> {
  const r = await db.execute<{ n: string }>(sql`
    SELECT count(*)::text AS n FROM messages
    WHERE account_id = ${f.accountId} AND status = ${f.status} AND direction = 'outbound'
      AND created_at >= ${f.since}::timestamptz AND created_at < ${f.until}::timestamptz
      ${f.channelId ? sql`AND channel_id = ${f.channelId}` : sql``}`);
  return Number(r.rows[0]?.n ?? 0);
}

/** Accepted messages whose workflow start was never acknowledged (the outbox), oldest first. A group's messages are started by its fan-out workflow, not here. */
export async function outboxMessages(db: Db, olderThan: Date, lookbackDays: number, limit: number): Promise<MessageRow[]> {
  const r = await db.execute<{ id: string }>(sql`
    SELECT id FROM messages
    WHERE workflow_started_at IS NULL AND direction = 'outbound' AND status = 'queued' AND group_message_id IS NULL
      AND created_at >= ${new Date(olderThan.getTime() - lookbackDays * 86_400_000).toISOString()}::timestamptz
      AND created_at < ${olderThan.toISOString()}::timestamptz
    ORDER BY created_at LIMIT ${limit}`);
  const rows = await Promise.all(r.rows.map((x) => getMessage(db, x.id)));
  return rows.filter((m): m is MessageRow => m !== undefined);
}

export async function outboxCount(db: Db, lookbackDays: number): Promise<number> {
  const r = await db.execute<{ n: string }>(sql`
    SELECT count(*)::text AS n FROM messages
    WHERE workflow_started_at IS NULL AND direction = 'outbound' AND status = 'queued' AND group_message_id IS NULL
      AND created_at >= now() - make_interval(days => ${lookbackDays})`);
  return Number(r.rows[0]?.n ?? 0);
}
