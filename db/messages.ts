import { and, eq, sql } from 'drizzle-orm';
import type { ChannelType, MessageStatus } from '../lifecycle';
import { poolOf, statementFor, type Db } from './client';
import { messages, type MessageMetadata, type MessageRow } from './schema';
import { isUuidv7, uuidv7, uuidv7Time } from './uuidv7';

// Every message lookup by id also pins created_at (derived from the UUIDv7), so it touches one partition.

export interface NewMessage {
  accountId: string;
  channelId: string;
  channelType: ChannelType;
  to: string;
  from?: string | null;
  body?: string | null;
  subject?: string | null;
  html?: string | null;
  template?: unknown;
  metadata: MessageMetadata;
  groupMessageId?: string | null;
  /** A UUIDv7 chosen beforehand (an Idempotency-Key reserved it); generated when absent. */
  id?: string;
}

/** Inserts a queued outbound message; with a preset id that already exists, returns the existing row. */
export async function insertMessage(db: Db, input: NewMessage, now = Date.now()): Promise<MessageRow> {
  const id = input.id ?? uuidv7(now);
  const [row] = await db
    .insert(messages)
    .values({
      id,
      createdAt: uuidv7Time(id),
      accountId: input.accountId,
      channelId: input.channelId,
      channelType: input.channelType,
      direction: 'outbound',
      toAddress: input.to,
      fromAddress: input.from ?? null,
      body: input.body ?? null,
      subject: input.subject ?? null,
      html: input.html ?? null,
      template: input.template ?? null,
      status: 'queued',
      workflowId: `message-${id}`,
      groupMessageId: input.groupMessageId ?? null,
      metadata: input.metadata,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    const existing = input.id ? await getMessage(db, input.id) : undefined;
    if (!existing) throw new Error('message insert returned no row');
    return existing;
  }
  await db.execute(sql`INSERT INTO message_events (message_id, status, occurred_at, source)
                       VALUES (${row.id}, 'queued', ${row.createdAt.toISOString()}::timestamptz, 'api')`);
  return row;
}

function byId(id: string) {
  return and(eq(messages.id, id), eq(messages.createdAt, uuidv7Time(id)));
}

export async function getMessage(db: Db, id: string, accountId?: string): Promise<MessageRow | undefined> {
  if (!isUuidv7(id)) return undefined;
  const where = accountId ? and(byId(id), eq(messages.accountId, accountId)) : byId(id);
  const [row] = await db.select().from(messages).where(where);
  return row;
}

export async function markWorkflowStarted(db: Db, id: string): Promise<void> {
  await db
    .update(messages)
    .set({ workflowStartedAt: sql`now()` })
    .where(byId(id));
}

export interface StatusChange {
  status: MessageStatus;
  /** When we learned of it: the worker's clock for its own statuses, a receipt's arrival. */
  at: Date;
  /** A receipt's own time, as the provider gave it: kept on the event as provider_time. */
  providerTime?: Date | null;
  providerMessageId?: string;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** Who applied it: the worker (workflow), a webhook on a closed workflow, the API. */
  source?: 'worker' | 'webhook' | 'api';
}

/**
 * Moves a message forward to `change.status`, never backward: the UPDATE only
 * matches while the stored status ranks lower. The applied transition is
 * recorded in message_events in the same statement (once per status and run).
 * Its time is the provider's (else `at`), never earlier than the latest time the row
 * already holds. Returns whether it applied.
 */
export async function advanceStatus(db: Db, id: string, change: StatusChange): Promise<boolean> {
  return (await advanceStatusFrom(db, id, change)).previous !== undefined;
}

/**
 * advanceStatus that also says what the row held just before: the status it moved from, or
 * undefined when it did not move (concurrent receipts for one message serialise on the row
 * lock, so exactly one of them sees a given previous status), and whether a workflow waits
 * for the message's final receipt (ReceiptApplied.awaitsReceipt).
 */
export async function advanceStatusFrom(db: Db, id: string, change: StatusChange): Promise<Pick<ReceiptApplied, 'previous' | 'awaitsReceipt'>> {
  const row = isUuidv7(id) ? await runStatusStatement(db, ADVANCE_BY_ID, [id, null, uuidv7Time(id).toISOString(), null], change) : undefined;
  return { previous: row?.previous ?? undefined, awaitsReceipt: row?.awaits_receipt ?? false };
}

export interface ReceiptApplied {
  id: string;
  traceId: string | undefined;
  /** The row's status as the statement first read it. */
  seen: MessageStatus;
  /** The status the row moved from; undefined when it did not move (it already said as much or more). */
  previous: MessageStatus | undefined;
  /**
   * A workflow waits for this message's final receipt: the message has one (a batched group's
   * recipient has none: its group's workflow sent it) and the send was recorded. A receipt that
   * comes while the send is in flight needs no signal: the send reads the row when it records
   * `sent` and returns what the receipt wrote (a signal then would only fail the send's workflow task).
   */
  awaitsReceipt: boolean;
}

// One statement moves a message forward, for the worker and for receipts alike. Its texts are
// fixed, so every connection prepares each once: each time column is set only for its status.
// `found` is the message named: by provider id in a window of months ($1, $3, $4), or by id and
// created_at ($1, $3); on the receipt's channel ($2; NULL: any). $5 status, $6 when we learned it, $7 whether
// the error columns are set, to $8 / $9; $10 who applied it; $11 the provider id to record (NULL: keep);
// $12 the provider's time of it (NULL: none given).
const FOUND_BY_PROVIDER_ID = `SELECT id, created_at, status, metadata_->>'trace_id' AS trace_id FROM messages
    WHERE metadata_->>'provider_message_id' = $1 AND channel_id = $2::uuid AND created_at >= $3::timestamptz AND created_at < $4::timestamptz
    LIMIT 1`;
const FOUND_BY_ID = `SELECT id, created_at, status, metadata_->>'trace_id' AS trace_id FROM messages
    WHERE id = $1::uuid AND ($2::uuid IS NULL OR channel_id = $2::uuid) AND created_at = $3::timestamptz AND $4::timestamptz IS NULL`;
const advanceStatusSql = (found: string) => `
  WITH found AS (
    ${found}
  ), old AS (
    -- The status's time: the provider's (to the minute, often) or when we learned it, never earlier
    -- than the latest time the row holds, so the times read in the order the statuses came.
    SELECT m.id, m.created_at, m.status,
      GREATEST(COALESCE($12::timestamptz, $6::timestamptz), m.created_at, m.sending_at, m.sent_at, m.delivered_at, m.read_at, m.failed_at) AS status_at,
      -- Read from the locked row, so a send recorded concurrently is seen: see ReceiptApplied.awaitsReceipt.
      m.workflow_id IS NOT NULL AND m.metadata_->>'send_recorded' IS NOT NULL AS awaits_receipt
    FROM messages m JOIN found f ON m.id = f.id AND m.created_at = f.created_at
    WHERE message_status_rank(f.status) < message_status_rank($5::text)
    FOR UPDATE OF m
  ), upd AS (
    UPDATE messages m SET status = $5::text, updated_at = now(),
      sending_at = CASE WHEN $5::text = 'sending' THEN old.status_at ELSE m.sending_at END,
      sent_at = CASE WHEN $5::text = 'sent' THEN old.status_at ELSE m.sent_at END,
      delivered_at = CASE WHEN $5::text = 'delivered' THEN old.status_at ELSE m.delivered_at END,
      read_at = CASE WHEN $5::text = 'read' THEN old.status_at ELSE m.read_at END,
      failed_at = CASE WHEN $5::text IN ('undelivered', 'failed') THEN old.status_at ELSE m.failed_at END,
      error_code = CASE WHEN $7::boolean THEN $8::text ELSE m.error_code END,
      error_message = CASE WHEN $7::boolean THEN $9::text ELSE m.error_message END,
      metadata_ = CASE WHEN $11::text IS NULL THEN m.metadata_ ELSE m.metadata_ || jsonb_build_object('provider_message_id', $11::text) END
    FROM old
    WHERE m.id = old.id AND m.created_at = old.created_at AND message_status_rank(old.status) < message_status_rank($5::text)
    RETURNING m.id, m.replays, old.status AS previous, old.status_at, old.awaits_receipt
  ), ev AS (
    INSERT INTO message_events (message_id, run, status, occurred_at, provider_time, source, error_code)
    SELECT id, replays, $5::text, status_at, $12::timestamptz, $10::text, $8::text FROM upd
    ON CONFLICT DO NOTHING
  )
  SELECT f.id, f.trace_id, f.status AS seen, (SELECT previous FROM upd) AS previous,
    COALESCE((SELECT awaits_receipt FROM upd), false) AS awaits_receipt FROM found f`;
const ADVANCE_BY_ID = { name: 'turumba_advance_by_id', text: advanceStatusSql(FOUND_BY_ID) };
const ADVANCE_BY_PROVIDER_ID = { name: 'turumba_advance_by_provider_id', text: advanceStatusSql(FOUND_BY_PROVIDER_ID) };

interface StatusStatementRow {
  id: string;
  trace_id: string | null;
  seen: MessageStatus;
  previous: MessageStatus | null;
  awaits_receipt: boolean;
}

async function runStatusStatement(
  db: Db,
  statement: { name: string; text: string },
  key: [string, string | null, string, string | null],
  change: StatusChange,
): Promise<StatusStatementRow | undefined> {
  const pool = poolOf(db);
  const r = await pool.query<StatusStatementRow>({
    ...statementFor(pool, statement),
    values: [
      ...key,
      change.status,
      change.at.toISOString(),
      change.errorCode !== undefined,
      change.errorCode ?? null,
      change.errorMessage ?? null,
      change.source ?? 'worker',
      change.providerMessageId ?? null,
      change.providerTime?.toISOString() ?? null,
    ],
  });
  return r.rows[0];
}

/** Which message a receipt names: our id (carried in the callback URL), or the provider's. */
export type ReceiptTarget = { messageId: string } | { providerMessageId: string };

/**
 * A provider's receipt in one round trip, the common case of the webhook route: finds the
 * message on this channel (by our id, or by provider id in the partitions a live message is in:
 * findMessageByProviderId's recent window) and moves it forward to the receipt's status with
 * advanceStatusFrom's statement. Undefined when no such message is there: by id that means none
 * on this channel; by provider id the caller looks in older months.
 */
export async function applyReceipt(db: Db, channelId: string, target: ReceiptTarget, change: StatusChange): Promise<ReceiptApplied | undefined> {
  let row: StatusStatementRow | undefined;
  const webhook: StatusChange = { ...change, source: 'webhook', providerMessageId: undefined };
  if ('messageId' in target) {
    if (!isUuidv7(target.messageId)) return undefined;
    row = await runStatusStatement(db, ADVANCE_BY_ID, [target.messageId, channelId, uuidv7Time(target.messageId).toISOString(), null], webhook);
  } else {
    const { from, to } = recentWindow(new Date());
    row = await runStatusStatement(db, ADVANCE_BY_PROVIDER_ID, [target.providerMessageId, channelId, from, to], webhook);
  }
  return row
    ? { id: row.id, traceId: row.trace_id ?? undefined, seen: row.seen, previous: row.previous ?? undefined, awaitsReceipt: row.awaits_receipt }
    : undefined;
}

/**
 * Records the provider's acceptance: the provider id and `sent_at` always (a receipt that
 * raced the send may already have moved the row past `sent`), the `sent` status only while
 * the row ranks lower. `sent_at` is never earlier than the row's latest time, and, after a
 * receipt that raced the send, never later than that receipt's. Returns the row's status
 * afterwards and whether `sent` applied.
 */
export async function recordSent(db: Db, id: string, at: Date, providerMessageId: string): Promise<{ status: MessageStatus; applied: boolean } | undefined> {
  if (!isUuidv7(id)) return undefined;
  const result = await db.execute<{ status: MessageStatus; applied: boolean }>(sql`
    WITH upd AS (
      UPDATE messages m SET
        status = CASE WHEN message_status_rank(m.status) < message_status_rank('sent') THEN 'sent' ELSE m.status END,
        updated_at = now(),
        sent_at = COALESCE(m.sent_at, CASE WHEN message_status_rank(old.before) < message_status_rank('sent')
          THEN GREATEST(${at.toISOString()}::timestamptz, m.created_at, m.sending_at, m.delivered_at, m.read_at, m.failed_at)
          ELSE LEAST(${at.toISOString()}::timestamptz, m.delivered_at, m.read_at, m.failed_at) END),
        -- send_recorded: from now on the workflow waits for a final receipt's signal.
        metadata_ = m.metadata_ || jsonb_build_object('provider_message_id', ${providerMessageId}::text, 'send_recorded', true)
      FROM (SELECT id, created_at, status AS before FROM messages
            WHERE id = ${id} AND created_at = ${uuidv7Time(id).toISOString()}::timestamptz FOR UPDATE) old
      WHERE m.id = old.id AND m.created_at = old.created_at
      RETURNING m.id, m.replays, m.status, m.sent_at, message_status_rank(old.before) < message_status_rank('sent') AS applied
    ), ev AS (
      INSERT INTO message_events (message_id, run, status, occurred_at, source, error_code)
      SELECT id, replays, 'sent', sent_at, 'worker', NULL FROM upd WHERE applied
      ON CONFLICT DO NOTHING
    )
    SELECT status, applied FROM upd`);
  return result.rows[0];
}

/** The row's status, or undefined when there is no such message. */
export async function messageStatus(db: Db, id: string): Promise<MessageStatus | undefined> {
  if (!isUuidv7(id)) return undefined;
  const r = await db.execute<{ status: MessageStatus }>(sql`
    SELECT status FROM messages WHERE id = ${id} AND created_at = ${uuidv7Time(id).toISOString()}::timestamptz`);
  return r.rows[0]?.status;
}

export interface MessageEvent {
  id: string;
  run: number;
  kind: string;
  status: string;
  /** Our time of it: never earlier than the status before. */
  occurredAt: Date;
  /** The provider's own time of a receipt, as given; null when it gave none (or it is our own status). */
  providerTime: Date | null;
  recordedAt: Date;
  source: string;
  errorCode: string | null;
}

export async function listMessageEvents(db: Db, messageId: string): Promise<MessageEvent[]> {
  const r = await db.execute<{
    id: string;
    run: number;
    kind: string;
    status: string;
    occurred_at: Date | string;
    provider_time: Date | string | null;
    recorded_at: Date | string;
    source: string;
    error_code: string | null;
  }>(sql`SELECT id::text, run, kind, status, occurred_at, provider_time, recorded_at, source, error_code
         FROM message_events WHERE message_id = ${messageId} ORDER BY message_events.id`);
  return r.rows.map((e) => ({
    id: e.id,
    run: e.run,
    kind: e.kind,
    status: e.status,
    occurredAt: new Date(e.occurred_at),
    providerTime: e.provider_time === null ? null : new Date(e.provider_time),
    recordedAt: new Date(e.recorded_at),
    source: e.source,
    errorCode: e.error_code,
  }));
}

/** Outbound messages a watermark receipt covers: sent to `recipient` on the channel at or before `upTo`, still below `status`. */
export async function messagesUpToWatermark(db: Db, channelId: string, recipient: string, upTo: Date, status: MessageStatus): Promise<string[]> {
  const r = await db.execute<{ id: string }>(sql`
    SELECT id FROM messages
    WHERE channel_id = ${channelId} AND direction = 'outbound' AND to_address = ${recipient}
      AND created_at >= ${new Date(upTo.getTime() - 30 * 86400_000).toISOString()}::timestamptz
      AND created_at <= ${upTo.toISOString()}::timestamptz
      AND sent_at IS NOT NULL AND sent_at <= ${upTo.toISOString()}::timestamptz
      AND message_status_rank(status) < message_status_rank(${status})
    LIMIT 1000`);
  return r.rows.map((x) => x.id);
}

/** The partitions a message still waiting for receipts lives in: last month's, this month's, and the next (clock skew). */
function recentWindow(now: Date): { from: string; to: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString();
  const skewed = new Date(now.getTime() + 86_400_000);
  const to = new Date(Date.UTC(skewed.getUTCFullYear(), skewed.getUTCMonth() + 1, 1)).toISOString();
  return { from, to };
}

/**
 * Webhook lookup by (channel_id, provider_message_id). Receipts arrive within
 * hours or days of the send, so the first query reads only the previous and the
 * current month (and the next one on a month's last day, for clock skew): two
 * partitions, not all of them. Only a miss reads the remaining months.
 */
export async function findMessageByProviderId(
  db: Db,
  channelId: string,
  providerMessageId: string,
  now: Date = new Date(),
  opts: { olderOnly?: boolean } = {},
): Promise<MessageRow | undefined> {
  const { from, to } = recentWindow(now);
  const lookup = (window: ReturnType<typeof sql>) =>
    db
      .select()
      .from(messages)
      .where(and(sql`${messages.metadata}->>'provider_message_id' = ${providerMessageId}`, eq(messages.channelId, channelId), window))
      .limit(1);
  if (!opts.olderOnly) {
    const [recent] = await lookup(sql`${messages.createdAt} >= ${from}::timestamptz AND ${messages.createdAt} < ${to}::timestamptz`);
    if (recent) return recent;
  }
  const [older] = await lookup(sql`(${messages.createdAt} < ${from}::timestamptz OR ${messages.createdAt} >= ${to}::timestamptz)`);
  return older;
}

export interface ListMessagesQuery {
  /** The messages of one group message. */
  groupMessageId?: string;
  accountId: string;
  status?: string;
  channelId?: string;
  direction?: 'outbound' | 'inbound';
  /** created_at >= since. With `until`, it bounds the months (partitions) read. */
  since?: Date;
  /** created_at < until. */
  until?: Date;
  /** Page size, 1..1000. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface MessagePage {
  items: MessageRow[];
  /** Null on the last page. */
  nextCursor: string | null;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidCursorError';
  }
}

