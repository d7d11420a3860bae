import type { AdapterRegistry } from '../adapters/registry';
import type { ChannelAdapter } from '../adapters/types';
import type { Db } from '../db/client';
import { getChannel } from '../db/channels';
import type { ChannelRow } from '../db/schema';
import { isUuid } from '../db/uuidv7';
import { badRequest, notFound } from './errors';

// What both send routes (one message, a group) check before they accept anything.

/** The caller's channel and its adapter: 404 when it is not theirs, 400 when it is disabled. */
export async function sendableChannel(
  db: Db,
  adapters: AdapterRegistry,
  channelId: string,
  accountId: string,
): Promise<{ channel: ChannelRow; adapter: ChannelAdapter }> {
  const channel = isUuid(channelId) ? await getChannel(db, channelId, accountId) : undefined;
  if (!channel) throw notFound('channel');
  if (!channel.enabled) throw badRequest('channel_id', 'channel is disabled');
  return { channel, adapter: adapters.get(channel.channelType, channel.provider) };
}

/** Something to send, and a subject where the channel is email. */
export function checkContent(content: { body?: string; html?: string; template?: unknown; subject?: string }, channelType: string): void {
  if (!content.body && !content.template && !content.html) throw badRequest('body', 'body, html or template is required');
  if (channelType === 'email' && !content.subject) throw badRequest('subject', 'is required for email');
}
