import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ChannelType, MessageStatus } from '../lifecycle';

// Names shared by the workflows, the API, the worker and the tests.

export const DISPATCH_TASK_QUEUE = 'dispatch';
/**
 * A message's workflow runs on its channel type's own task queue: the send is a local
 * activity of the workflow task, so each channel type has its own worker slots and a
 * hanging provider only holds up messages of its own type.
 */
export function messageTaskQueue(channelType: ChannelType): string {
  return `dispatch-${channelType}`;
}
export function messageWorkflowId(messageId: string): string {
  return `message-${messageId}`;
}

export interface DeliveryStatus {
  status: MessageStatus;
  providerMessageId?: string;
  errorCode?: string;
  errorMessage?: string;
  /** The provider's time of the status (else when we learned it), ISO 8601. */
  occurredAt: string;
}

/**
 * Sent by dispatch/receipts.ts (for the webhook route; later by the outbox sweeper when
 * Temporal was unreachable) once a receipt has moved the message's row to its first status
 * that ends the wait (delivered, read, undelivered, failed): the row is the record, the
 * signal only wakes the workflow. Intermediate statuses, and a `read` after `delivered`,
 * never reach Temporal.
 */
export const deliveryStatusSignal = defineSignal<[DeliveryStatus]>('deliveryStatus');
export const statusQuery = defineQuery<MessageStatus>('status');

export interface SendRetry {
  maxAttempts: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
}

export type DeliveryTimeoutAction = 'keep' | 'undelivered';

/** Small on purpose: ids and settings, never message bodies (payload limits, history size). */
export interface DispatchMessageInput {
  messageId: string;
  channelId: string;
  channelType: ChannelType;
  /** How long to wait for receipts after the send. */
  deliveryWaitSeconds: number;
  /** At the end of the wait: keep the status (late receipts still apply) or mark the message undelivered. */
  onDeliveryTimeout: DeliveryTimeoutAction;
  retry: SendRetry;
}

export interface DispatchMessageResult {
  status: MessageStatus;
  providerMessageId?: string;
}

export interface SendSlot {
  waitMs: number;
  /** True when the slot at now + waitMs is held for this message. */
  reserved: boolean;
  reason?: string;
}

export const SEARCH_ATTRIBUTES = {
  accountId: defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD),
  channelId: defineSearchAttributeKey('ChannelId', SearchAttributeType.KEYWORD),
  channelType: defineSearchAttributeKey('ChannelType', SearchAttributeType.KEYWORD),
  messageStatus: defineSearchAttributeKey('MessageStatus', SearchAttributeType.KEYWORD),
  groupMessageId: defineSearchAttributeKey('GroupMessageId', SearchAttributeType.KEYWORD),
} as const;

export interface MessageAttributeInput {
  accountId: string;
  channelId: string;
  channelType: string;
  /** `queued` at start; the final status is upserted once at the end of the run. */
  status: MessageStatus;
  groupMessageId?: string | null;
}

/** Search attributes every message workflow starts with, wherever it is started (API, sweeper, replay, fan-out). */
export function messageSearchAttributes(m: MessageAttributeInput) {
  const sa = SEARCH_ATTRIBUTES;
  return [
    { key: sa.accountId, value: m.accountId },
    { key: sa.channelId, value: m.channelId },
    { key: sa.channelType, value: m.channelType },
    { key: sa.messageStatus, value: m.status },
    ...(m.groupMessageId ? [{ key: sa.groupMessageId, value: m.groupMessageId }] : []),
  ];
}

/** `temporal operator search-attribute create` arguments, for the dev stack and temporal-config/. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SEARCH_ATTRIBUTES).map((k) => k.name);

/** Summary on the durable timer a message sleeps in when its channel's limiter refuses a slot (shown in the Web UI). */
export const RATE_LIMIT_TIMER = 'rate limit: waiting for a send slot';

/** Error type names the send activity raises (ApplicationFailure.type). */
export const SEND_ERROR_TYPES = {
  permanent: 'PermanentSendError',
  transient: 'TransientSendError',
  rateLimited: 'RateLimitedError',
} as const;

export interface SendFailureDetails {
  code: string;
  message: string;
}

// Group fan-out: workflow `groupFanout` (id group-<id>; a batched group runs batchedFanout in it), its signals and progress query.

