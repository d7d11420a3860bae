import { and, eq, sql } from 'drizzle-orm';
import type { TemplateRef } from '../adapters/types';
import type { ChannelType, MessageStatus } from '../lifecycle';
import type { Db } from './client';
import { groupMessages, type GroupMessageRow, type MessageMetadata } from './schema';
import { uuidv7, uuidv7Time } from './uuidv7';

// Data access for group messages and their recipients. Recipients are numbered
// 1..total per group (seq); the fan-out walks them in seq order and its cursor is a seq.

export interface GroupContent {
  body?: string | null;
  subject?: string | null;
  html?: string | null;
  template?: TemplateRef | null;
}

export interface RecipientInput {
  to: string;
  variables?: Record<string, string>;
}

export interface NewGroup {
  /** Preset id (Idempotency-Key): creating the same id again returns the stored group. */
  id?: string;
  accountId: string;
  channelId: string;
  channelType: ChannelType;
  content: GroupContent;
  metadata: MessageMetadata;
  recipients: RecipientInput[];
  /** 'batched' unless the caller asks for a workflow per recipient. */
  mode?: GroupMode;
}

export type GroupMode = GroupMessageRow['mode'];

type Executor = Pick<Db, 'execute'>;

/** Stores the group as a draft with its first recipients, in one transaction. */
export async function createGroup(db: Db, input: NewGroup): Promise<GroupMessageRow> {
  const id = input.id ?? uuidv7();
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(groupMessages)
      .values({
        id,
        createdAt: uuidv7Time(id),
        accountId: input.accountId,
        channelId: input.channelId,
        channelType: input.channelType,
        status: 'draft',
        mode: input.mode ?? 'batched',
        body: input.content.body ?? null,
        subject: input.content.subject ?? null,
        html: input.content.html ?? null,
        template: input.content.template ?? null,
        metadata: input.metadata,
        workflowId: `group-${id}`,
      })
      .onConflictDoNothing()
      .returning({ id: groupMessages.id });
    if (inserted.length > 0 && input.recipients.length > 0) await insertRecipients(tx, id, input.recipients);
    const [row] = await tx
      .select()
      .from(groupMessages)
      .where(and(eq(groupMessages.id, id), eq(groupMessages.accountId, input.accountId)));
    if (!row) throw new Error('group insert returned no row');
    return row;
  });
}

/**
 * Appends recipients to a draft group. The UPDATE reserves the seq range under the
 * group's row lock, so concurrent appends never share a seq, and a start waits for
 * an append in flight. Undefined when the group is not a draft.
 */
export async function appendRecipients(db: Db, groupId: string, recipients: RecipientInput[]): Promise<{ total: number; added: number } | undefined> {
  return db.transaction(async (tx) => insertRecipients(tx, groupId, recipients));
}

async function insertRecipients(tx: Executor, groupId: string, recipients: RecipientInput[]): Promise<{ total: number; added: number } | undefined> {
  const reserved = await tx.execute<{ total: number }>(sql`
    UPDATE group_messages SET total = total + ${recipients.length}, updated_at = now()
    WHERE id = ${groupId} AND status = 'draft' RETURNING total`);
  const total = reserved.rows[0]?.total;
  if (total === undefined) return undefined;
  const first = total - recipients.length + 1;
  // One JSON parameter for the whole list: one statement, one round trip, whatever its size.
  const rows = JSON.stringify(recipients.map((r, i) => ({ s: first + i, t: r.to, v: r.variables ?? null })));
  await tx.execute(sql`
    INSERT INTO group_recipients (group_message_id, seq, to_address, variables)
    SELECT ${groupId}::uuid, r.s, r.t, r.v FROM jsonb_to_recordset(${rows}::jsonb) AS r(s int, t text, v jsonb)`);
  return { total, added: recipients.length };
}

export async function getGroup(db: Db, id: string, accountId?: string): Promise<GroupMessageRow | undefined> {
  const where = accountId ? and(eq(groupMessages.id, id), eq(groupMessages.accountId, accountId)) : eq(groupMessages.id, id);
  const [row] = await db.select().from(groupMessages).where(where);
  return row;
}

/**
 * draft → running. Undefined when the group is not a draft (or has no recipients, or, with
 * `total`, no longer has that many: the caller counted them against a quota).
 */
