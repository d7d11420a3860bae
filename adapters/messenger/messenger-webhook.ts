// Messenger webhooks: `{object: "page", entry: [{id, time, messaging: [event]}]}`, one
// event per message, delivery receipt or read receipt.
// https://developers.facebook.com/docs/messenger-platform/webhooks
import type { InboundMessage, StatusUpdate, WebhookRequest } from '../types';
import { envelope, epoch, list, optionalText, record, text, type Json } from '../meta/webhook';

/**
 * The messaging events of the channel's own page. One app secret signs the events of every
 * page the app serves, so an entry whose `id` is another page (or none) is left out.
 */
function events(req: WebhookRequest, pageId: string | undefined): Json[] {
  const root = envelope(req, 'page');
  return list(root.entry, 'entry').flatMap((entry, i) => {
    const e = record(entry, `entry[${i}]`);
    if (pageId === undefined || pageId === '' || optionalText(e.id) !== pageId) return [];
    // Entries without `messaging` (standby, feed changes) carry nothing for us.
    return list(e.messaging, `entry[${i}].messaging`).map((m, j) => record(m, `entry[${i}].messaging[${j}]`));
  });
}

/** `pageId`: the channel's page_id; messages to any other page are left out. */
export function parseInbound(req: WebhookRequest, pageId: string | undefined): InboundMessage[] {
  return events(req, pageId).flatMap((event): InboundMessage[] => {
    if (event.message === undefined) return [];
    const message = record(event.message, 'messaging.message');
    // Our own sends come back as echoes when the page subscribes to message_echoes.
    if (message.is_echo === true) return [];
    return [
      {
        providerMessageId: text(message.mid, 'message.mid'),
        from: text(record(event.sender, 'messaging.sender').id, 'sender.id'),
        to: text(record(event.recipient, 'messaging.recipient').id, 'recipient.id'),
        body: bodyOf(message),
        receivedAt: epoch(event.timestamp, 1, 'messaging.timestamp'),
        raw: event,
      },
    ];
  });
}

/**
 * Receipts name the person (sender) and a watermark: every message to them sent at or
 * before it is delivered (or read). Deliveries may also list message ids; both are
 * reported, because old Messenger clients send the watermark alone.
 */
export function parseStatusUpdates(req: WebhookRequest, pageId: string | undefined): StatusUpdate[] {
  return events(req, pageId).flatMap((event): StatusUpdate[] => {
    const receipt = event.delivery ?? event.read;
    if (receipt === undefined) return [];
    const status = event.delivery !== undefined ? 'delivered' : 'read';
    const body = record(receipt, `messaging.${status === 'delivered' ? 'delivery' : 'read'}`);
    const upTo = epoch(body.watermark, 1, 'watermark');
    const occurredAt = event.timestamp === undefined ? upTo : epoch(event.timestamp, 1, 'messaging.timestamp');
    const recipient = text(record(event.sender, 'messaging.sender').id, 'sender.id');
    const byId = list(body.mids, 'delivery.mids').map((mid, k): StatusUpdate => ({
      providerMessageId: text(mid, `delivery.mids[${k}]`),
      status,
      occurredAt,
    }));
    return [...byId, { providerMessageId: '', status, occurredAt, watermark: { recipient, upTo } }];
  });
}

/** Text as text; attachments as short placeholders ("[image]") so the conversation log still reads. */
function bodyOf(message: Json): string {
  const words = optionalText(message.text);
  const attachments = list(message.attachments, 'message.attachments').map((a) => `[${optionalText((a as Json | null)?.type) ?? 'attachment'}]`);
  return [...attachments, ...(words ? [words] : [])].join(' ') || '[empty]';
}
