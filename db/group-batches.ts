import { sql } from 'drizzle-orm';
import type { MessageStatus } from '../lifecycle';
import type { Db } from './client';
import { messageWindow } from './groups';
import type { GroupMessageRow } from './schema';

// Data access of the batched fan-out: pages of recipients with their message's state, the
// attempts each has had, and the delivery timeout of rows that have no workflow of their own.

export interface BatchRecipient {
  seq: number;
  to: string;
  variables: Record<string, string> | null;
  messageId: string | null;
  attempts: number;
  /** The message's status; null while the recipient has no message. */
  status: MessageStatus | null;
  providerMessageId: string | null;
}

type BatchRow = {
  seq: number;
  to_address: string;
  variables: Record<string, string> | null;
  message_id: string | null;
  attempts: number;
  status: MessageStatus | null;
  provider_message_id: string | null;
};

/** A recipient (r) and its message (m) as BatchRow. */
const RECIPIENT_COLUMNS = sql.raw(`r.seq, r.to_address, r.variables, r.message_id::text AS message_id, r.attempts, m.status,
           m.metadata_->>'provider_message_id' AS provider_message_id`);

const toRecipient = (r: BatchRow): BatchRecipient => ({
  seq: r.seq,
  to: r.to_address,
  variables: r.variables,
  messageId: r.message_id,
  attempts: r.attempts,
  status: r.status,
  providerMessageId: r.provider_message_id,
});

/** Recipients with seq in (afterSeq, throughSeq], with their message's state, in seq order. */
export async function batchPage(db: Db, group: GroupMessageRow, afterSeq: number, throughSeq: number): Promise<BatchRecipient[]> {
  const w = messageWindow(group, new Date());
  const r = await db.execute<BatchRow>(sql`
    SELECT ${RECIPIENT_COLUMNS}
    FROM group_recipients r
    LEFT JOIN messages m ON m.id = r.message_id AND m.created_at >= ${w.from}::timestamptz AND m.created_at < ${w.to}::timestamptz
    WHERE r.group_message_id = ${group.id} AND r.seq > ${afterSeq} AND r.seq <= ${throughSeq}
    ORDER BY r.seq`);
  return r.rows.map(toRecipient);
}

/**
 * Recipients after `afterSeq` whose message was made but not yet accepted by the provider
 * (queued, or sending when a worker died mid-call): a retry pass's page, in seq order.
 */
export async function unsentPage(db: Db, group: GroupMessageRow, afterSeq: number, limit: number): Promise<BatchRecipient[]> {
  const w = messageWindow(group, new Date());
  const r = await db.execute<BatchRow>(sql`
    SELECT ${RECIPIENT_COLUMNS}
    FROM messages m
    JOIN group_recipients r ON r.group_message_id = m.group_message_id AND r.seq = m.group_seq
    WHERE m.group_message_id = ${group.id} AND m.workflow_id IS NULL AND m.status IN ('queued', 'sending')
      AND m.group_seq > ${afterSeq}
      AND m.created_at >= ${w.from}::timestamptz AND m.created_at < ${w.to}::timestamptz
    ORDER BY m.group_seq LIMIT ${limit}`);
  return r.rows.map(toRecipient);
}

/** How many of the group's batched messages after `afterSeq` are not yet accepted by the provider. */
export async function unsentCount(db: Db, group: GroupMessageRow, afterSeq = 0): Promise<number> {
  const w = messageWindow(group, new Date());
  const r = await db.execute<{ n: string }>(sql`
    SELECT count(*)::text AS n FROM messages
    WHERE group_message_id = ${group.id} AND workflow_id IS NULL AND status IN ('queued', 'sending') AND group_seq > ${afterSeq}
      AND created_at >= ${w.from}::timestamptz AND created_at < ${w.to}::timestamptz`);
  return Number(r.rows[0]?.n ?? 0);
}

/** Ends every unsent batched message of the group as failed with `code` (a cancelled group). Returns how many. */
export async function failUnsent(db: Db, group: GroupMessageRow, code: string, message: string, now = new Date()): Promise<number> {
  const w = messageWindow(group, now);
  const r = await db.execute<{ n: string }>(sql`
    WITH due AS (
      SELECT id, created_at FROM messages
      WHERE group_message_id = ${group.id} AND workflow_id IS NULL AND status IN ('queued', 'sending')
        AND created_at >= ${w.from}::timestamptz AND created_at < ${w.to}::timestamptz
      FOR UPDATE
    ), upd AS (
      UPDATE messages m SET status = 'failed', failed_at = ${now.toISOString()}::timestamptz, updated_at = now(), error_code = ${code}, error_message = ${message}
      FROM due WHERE m.id = due.id AND m.created_at = due.created_at
      RETURNING m.id, m.replays
    ), ev AS (
      INSERT INTO message_events (message_id, run, status, occurred_at, source, error_code)
      SELECT id, replays, 'failed', ${now.toISOString()}::timestamptz, 'worker', ${code} FROM upd
      ON CONFLICT DO NOTHING
    )
    SELECT count(*)::text AS n FROM upd`);
  return Number(r.rows[0]?.n ?? 0);
}

