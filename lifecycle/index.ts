// The words of a message's life, shared by the workflows, the database, the API, the
// adapters and the CLI. Pure TypeScript with no imports, because workflow code loads it.
// db/migrations/0001_init.sql spells the same order as message_status_rank() and the same
// lists as CHECK constraints; db/lifecycle.spec.ts proves they agree.

export const CHANNEL_TYPES = ['sms', 'whatsapp', 'messenger', 'email', 'smpp'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export function isChannelType(value: unknown): value is ChannelType {
  return typeof value === 'string' && (CHANNEL_TYPES as readonly string[]).includes(value);
}

/** A message's statuses, in the order it moves through them. */
export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'undelivered', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * A status only moves to a higher rank, so receipts arriving out of order never move a
 * message back. `undelivered` and `failed` share the last rank: neither replaces the other.
 */
export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = {
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  read: 4,
  undelivered: 5,
  failed: 5,
};

/** The statuses after which a message's workflow stops waiting for receipts (a later `read` still reaches the row). */
export function isFinal(status: MessageStatus): boolean {
  return STATUS_RANK[status] >= STATUS_RANK.delivered;
}
