import { bigint, bigserial, boolean, date, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { ChannelType } from '../lifecycle';
import type { EncryptedCredentials } from './credentials-crypto';

// Mirrors db/migrations/*.sql, which are the source of truth for DDL
// (partitioning and expression indexes are hand-written SQL).

export const accounts = pgTable('accounts', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  /** Per-account quotas (db/migrations/0009_quotas.sql): NULL takes the QUOTA_* default, 0 is unlimited. */
  quotaMessagesPerDay: integer('quota_messages_per_day'),
  quotaRecipientsPerGroup: integer('quota_recipients_per_group'),
  quotaChannels: integer('quota_channels'),
});

/** Messages accepted per account and UTC day, raised atomically against the daily quota. */
export const accountDailyUsage = pgTable(
  'account_daily_usage',
  {
    accountId: uuid('account_id').notNull(),
    day: date('day').notNull(),
    messages: bigint('messages', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.day] })],
);

export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull(),
  prefix: text('prefix').notNull(),
  keyHash: text('key_hash').notNull(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

export const channels = pgTable('channels', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull(),
  channelType: text('channel_type').$type<ChannelType>().notNull(),
  provider: text('provider').notNull(),
  name: text('name').notNull(),
  /** Encrypted (db/credentials-crypto.ts); a row written before encryption holds them in clear until rotated. */
  credentials: jsonb('credentials').$type<EncryptedCredentials | Record<string, string>>().notNull(),
  webhookSecret: text('webhook_secret').notNull(),
  /** The secret before the last rotation, still accepted until webhookSecretPreviousUntil (0010_secret_rotation.sql). */
  webhookSecretPrevious: text('webhook_secret_previous'),
  webhookSecretPreviousUntil: timestamp('webhook_secret_previous_until', { withTimezone: true }),
  rateLimitPerSecond: integer('rate_limit_per_second'),
  dailyLimit: integer('daily_limit'),
  enabled: boolean('enabled').notNull().default(true),
  sandbox: boolean('sandbox').notNull().default(false),
  webhookSignatureRequired: boolean('webhook_signature_required').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export interface MessageMetadata {
  trace_id?: string;
  provider_message_id?: string;
  user?: Record<string, unknown>;
  [key: string]: unknown;
}

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    accountId: uuid('account_id').notNull(),
    channelId: uuid('channel_id').notNull(),
    channelType: text('channel_type').$type<ChannelType>().notNull(),
    direction: text('direction').notNull().default('outbound'),
    toAddress: text('to_address').notNull(),
    fromAddress: text('from_address'),
    body: text('body'),
    subject: text('subject'),
    html: text('html'),
    template: jsonb('template'),
    status: text('status').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    groupMessageId: uuid('group_message_id'),
    /** The recipient (group_recipients.seq) of a group's message: its content is the group's, rendered for it (0008_group_content.sql). */
    groupSeq: integer('group_seq'),
    workflowId: text('workflow_id'),
    workflowStartedAt: timestamp('workflow_started_at', { withTimezone: true }),
    /** Times the message was replayed: its current run's number (db/migrations/0002_delivery_state.sql). */
    replays: integer('replays').notNull().default(0),
    metadata: jsonb('metadata_').$type<MessageMetadata>().notNull(),
    sendingAt: timestamp('sending_at', { withTimezone: true }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    readAt: timestamp('read_at', { withTimezone: true }),
    failedAt: timestamp('failed_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.id, t.createdAt] })],
);

export type MessageRow = typeof messages.$inferSelect;

/** A message's history (db/migrations/0002_delivery_state.sql): one row per status and run, and its replays. */
export const messageEvents = pgTable('message_events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  messageId: uuid('message_id').notNull(),
  run: integer('run').notNull().default(0),
  kind: text('kind').$type<'status' | 'replay'>().notNull().default('status'),
  status: text('status').notNull(),
  /** Our time of it: the provider's where it gives one, never earlier than the status before. */
  occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  /** A receipt's time as the provider gave it (often to the minute); null when it gave none (0013_provider_time.sql). */
  providerTime: timestamp('provider_time', { withTimezone: true }),
  recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  source: text('source').notNull(),
  errorCode: text('error_code'),
  detail: jsonb('detail'),
});
/** A channel as the process sees it: its credentials decrypted (db/channels.ts does it on every read). */
export type ChannelRow = Omit<typeof channels.$inferSelect, 'credentials'> & { credentials: Record<string, string> };

// Group fan-out (db/migrations/0004_groups.sql).
export const groupMessages = pgTable('group_messages', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull(),
  channelId: uuid('channel_id').notNull(),
  channelType: text('channel_type').$type<ChannelType>().notNull(),
  status: text('status').$type<'draft' | 'running' | 'paused' | 'cancelled' | 'completed'>().notNull(),
  /** How the fan-out sends (db/migrations/0012_batched_groups.sql). */
  mode: text('mode').$type<'batched' | 'per_message'>().notNull().default('per_message'),
  body: text('body'),
  subject: text('subject'),
  html: text('html'),
  template: jsonb('template'),
  metadata: jsonb('metadata_').$type<MessageMetadata>().notNull(),
  total: integer('total').notNull().default(0),
  materialized: integer('materialized').notNull().default(0),
  started: integer('started').notNull().default(0),
  cursor: integer('cursor').notNull().default(0),
  workflowId: text('workflow_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  startedAt: timestamp('started_at', { withTimezone: true }),
  workflowStartedAt: timestamp('workflow_started_at', { withTimezone: true }),
  fanoutCompletedAt: timestamp('fanout_completed_at', { withTimezone: true }),
  cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const groupRecipients = pgTable(
  'group_recipients',
  {
    groupMessageId: uuid('group_message_id').notNull(),
    seq: integer('seq').notNull(),
    toAddress: text('to_address').notNull(),
    variables: jsonb('variables').$type<Record<string, string>>(),
    messageId: uuid('message_id'),
    /** Send attempts of a batched recipient so far. */
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.groupMessageId, t.seq] })],
);

export type GroupMessageRow = typeof groupMessages.$inferSelect;