/**
 * Newest first, keyset-paginated on (created_at DESC, id DESC). The cursor
 * carries the last row's position, so every page reads from the
 * (account_id, created_at DESC) index at that point, and its created_at bound
 * also prunes the months after it, however deep the page.
 */
export async function listMessages(db: Db, q: ListMessagesQuery): Promise<MessagePage> {
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 1000) throw new RangeError('limit must be an integer from 1 to 1000');
  const conditions = [eq(messages.accountId, q.accountId)];
  if (q.status !== undefined) conditions.push(eq(messages.status, q.status));
  if (q.channelId !== undefined) conditions.push(eq(messages.channelId, q.channelId));
  if (q.groupMessageId !== undefined) conditions.push(eq(messages.groupMessageId, q.groupMessageId));
  if (q.direction !== undefined) conditions.push(eq(messages.direction, q.direction));
  if (q.since) conditions.push(sql`${messages.createdAt} >= ${q.since.toISOString()}::timestamptz`);
  if (q.until) conditions.push(sql`${messages.createdAt} < ${q.until.toISOString()}::timestamptz`);
  if (q.cursor !== undefined) {
    const after = decodeCursor(q.cursor);
    conditions.push(
      sql`${messages.createdAt} <= ${after.createdAt}::timestamptz AND (${messages.createdAt} < ${after.createdAt}::timestamptz OR ${messages.id} < ${after.id}::uuid)`,
    );
  }
  const rows = await db
    .select()
    .from(messages)
    .where(and(...conditions))
    .orderBy(sql`${messages.createdAt} DESC`, sql`${messages.id} DESC`)
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}

// created_at has millisecond precision (it is the UUIDv7 time), so an ISO string carries it exactly.
function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (!m?.[1] || !m[2] || Number.isNaN(Date.parse(m[1]))) throw new InvalidCursorError();
  return { createdAt: m[1], id: m[2] };
}