export async function beginGroup(db: Db, id: string, total?: number): Promise<GroupMessageRow | undefined> {
  const [row] = await db
    .update(groupMessages)
    .set({ status: 'running', startedAt: sql`now()`, updatedAt: sql`now()` })
    .where(
      and(
        eq(groupMessages.id, id),
        eq(groupMessages.status, 'draft'),
        sql`${groupMessages.total} > 0`,
        total === undefined ? undefined : eq(groupMessages.total, total),
      ),
    )
    .returning();
  return row;
}

/**
 * Running or paused groups whose row has not moved since `olderThan`, in id order after
 * `afterId`: a live fan-out writes its row every page, so these are the groups whose
 * workflow may be gone (a paused one waits legitimately, and is checked all the same).
 */
export async function unmovedGroups(db: Db, olderThan: Date, limit: number, afterId?: string): Promise<GroupMessageRow[]> {
  return db
    .select()
    .from(groupMessages)
    .where(
      and(
        sql`${groupMessages.status} IN ('running', 'paused')`,
        sql`${groupMessages.updatedAt} < ${olderThan.toISOString()}::timestamptz`,
        afterId ? sql`${groupMessages.id} > ${afterId}` : undefined,
      ),
    )
    .orderBy(groupMessages.id)
    .limit(limit);
}

export async function markGroupWorkflowStarted(db: Db, id: string): Promise<void> {
  await db
    .update(groupMessages)
    .set({ workflowStartedAt: sql`now()` })
    .where(eq(groupMessages.id, id));
}

/** A draft has no workflow: cancelling it is a row update. */
export async function cancelDraftGroup(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .update(groupMessages)
    .set({ status: 'cancelled', cancelledAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(groupMessages.id, id), eq(groupMessages.status, 'draft')))
    .returning({ id: groupMessages.id });
  return rows.length === 1;
}

/**
 * The months a group's messages can live in, for partition pruning: they are created
 * after the group (an hour's margin for clock skew between hosts) and before its
 * fan-out ended (or now, while it runs).
 */
export function messageWindow(group: GroupMessageRow, now: Date): { from: string; to: string } {
  const end = group.fanoutCompletedAt ?? group.cancelledAt ?? now;
  return {
    from: new Date(group.createdAt.getTime() - 3_600_000).toISOString(),
    to: new Date(Math.max(end.getTime(), now.getTime()) + 3_600_000).toISOString(),
  };
}

export type StatusCounts = Record<MessageStatus, number>;

/** Current status of the group's messages, one bucket per message. */
export async function groupMessageCounts(db: Db, group: GroupMessageRow, now = new Date()): Promise<StatusCounts> {
  const w = messageWindow(group, now);
  const r = await db.execute<{ status: MessageStatus; n: string }>(sql`
    SELECT status, count(*)::text AS n FROM messages
    WHERE group_message_id = ${group.id}
      AND created_at >= ${w.from}::timestamptz AND created_at < ${w.to}::timestamptz
    GROUP BY status`);
  const counts: StatusCounts = { queued: 0, sending: 0, sent: 0, delivered: 0, read: 0, undelivered: 0, failed: 0 };
  for (const row of r.rows) counts[row.status] = Number(row.n);
  return counts;
}

export interface PendingRecipient {
  seq: number;
  to: string;
  messageId: string | null;
}

/** Recipients after `afterSeq`, in seq order, with the message id they already have (retries). */
export async function recipientPage(db: Db, groupId: string, afterSeq: number, limit: number): Promise<PendingRecipient[]> {
  const r = await db.execute<{ seq: number; to_address: string; message_id: string | null }>(sql`
    SELECT seq, to_address, message_id FROM group_recipients
    WHERE group_message_id = ${groupId} AND seq > ${afterSeq}
    ORDER BY seq LIMIT ${limit}`);
  return r.rows.map((x) => ({ seq: x.seq, to: x.to_address, messageId: x.message_id }));
}

/**
 * Gives each recipient its message: in one statement, claims a fresh UUIDv7 for
 * every recipient that has none and inserts its `queued` row (and queued event).
 * The row carries no content: it names its recipient (group_seq), and the group's
 * content is rendered for it when it is sent. A recipient that already has a
 * message keeps it, so a retried page inserts nothing twice. Returns seq → message
 * id for the recipients this call claimed. A batched group's rows have no workflow of
 * their own (workflow_id NULL): the group's workflow sends them, and a receipt wakes nothing.
 */
