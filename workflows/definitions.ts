import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ChannelType, MessageStatus } from '../adapters/types';

// Names shared by the workflows, the API, the worker and the tests.

export const DISPATCH_TASK_QUEUE = 'dispatch';
export function sendTaskQueue(channelType: ChannelType): string {
  return `send-${channelType}`;
}
export function messageWorkflowId(messageId: string): string {
  return `message-${messageId}`;
}

export interface DeliveryStatus {
  status: MessageStatus;
  providerMessageId?: string;
  errorCode?: string;
  errorMessage?: string;
  /** Provider's time of the event, ISO 8601. */
  occurredAt: string;
}

export const deliveryStatusSignal = defineSignal<[DeliveryStatus]>('deliveryStatus');
export const statusQuery = defineQuery<MessageStatus>('status');

export interface SendRetry {
  maxAttempts: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
}

/** Small on purpose: ids and settings, never message bodies (payload limits, history size). */
export type DeliveryTimeoutAction = 'keep' | 'undelivered';

export interface DispatchMessageInput {
  messageId: string;
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

export const STATUS_RANK: Record<MessageStatus, number> = {
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  read: 4,
  undelivered: 5,
  failed: 5,
};

/** Statuses after which the workflow stops waiting for receipts. */
export function isFinal(status: MessageStatus): boolean {
  return STATUS_RANK[status] >= STATUS_RANK.delivered;
}

export const SEARCH_ATTRIBUTES = {
  accountId: defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD),
  channelId: defineSearchAttributeKey('ChannelId', SearchAttributeType.KEYWORD),
  channelType: defineSearchAttributeKey('ChannelType', SearchAttributeType.KEYWORD),
  messageStatus: defineSearchAttributeKey('MessageStatus', SearchAttributeType.KEYWORD),
  groupMessageId: defineSearchAttributeKey('GroupMessageId', SearchAttributeType.KEYWORD),
} as const;

/** `temporal operator search-attribute create` arguments, for the dev stack and temporal-config/. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SEARCH_ATTRIBUTES).map((k) => k.name);

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
