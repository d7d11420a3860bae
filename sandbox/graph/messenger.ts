// The Messenger Send API side: POST /{version}/me/messages and the delivery and
// read receipts that follow. https://developers.facebook.com/docs/messenger-platform/reference/send-api
import { count, errorAnswer, faultFor, windowOpen, type Answer, type GraphSimApp, type SendScript, type SimCore } from './core';
import { invalidParameter, newMid, pageEnvelope, type GraphErrorSpec } from './wire';

const MAX_TEXT = 2000;
const MESSAGING_TYPES = ['RESPONSE', 'UPDATE', 'MESSAGE_TAG'];
const TAGS = ['ACCOUNT_UPDATE', 'CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'HUMAN_AGENT', 'CUSTOMER_FEEDBACK'];

const UNAVAILABLE_PERSON: GraphErrorSpec = {
  status: 400,
  code: 551,
  subcode: 1545041,
  message: "(#551) This person isn't available right now.",
};
const UNEXPECTED: GraphErrorSpec = { status: 500, code: 2, message: 'An unexpected error has occurred. Please retry your request later.' };
const RATE_LIMITED: GraphErrorSpec = { status: 400, code: 613, message: '(#613) Calls to this api have exceeded the rate limit.' };
const OUTSIDE_WINDOW: GraphErrorSpec = {
  status: 400,
  code: 10,
  subcode: 2018278,
  message:
    '(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview',
};

/** Send behaviour scripted by the recipient PSID. See sandbox/README.md. */
export const MESSENGER_SCRIPTS: Readonly<Record<string, SendScript>> = {
  '5550000551': { kind: 'reject', error: UNAVAILABLE_PERSON },
  '5550000500': { kind: 'fail-first', attempts: 2, error: UNEXPECTED },
  '5550000613': { kind: 'fail-first', attempts: 1, error: RATE_LIMITED, retryAfterSec: 2 },
  '5550000408': { kind: 'fail-first', attempts: 1, hang: true },
};
/** Accepted; no receipt ever follows. */
export const MESSENGER_SILENT = '5550000000';
/** Accepted; the delivery receipt carries the watermark only (no mids), like old Messenger clients. */
export const MESSENGER_WATERMARK_ONLY = '5550000001';

export function windowKey(pageId: string, psid: string): string {
  return `messenger:${pageId}:${psid}`;
}

export function messengerSend(core: SimCore, app: GraphSimApp, body: unknown): Answer {
  const parsed = validate(body);
  if ('status' in parsed) return parsed;
  const { psid, text, messagingType } = parsed;
  const pageId = app.pageId ?? '';
  const key = parsed.metadata ?? `${psid}:${text}`;
  const fault = faultFor(core, MESSENGER_SCRIPTS[psid], key, { permanent: UNAVAILABLE_PERSON, unavailable: UNEXPECTED, rateLimited: RATE_LIMITED });
  if (fault) return fault;
  if (messagingType !== 'MESSAGE_TAG' && core.enforceWindow && !windowOpen(core, windowKey(pageId, psid))) return errorAnswer(OUTSIDE_WINDOW);

  const mid = newMid();
  count(core.accepted, key);
  const after = async (): Promise<void> => {
    if (psid === MESSENGER_SILENT) return;
    const party = { sender: { id: psid }, recipient: { id: pageId } };
    // A watermark says "everything up to now": taken when the receipt goes out, after the message.
    const receipts: Array<[string, (now: number) => Record<string, unknown>]> = [
      ['deliveries', (now) => ({ ...party, delivery: { ...(psid === MESSENGER_WATERMARK_ONLY ? {} : { mids: [mid] }), watermark: now } })],
      ['reads', (now) => ({ ...party, timestamp: now, read: { watermark: now } })],
    ];
    for (const [event, receipt] of receipts) {
      await core.webhooks.sleep(core.callbackDelayMs);
      if (core.webhooks.closed) return;
      const url = core.webhookUrl('messenger', pageId);
      if (!url) {
        core.log(`no messenger webhook for page ${pageId}; ${event} of ${mid} dropped`);
        continue;
      }
      await core.webhooks.deliver('messenger', url, event, pageEnvelope(pageId, [receipt(Date.now())]), app.appSecret);
    }
  };
  return { status: 200, body: { recipient_id: psid, message_id: mid }, after };
}

/** The `messages` webhook event a person's message produces; opens the 24-hour window. */
export function messengerInbound(core: SimCore, app: GraphSimApp, psid: string, text: string): { id: string; payload: unknown } {
  const pageId = app.pageId ?? '';
  const mid = newMid();
  const now = Date.now();
  core.lastInbound.set(windowKey(pageId, psid), now);
  const payload = pageEnvelope(pageId, [{ sender: { id: psid }, recipient: { id: pageId }, timestamp: now, message: { mid, text } }]);
  return { id: mid, payload };
}

type Parsed = { psid: string; text: string; messagingType: string; metadata?: string };

function validate(body: unknown): Parsed | Answer {
  const bad = (message: string): Answer => errorAnswer(invalidParameter(message));
  if (typeof body !== 'object' || body === null) return bad('Invalid parameter');
  const b = body as Record<string, unknown>;
  const psid = (b.recipient as { id?: unknown } | undefined)?.id;
  if (typeof psid !== 'string' || !/^\d+$/.test(psid)) return bad('param recipient[id] must be a valid page-scoped id');
  const messagingType = b.messaging_type;
  if (typeof messagingType !== 'string' || !MESSAGING_TYPES.includes(messagingType)) {
    return bad(`param messaging_type must be one of {${MESSAGING_TYPES.join(', ')}}`);
  }
  if (messagingType === 'MESSAGE_TAG' && (typeof b.tag !== 'string' || !TAGS.includes(b.tag))) {
    return bad(`Param tag must be one of {${TAGS.join(', ')}}`);
  }
  const message = b.message as { text?: unknown; metadata?: unknown } | undefined;
  if (typeof message?.text !== 'string' || !message.text) return bad('param message must be non-empty');
  if (message.text.length > MAX_TEXT) return bad(`Length of param message[text] must be less than or equal to ${MAX_TEXT}`);
  const metadata = typeof message.metadata === 'string' ? message.metadata : undefined;
  return { psid, text: message.text, messagingType, metadata };
}