export const GROUP_FANOUT_WORKFLOW = 'groupFanout';
export function groupWorkflowId(groupId: string): string {
  return `group-${groupId}`;
}

export const GROUP_STATUSES = ['draft', 'running', 'paused', 'cancelled', 'completed'] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];

/** Stop starting new pages (batches) of recipients until resumed; started messages go on. */
export const pauseGroupSignal = defineSignal('pauseGroup');
export const resumeGroupSignal = defineSignal('resumeGroup');
/** Stop for good: recipients whose message was not started are never sent. */
export const cancelGroupSignal = defineSignal('cancelGroup');

export interface GroupProgress {
  state: Exclude<GroupStatus, 'draft'>;
  /** Recipients whose message row exists (batched: whose first batch was reserved). */
  materialized: number;
  /** Message workflows started (by this fan-out, over all its runs); batched: recipients sent or failed. */
  started: number;
  /** Every recipient with seq <= cursor has its message workflow started (batched: has had its first batch). */
  cursor: number;
}
export const groupProgressQuery = defineQuery<GroupProgress>('groupProgress');

export const GROUP_MODES = ['batched', 'per_message'] as const;
export type GroupMode = (typeof GROUP_MODES)[number];

/** How a batched group sends: computed by the API from its config. */
export interface BatchSettings {
  /** Recipients per sendBatch activity. */
  size: number;
  /** sendBatch activities in flight at once. */
  inFlight: number;
  /** Provider calls in flight at once inside one batch. */
  concurrency: number;
}

/** One sendBatch call: a page of recipients (first pass) or of unsent ones (retry pass). */
export interface BatchRequest {
  groupId: string;
  /** 'first': recipients (afterSeq, afterSeq + limit]; 'retry': the next `limit` unsent ones after afterSeq. */
  pass: 'first' | 'retry';
  afterSeq: number;
  limit: number;
  /** When the batch's first reserved slot begins (epoch ms) and the spacing of the rest. */
  startAtMs: number;
  intervalMs: number;
  concurrency: number;
  retry: SendRetry;
  /** Every recipient up to this seq is done with its first pass: recorded on the group's row. */
  cursorThrough: number;
}

export interface BatchResult {
  /** Highest seq this call looked at (0 when none). */
  throughSeq: number;
  recipients: number;
  sent: number;
  failed: number;
  /** Left unsent for a retry pass (transient errors, 429s). */
  deferred: number;
  /** Already sent or failed before this call (a retried or resumed batch). */
  skipped: number;
  /** Longest Retry-After a deferred recipient was given, ms (0: none). */
  retryAfterMs: number;
}

export interface BatchSlot extends SendSlot {
  /** Slots reserved (≤ asked: a daily limit may leave fewer today). */
  count: number;
  intervalMs: number;
  /** Epoch ms of the first reserved slot. */
  startAtMs: number;
}

export interface GroupFanoutInput {
  groupId: string;
  /** Absent in fan-outs started before batched groups existed: per_message. */
  mode?: GroupMode;
  batch?: BatchSettings;
  accountId: string;
  /** Recipients in the group: it is no longer a draft, so this is final. */
  total: number;
  traceId: string;
  /** Every child's input but its messageId: computed by the API from its config, so the workflow needs none. */
  dispatch: Omit<DispatchMessageInput, 'messageId'>;
  /** Where the previous run stopped (continue-as-new); absent on the first run. */
  resume?: { cursor: number; started: number; materialized: number; paused: boolean; run: number; batched?: BatchedResume };
}

/** A batched fan-out's progress carried over continue-as-new. */
export interface BatchedResume {
  sent: number;
  failed: number;
  /** 0 during the first pass; n during the n-th retry pass. */
  retryPass: number;
  /** True once every recipient was sent or failed: only the delivery timeout remains. */
  sendsDone: boolean;
  /** Recipients left for the next retry pass. */
  deferred: number;
}

export interface GroupFanoutResult {
  state: 'completed' | 'cancelled';
  started: number;
  runs: number;
}

// Record expiry (workflows/record-expiry.ts): the tables it empties of old rows, one activity each.

export const EXPIRING_TABLE_NAMES = ['idempotency_keys', 'pending_status_updates', 'inbound_dedup'] as const;
export type ExpiringTableName = (typeof EXPIRING_TABLE_NAMES)[number];
