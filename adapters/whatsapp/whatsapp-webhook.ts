// WhatsApp Cloud API webhooks: `entry[].changes[]` with field "messages" carry
// inbound `messages[]` and outbound `statuses[]`.
// https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
import type { InboundMessage, StatusUpdate, WebhookRequest } from '../types';
import type { MessageStatus } from '../../lifecycle';
import { envelope, epoch, list, optionalText, record, text, type Json } from '../meta/webhook';

/** Meta's statuses → ours. A voice message "played" has been heard, which is read. */
export const STATUS_MAP: Readonly<Record<string, MessageStatus>> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  played: 'read',
  failed: 'failed',
};

/**
 * Every `value` of a "messages" change for the channel's own number; other fields (template
 * reviews, account updates) are not ours. One app secret signs the events of every number the
 * app serves, so a value for another `metadata.phone_number_id` (or none) is left out.
 */
function messageValues(req: WebhookRequest, phoneNumberId: string | undefined): Json[] {
  const root = envelope(req, 'whatsapp_business_account');
  return list(root.entry, 'entry').flatMap((entry, i) =>
    list(record(entry, `entry[${i}]`).changes, `entry[${i}].changes`)
      .map((change, j) => record(change, `entry[${i}].changes[${j}]`))
      .filter((change) => change.field === 'messages')
      .map((change, j) => record(change.value, `entry[${i}].changes[${j}].value`))
      .filter((value, j) => {
        const metadata = value.metadata === undefined ? undefined : record(value.metadata, `entry[${i}].changes[${j}].value.metadata`);
        return phoneNumberId !== undefined && phoneNumberId !== '' && optionalText(metadata?.phone_number_id) === phoneNumberId;
      }),
  );
}

/** `phoneNumberId`: the channel's phone_number_id; messages to any other number are left out. */
export function parseInbound(req: WebhookRequest, phoneNumberId: string | undefined): InboundMessage[] {
  return messageValues(req, phoneNumberId).flatMap((value) => {
    const messages = list(value.messages, 'value.messages');
    if (messages.length === 0) return [];
    const metadata = record(value.metadata, 'value.metadata');
    return messages.map((m, k) => {
      const message = record(m, `messages[${k}]`);
      return {
        providerMessageId: text(message.id, `messages[${k}].id`),
        from: e164(text(message.from, `messages[${k}].from`)),
        to: e164(text(metadata.display_phone_number, 'value.metadata.display_phone_number')),
        body: bodyOf(message),
        receivedAt: epoch(message.timestamp, 1000, `messages[${k}].timestamp`),
        raw: message,
      };
    });
  });
}

/** `phoneNumberId`: the channel's phone_number_id; statuses of any other number's messages are left out. */
export function parseStatusUpdates(req: WebhookRequest, phoneNumberId: string | undefined): StatusUpdate[] {
  return messageValues(req, phoneNumberId).flatMap((value) =>
    list(value.statuses, 'value.statuses').flatMap((s, k): StatusUpdate[] => {
      const entry = record(s, `statuses[${k}]`);
      const providerMessageId = text(entry.id, `statuses[${k}].id`);
      // Meta adds statuses over time; an unknown one must not turn the whole delivery into a 400 Meta would retry.
      const metaStatus = text(entry.status, `statuses[${k}].status`);
      // Own keys only: '__proto__' or 'constructor' would find Object.prototype's members.
      const status = Object.hasOwn(STATUS_MAP, metaStatus) ? STATUS_MAP[metaStatus] : undefined;
      if (!status) return [];
      const update: StatusUpdate = { providerMessageId, status, occurredAt: epoch(entry.timestamp, 1000, `statuses[${k}].timestamp`) };
      const messageId = optionalText(entry.biz_opaque_callback_data);
      if (messageId) update.messageId = messageId;
      const [error] = list(entry.errors, `statuses[${k}].errors`);
      if (error !== undefined) {
        const e = record(error, `statuses[${k}].errors[0]`);
        const code = optionalText(e.code);
        if (code) update.errorCode = code;
        const details = optionalText(record(e.error_data ?? {}, 'error_data').details);
        const title = optionalText(e.title) ?? optionalText(e.message);
        const message = [title, details].filter(Boolean).join(': ');
        if (message) update.errorMessage = message;
      }
      return [update];
    }),
  );
}

/** WhatsApp ids are E.164 digits without the plus; ours carry it. */
export function e164(digits: string): string {
  return `+${digits.replace(/\D/g, '')}`;
}

/** Text as text; anything else a short placeholder so the conversation log still reads. */
function bodyOf(message: Json): string {
  const type = optionalText(message.type) ?? 'unknown';
  const part = (key: string): Json => (typeof message[key] === 'object' && message[key] !== null ? (message[key] as Json) : {});
  switch (type) {
    case 'text':
      return optionalText(part('text').body) ?? '';
    case 'button':
      return optionalText(part('button').text) ?? '[button]';
    case 'interactive': {
      const chosen = (part('interactive').button_reply ?? part('interactive').list_reply) as Json | undefined;
      return optionalText(chosen?.title) ?? '[interactive]';
    }
    case 'reaction':
      return `[reaction ${optionalText(part('reaction').emoji) ?? ''}]`.replace(' ]', ']');
    default: {
      const caption = optionalText(part(type).caption);
      return caption ? `[${type}] ${caption}` : `[${type}]`;
    }
  }
}
