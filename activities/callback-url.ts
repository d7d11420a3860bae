import type { ChannelType } from '../adapters/types';

/** The per-message status callback: our own id rides back in the query string. */
export function statusCallbackUrl(publicBaseUrl: string, channelType: ChannelType, channelId: string, messageId: string): string {
  return `${publicBaseUrl}/webhooks/${channelType}/${channelId}?message_id=${encodeURIComponent(messageId)}`;
}
