// The WhatsApp Cloud API side: POST /{version}/{phone_number_id}/messages and the
// status webhooks that follow an accepted message.
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
import { count, errorAnswer, faultFor, windowOpen, type Answer, type GraphSimApp, type SendScript, type SimCore } from './core';
import { invalidParameter, newWamid, unixSeconds, whatsappEnvelope, type GraphErrorSpec } from './wire';

const MAX_TEXT = 4096;
const ERROR_CODES_URL = 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/';

const UNDELIVERABLE: GraphErrorSpec = {
  status: 400,
  code: 131026,
  type: 'OAuthException',
  message: '(#131026) Message Undeliverable.',
  details: 'Message could not be delivered: the recipient may not be a WhatsApp user or has not accepted the terms.',
};
const SOMETHING_WRONG: GraphErrorSpec = { status: 500, code: 131000, message: '(#131000) Something went wrong' };
const THROUGHPUT: GraphErrorSpec = { status: 400, code: 130429, message: '(#130429) Rate limit hit' };

/** Send behaviour scripted by the recipient (digits of `to`). See sandbox/README.md. */
export const WHATSAPP_SCRIPTS: Readonly<Record<string, SendScript>> = {
  '15550001026': { kind: 'reject', error: UNDELIVERABLE },
  '15550001500': { kind: 'fail-first', attempts: 2, error: SOMETHING_WRONG },
  '15550001429': { kind: 'fail-first', attempts: 1, error: THROUGHPUT, retryAfterSec: 2 },
  '15550001056': {
    kind: 'fail-first',
    attempts: 1,
    error: { status: 400, code: 131056, message: '(#131056) (Business Account, Consumer Account) pair rate limit hit' },
  },
  '15550001408': { kind: 'fail-first', attempts: 1, hang: true },
};
/** Accepted, then a `failed` status with error 131047 instead of sent/delivered/read. */
export const WHATSAPP_FAILS_AFTER_ACCEPT = '15550001047';
/** Accepted; no status webhook ever follows. */
export const WHATSAPP_SILENT = '15550001000';

