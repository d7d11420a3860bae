import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { MessageStatus } from '../adapters/types';
import type { Db } from './client';
import { accounts, apiKeys, channels, messages, type ChannelRow, type MessageMetadata, type MessageRow } from './schema';
import { isUuidv7, uuidv7, uuidv7Time } from './uuidv7';

// Data access shared by the API and the activities. Every message lookup by id
// also pins created_at (derived from the UUIDv7), so it touches one partition.

export interface ApiKeyIssued {
  key: string;
  prefix: string;
}

const KEY_PREFIX = 'tdk';

function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function createAccount(db: Db, name: string): Promise<{ id: string; name: string }> {
  const id = uuidv7();
  await db.insert(accounts).values({ id, name });
  return { id, name };
}

/** Key format `tdk_<prefix>_<secret>`: the prefix is stored in clear for lookup and display, the whole key only as a hash. */
export async function createApiKey(db: Db, accountId: string, name = 'default'): Promise<ApiKeyIssued> {
  const prefix = randomBytes(6).toString('hex');
  const key = `${KEY_PREFIX}_${prefix}_${randomBytes(24).toString('base64url')}`;
  await db.insert(apiKeys).values({ id: uuidv7(), accountId, prefix, keyHash: hashKey(key), name });
  return { key, prefix };
}

export async function accountForApiKey(db: Db, key: string): Promise<string | undefined> {
  const m = /^tdk_([0-9a-f]{12})_[\w-]{16,}$/.exec(key);
  if (!m) return undefined;
  const [row] = await db
    .select({ accountId: apiKeys.accountId, keyHash: apiKeys.keyHash })
    .from(apiKeys)
    .where(and(eq(apiKeys.prefix, m[1] ?? ''), isNull(apiKeys.revokedAt)));
  if (!row) return undefined;
  const a = Buffer.from(row.keyHash, 'hex');
  const b = Buffer.from(hashKey(key), 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? row.accountId : undefined;
}

export interface NewChannel {
  accountId: string;
  channelType: string;
  provider: string;
  name: string;
  credentials: Record<string, string>;
  rateLimitPerSecond?: number | null;
  dailyLimit?: number | null;
}

export async function createChannel(db: Db, input: NewChannel): Promise<ChannelRow> {
  const [row] = await db
    .insert(channels)
    .values({ id: uuidv7(), webhookSecret: randomBytes(24).toString('base64url'), ...input })
    .returning();
  if (!row) throw new Error('channel insert returned no row');
  return row;
}

export async function getChannel(db: Db, id: string, accountId?: string): Promise<ChannelRow | undefined> {
  const where = accountId ? and(eq(channels.id, id), eq(channels.accountId, accountId)) : eq(channels.id, id);
  const [row] = await db.select().from(channels).where(where);
  return row;
}

export interface NewMessage {
  accountId: string;
  channelId: string;
  channelType: string;
  to: string;
  from?: string | null;
  body?: string | null;
  subject?: string | null;
  html?: string | null;
  template?: unknown;
  metadata: MessageMetadata;
  groupMessageId?: string | null;
}

export async function insertMessage(db: Db, input: NewMessage, now = Date.now()): Promise<MessageRow> {
  const id = uuidv7(now);
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
    .returning();
  if (!row) throw new Error('message insert returned no row');
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
  await db.update(messages).set({ workflowStartedAt: sql`now()` }).where(byId(id));
}

const STATUS_TIME_COLUMN: Partial<Record<MessageStatus, string>> = {
  sending: 'sending_at',
  sent: 'sent_at',
  delivered: 'delivered_at',
  read: 'read_at',
  undelivered: 'failed_at',
  failed: 'failed_at',
};

export interface StatusChange {
  status: MessageStatus;
  at: Date;
  providerMessageId?: string;
  errorCode?: string | null;
  errorMessage?: string | null;
}

/**
 * Moves a message forward to `change.status`, never backward: the UPDATE only
 * matches while the stored status ranks lower. Returns whether it applied.
 */
export async function advanceStatus(db: Db, id: string, change: StatusChange): Promise<boolean> {
  const col = STATUS_TIME_COLUMN[change.status];
  const set: Record<string, unknown> = { status: change.status, updatedAt: sql`now()` };
  if (col) set[toCamel(col)] = change.at;
  if (change.errorCode !== undefined) set.errorCode = change.errorCode;
  if (change.errorMessage !== undefined) set.errorMessage = change.errorMessage;
  if (change.providerMessageId !== undefined) {
    set.metadata = sql`${messages.metadata} || jsonb_build_object('provider_message_id', ${change.providerMessageId}::text)`;
  }
  const updated = await db
    .update(messages)
    .set(set)
    .where(and(byId(id), sql`message_status_rank(${messages.status}) < message_status_rank(${change.status})`))
    .returning({ id: messages.id });
  return updated.length > 0;
}

function toCamel(column: string): string {
  return column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export async function findMessageByProviderId(
  db: Db,
  channelId: string,
  providerMessageId: string,
): Promise<MessageRow | undefined> {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(sql`${messages.metadata}->>'provider_message_id' = ${providerMessageId}`, eq(messages.channelId, channelId)))
    .limit(1);
  return row;
}