/** Adds each recipient's attempts of this call, in one statement. */
export async function addAttempts(db: Db, groupId: string, attempts: Array<{ seq: number; n: number }>): Promise<void> {
  const list = attempts.filter((a) => a.n > 0);
  if (list.length === 0) return;
  await db.execute(sql`
    UPDATE group_recipients r SET attempts = r.attempts + a.n
    FROM jsonb_to_recordset(${JSON.stringify(list)}::jsonb) AS a(seq int, n int)
    WHERE r.group_message_id = ${groupId} AND r.seq = a.seq`);
}

/**
 * The delivery timeout of a batched group's rows: every message still `sent` whose wait
 * has run out becomes `undelivered` (delivery_timeout), with its event, in pages. Returns
 * how many moved and when the next one's wait runs out (null: none is waiting).
 */
export async function expireBatchedDeliveries(
  db: Db,
  group: GroupMessageRow,
  waitSeconds: number,
  now = new Date(),
): Promise<{ expired: number; nextDueAt: Date | null }> {
  const w = messageWindow(group, now);
  const cutoff = new Date(now.getTime() - waitSeconds * 1000).toISOString();
  const reason = `no receipt within ${waitSeconds} s`;
  let expired = 0;
  for (;;) {
    const r = await db.execute<{ n: string }>(sql`
      WITH due AS (
        SELECT id, created_at FROM messages
        WHERE group_message_id = ${group.id} AND workflow_id IS NULL AND status = 'sent' AND sent_at <= ${cutoff}::timestamptz
          AND created_at >= ${w.from}::timestamptz AND created_at < ${w.to}::timestamptz
        LIMIT 2000 FOR UPDATE SKIP LOCKED
      ), upd AS (
        UPDATE messages m SET status = 'undelivered', failed_at = ${now.toISOString()}::timestamptz, updated_at = now(),
          error_code = 'delivery_timeout', error_message = ${reason}
        FROM due WHERE m.id = due.id AND m.created_at = due.created_at AND m.status = 'sent'
        RETURNING m.id, m.replays
      ), ev AS (
        INSERT INTO message_events (message_id, run, status, occurred_at, source, error_code)
        SELECT id, replays, 'undelivered', ${now.toISOString()}::timestamptz, 'worker', 'delivery_timeout' FROM upd
        ON CONFLICT DO NOTHING
      )
      SELECT count(*)::text AS n FROM upd`);
    const n = Number(r.rows[0]?.n ?? 0);
    expired += n;
    if (n < 2000) break;
  }
  const next = await db.execute<{ due: Date | string | null }>(sql`
    SELECT min(sent_at) + make_interval(secs => ${waitSeconds}) AS due FROM messages
    WHERE group_message_id = ${group.id} AND workflow_id IS NULL AND status = 'sent'
      AND created_at >= ${w.from}::timestamptz AND created_at < ${w.to}::timestamptz`);
  const due = next.rows[0]?.due;
  return { expired, nextDueAt: due ? new Date(due) : null };
}

export interface BatchedProgress {
  /** Messages accepted by the provider in the last minute, per second. */
  ratePerSecond: number;
}

/** The group's current send rate, from the sent_at of its rows in the last minute. */
export async function recentSendRate(db: Db, group: GroupMessageRow, now = new Date()): Promise<BatchedProgress> {
  const w = messageWindow(group, now);
  const r = await db.execute<{ n: string; first: Date | string | null }>(sql`
    SELECT count(*)::text AS n, min(sent_at) AS first FROM messages
    WHERE group_message_id = ${group.id} AND sent_at > ${new Date(now.getTime() - 60_000).toISOString()}::timestamptz
      AND created_at >= ${w.from}::timestamptz AND created_at < ${w.to}::timestamptz`);
  const n = Number(r.rows[0]?.n ?? 0);
  const first = r.rows[0]?.first;
  // Over the span actually seen (a group that began 10 s ago has 10 s of sends, not 60).
  const span = first ? Math.max(1, (now.getTime() - new Date(first).getTime()) / 1000) : 60;
  return { ratePerSecond: n === 0 ? 0 : n / Math.min(60, span) };
}