const REENGAGEMENT = {
  code: 131047,
  title: 'Re-engagement message',
  message: 'Re-engagement message',
  error_data: { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
  href: ERROR_CODES_URL,
};

export function business(app: GraphSimApp): { wabaId: string; displayPhoneNumber: string; phoneNumberId: string } {
  const phoneNumberId = app.phoneNumberId ?? '';
  return {
    wabaId: app.wabaId ?? '1029384756',
    displayPhoneNumber: app.displayPhoneNumber ?? `1555${phoneNumberId.slice(-7).padStart(7, '0')}`,
    phoneNumberId,
  };
}

export function windowKey(phoneNumberId: string, user: string): string {
  return `whatsapp:${phoneNumberId}:${user}`;
}

type Parsed = { to: string; input: string; type: 'text' | 'template'; opaque?: string; label: string };

export function whatsappSend(core: SimCore, app: GraphSimApp, body: unknown): Answer {
  const parsed = validate(body);
  if ('status' in parsed) return parsed;
  const key = parsed.opaque ?? `${parsed.to}:${parsed.label}`;
  const fault = faultFor(core, WHATSAPP_SCRIPTS[parsed.to], key, {
    permanent: UNDELIVERABLE,
    unavailable: SOMETHING_WRONG,
    rateLimited: THROUGHPUT,
  });
  if (fault) return fault;

  const id = newWamid();
  count(core.accepted, key);
  const biz = business(app);
  // Meta accepts free-form text outside the window and fails it afterwards, as a status.
  const windowClosed = parsed.type === 'text' && core.enforceWindow && !windowOpen(core, windowKey(biz.phoneNumberId, parsed.to));
  const plan = parsed.to === WHATSAPP_SILENT ? [] : parsed.to === WHATSAPP_FAILS_AFTER_ACCEPT || windowClosed ? ['failed'] : ['sent', 'delivered', 'read'];
  const category = parsed.type === 'template' ? 'utility' : 'service';
  const conversationId = id.slice(-32);

  const after = async (): Promise<void> => {
    for (const status of plan) {
      await core.webhooks.sleep(core.callbackDelayMs);
      if (core.webhooks.closed) return;
      const url = core.webhookUrl('whatsapp', biz.phoneNumberId);
      if (!url) {
        core.log(`no whatsapp webhook for ${biz.phoneNumberId}; ${status} of ${id} dropped`);
        continue;
      }
      const entry: Record<string, unknown> = {
        id,
        status,
        timestamp: unixSeconds(),
        recipient_id: parsed.to,
        ...(parsed.opaque !== undefined ? { biz_opaque_callback_data: parsed.opaque } : {}),
      };
      if (status === 'failed') entry.errors = [REENGAGEMENT];
      else if (status !== 'read') {
        entry.conversation = {
          id: conversationId,
          ...(status === 'sent' ? { expiration_timestamp: unixSeconds(Date.now() + 24 * 3600_000) } : {}),
          origin: { type: category },
        };
        entry.pricing = { billable: true, pricing_model: 'CBP', category };
      }
      await core.webhooks.deliver('whatsapp', url, status, whatsappEnvelope(biz, { statuses: [entry] }), app.appSecret);
    }
  };
  return {
    status: 200,
    body: {
      messaging_product: 'whatsapp',
      contacts: [{ input: parsed.input, wa_id: parsed.to }],
      messages: [{ id, ...(parsed.type === 'template' ? { message_status: 'accepted' } : {}) }],
    },
    after,
  };
}

/** The inbound text message webhook a user's reply produces; opens the 24-hour window. */
export function whatsappInbound(core: SimCore, app: GraphSimApp, from: string, text: string): { id: string; payload: unknown } {
  const biz = business(app);
  const user = from.replace(/\D/g, '');
  const id = newWamid();
  core.lastInbound.set(windowKey(biz.phoneNumberId, user), Date.now());
  const payload = whatsappEnvelope(biz, {
    contacts: [{ profile: { name: 'Simulated User' }, wa_id: user }],
    messages: [{ from: user, id, timestamp: unixSeconds(), type: 'text', text: { body: text } }],
  });
  return { id, payload };
}

function validate(body: unknown): Parsed | Answer {
  const bad = (message: string, code = 100): Answer => errorAnswer(code === 100 ? invalidParameter(message) : { status: 400, code, message });
  if (typeof body !== 'object' || body === null) return bad('Invalid parameter');
  const b = body as Record<string, unknown>;
  if (b.messaging_product !== 'whatsapp') return bad('The parameter messaging_product is required.');
  if (b.recipient_type !== undefined && b.recipient_type !== 'individual') return bad('Param recipient_type must be individual.');
  const input = typeof b.to === 'string' ? b.to : '';
  const to = input.replace(/^\+/, '');
  if (!/^[1-9]\d{6,14}$/.test(to)) return bad('The parameter to is required and must be a phone number.');
  const opaque = b.biz_opaque_callback_data;
  if (opaque !== undefined && (typeof opaque !== 'string' || opaque.length > 512)) {
    return bad('Param biz_opaque_callback_data must be a string of at most 512 characters.');
  }
  const type = b.type ?? 'text';
  if (type === 'text') {
    const text = (b.text as { body?: unknown } | undefined)?.body;
    if (typeof text !== 'string' || !text) return bad("The parameter text['body'] is required.");
    if (text.length > MAX_TEXT) return bad(`Param text['body'] must be at most ${MAX_TEXT} characters long.`);
    return { to, input, type, opaque: opaque, label: text };
  }
  if (type === 'template') {
    const t = b.template as { name?: unknown; language?: { code?: unknown }; components?: unknown } | undefined;
    if (typeof t?.name !== 'string' || !t.name) return bad("The parameter template['name'] is required.");
    if (typeof t.language?.code !== 'string') return bad("The parameter template['language']['code'] is required.");
    if (t.components !== undefined && !Array.isArray(t.components)) return bad("Param template['components'] must be an array.");
    return { to, input, type, opaque: opaque, label: `template:${t.name}` };
  }
  return bad('(#131051) Unsupported message type', 131051);
}