export async function insertGroupMessages(db: Db, group: GroupMessageRow, seqs: number[], now = Date.now()): Promise<Map<number, string>> {
  if (seqs.length === 0) return new Map();
  const page = JSON.stringify(
    seqs.map((seq) => {
      const id = uuidv7(now);
      return { seq, id, created_at: uuidv7Time(id).toISOString() };
    }),
  );
  const r = await db.execute<{ seq: number; message_id: string }>(sql`
    WITH page AS (
      SELECT * FROM jsonb_to_recordset(${page}::jsonb)
        AS p(seq int, id uuid, created_at timestamptz)
    ), claim AS (
      UPDATE group_recipients r SET message_id = p.id
      FROM page p
      WHERE r.group_message_id = ${group.id} AND r.seq = p.seq AND r.message_id IS NULL
      RETURNING r.seq, r.message_id, r.to_address
    ), ins AS (
      INSERT INTO messages (id, created_at, account_id, channel_id, channel_type, direction, to_address,
                            status, group_message_id, group_seq, workflow_id, metadata_)
      SELECT c.message_id, p.created_at, ${group.accountId}, ${group.channelId}, ${group.channelType}, 'outbound', c.to_address,
             'queued', ${group.id}, c.seq, CASE WHEN ${group.mode}::text = 'batched' THEN NULL ELSE 'message-' || c.message_id END,
             ${JSON.stringify(group.metadata)}::jsonb
      FROM claim c JOIN page p ON p.seq = c.seq
      RETURNING id, created_at
    ), ev AS (
      INSERT INTO message_events (message_id, status, occurred_at, source)
      SELECT id, 'queued', created_at, 'group' FROM ins
    ), progress AS (
      UPDATE group_messages SET materialized = materialized + (SELECT count(*) FROM claim), updated_at = now()
      WHERE id = ${group.id}
    )
    SELECT seq, message_id::text AS message_id FROM claim`);
  return new Map(r.rows.map((x) => [x.seq, x.message_id]));
}

/** Message ids of these recipients as committed now (after a concurrent claim). */
export async function recipientMessageIds(db: Db, groupId: string, seqs: number[]): Promise<Map<number, string>> {
  const r = await db.execute<{ seq: number; message_id: string | null }>(sql`
    SELECT seq, message_id::text AS message_id FROM group_recipients
    WHERE group_message_id = ${groupId} AND seq = ANY(${`{${seqs.join(',')}}`}::int[])`);
  return new Map(r.rows.filter((x) => x.message_id !== null).map((x) => [x.seq, x.message_id ?? '']));
}

/** Marks the messages of seqs (afterSeq, throughSeq] started and moves the group's cursor there. */
export async function recordStartedThrough(db: Db, group: GroupMessageRow, afterSeq: number, throughSeq: number, started: number): Promise<void> {
  const w = messageWindow(group, new Date());
  await db.execute(sql`
    WITH marked AS (
      UPDATE messages m SET workflow_started_at = now()
      FROM group_recipients r
      WHERE r.group_message_id = ${group.id} AND r.seq > ${afterSeq} AND r.seq <= ${throughSeq}
        AND m.id = r.message_id AND m.workflow_started_at IS NULL
        AND m.created_at >= ${w.from}::timestamptz AND m.created_at < ${w.to}::timestamptz
    )
    UPDATE group_messages SET cursor = GREATEST(cursor, ${throughSeq}), started = GREATEST(started, ${started}), updated_at = now()
    WHERE id = ${group.id}`);
}

/** paused → running, as the workflow applies a resume. */
export async function resumeGroup(db: Db, id: string): Promise<void> {
  await db.execute(sql`UPDATE group_messages SET status = 'running', updated_at = now() WHERE id = ${id} AND status = 'paused'`);
}

/** Every recipient's message is started. Returns the start time the first time only (metrics observe once). */
export async function completeGroup(db: Db, id: string): Promise<{ startedAt: Date | null; completedAt: Date } | undefined> {
  const [row] = await db
    .update(groupMessages)
    .set({ status: 'completed', fanoutCompletedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(groupMessages.id, id), sql`${groupMessages.status} IN ('running', 'paused')`))
    .returning({ startedAt: groupMessages.startedAt, completedAt: groupMessages.fanoutCompletedAt });
  return row ? { startedAt: row.startedAt, completedAt: row.completedAt ?? new Date() } : undefined;
}

/**
 * Pauses or cancels a running group. Messages created for recipients after
 * `startedThroughSeq` were never started: they are removed (and their recipients
 * freed), so while paused nothing waits half-made for the outbox sweeper, and once
 * cancelled nothing of them is sent, replayed or left queued. A resume creates them
 * afresh. Returns how many were removed.
 */
export async function stopGroup(db: Db, group: GroupMessageRow, startedThroughSeq: number, status: 'paused' | 'cancelled'): Promise<number> {
  const w = messageWindow(group, new Date());
  const r = await db.execute<{ removed: string }>(sql`
    WITH victims AS (
      SELECT seq, message_id FROM group_recipients
      WHERE group_message_id = ${group.id} AND seq > ${startedThroughSeq} AND message_id IS NOT NULL
      FOR UPDATE
    ), gone AS (
      DELETE FROM messages m USING victims v
      WHERE m.id = v.message_id AND m.status = 'queued' AND m.workflow_started_at IS NULL
        AND m.created_at >= ${w.from}::timestamptz AND m.created_at < ${w.to}::timestamptz
      RETURNING m.id
    ), freed AS (
      UPDATE group_recipients r SET message_id = NULL
      FROM victims v JOIN gone g ON g.id = v.message_id
      WHERE r.group_message_id = ${group.id} AND r.seq = v.seq
    ), events AS (
      DELETE FROM message_events e USING gone g WHERE e.message_id = g.id
    ), state AS (
      UPDATE group_messages
      SET status = ${status}, updated_at = now(), materialized = materialized - (SELECT count(*) FROM gone),
          cancelled_at = CASE WHEN ${status}::text = 'cancelled' THEN COALESCE(cancelled_at, now()) ELSE cancelled_at END
      WHERE id = ${group.id} AND status IN ('running', 'paused', ${status})
    )
    SELECT count(*)::text AS removed FROM gone`);
  return Number(r.rows[0]?.removed ?? 0);
}

/** The group's content as stored once; it never changes after the group is created. */
export async function groupContent(db: Db, groupId: string): Promise<GroupContent | undefined> {
  const [row] = await db
    .select({ body: groupMessages.body, subject: groupMessages.subject, html: groupMessages.html, template: groupMessages.template })
    .from(groupMessages)
    .where(eq(groupMessages.id, groupId));
  return row ? { ...row, template: row.template as TemplateRef | null } : undefined;
}

/** One recipient's variables; undefined when the recipient does not exist. */
export async function recipientVariables(db: Db, groupId: string, seq: number): Promise<Record<string, string> | null | undefined> {
  const r = await db.execute<{ variables: Record<string, string> | null }>(sql`
    SELECT variables FROM group_recipients WHERE group_message_id = ${groupId} AND seq = ${seq}`);
  return r.rows[0] ? r.rows[0].variables : undefined;
}

export interface RecipientRef {
  groupId: string;
  seq: number;
}

export interface RecipientTexts {
  body: string | null;
  subject: string | null;
  variables: Record<string, string> | null;
}

/** What a message view shows (body, subject) of each recipient's group, with its variables: one statement for a page. */
export async function recipientTexts(db: Db, refs: RecipientRef[]): Promise<Map<string, RecipientTexts>> {
  if (refs.length === 0) return new Map();
  const list = JSON.stringify(refs.map((x) => ({ g: x.groupId, s: x.seq })));
  const r = await db.execute<{ group_id: string; seq: number; body: string | null; subject: string | null; variables: Record<string, string> | null }>(sql`
    SELECT r.group_message_id::text AS group_id, r.seq, g.body, g.subject, r.variables
    FROM jsonb_to_recordset(${list}::jsonb) AS x(g uuid, s int)
    JOIN group_recipients r ON r.group_message_id = x.g AND r.seq = x.s
    JOIN group_messages g ON g.id = x.g`);
  return new Map(r.rows.map((x) => [recipientKey({ groupId: x.group_id, seq: x.seq }), { body: x.body, subject: x.subject, variables: x.variables }]));
}

export const recipientKey = (ref: RecipientRef): string => `${ref.groupId}:${ref.seq}`;
