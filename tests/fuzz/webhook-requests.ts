import { createHmac, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { snsNotification, type SnsSigner } from '../../sandbox/email/sns';
import { twilioSignature } from '../../sandbox/twilio/wire';
import { anyBody, anyJson, contentType, hostileString, jsonText, nearValid, noiseHeaders, pct, queryString, rawBytes, type FuzzRequest } from './arbitraries';

// Webhook requests in two kinds: correctly signed bodies of near-provider shape with
// hostile leaves (they get past the signature into the parsers and the database), and
// unsigned or misaddressed junk (which must stop at 401/404/400 and change nothing).

export const WEBHOOK_TYPES = ['sms', 'whatsapp', 'messenger', 'email', 'smpp'] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export interface WebhookKeys {
  /** The API's PUBLIC_BASE_URL: Twilio signs the full URL. */
  publicBaseUrl: string;
  channels: Record<WebhookType, string>;
  sesChannelId: string;
  /** Channels' webhook_secret (Meta verify token, Jasmin callback token key). */
  webhookSecrets: Record<WebhookType, string>;
  twilioAuthToken: string;
  metaAppSecret: string;
  sendgridKey: KeyObject;
  sns: SnsSigner;
  /** Our message ids to correlate receipts with (any channel). */
  messageIds: string[];
}

/** Status words that a plain-object lookup would find on Object.prototype. */
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

/** A valid value most of the time, any JSON value now and then. */
const leaf = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: anyJson, weight: 1 });
const epochSeconds = fc.oneof(
  fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }).map(String),
  fc.constantFrom('0', '-1', '99999999999999999999', '1e3', '8640000000001', '253402300800', '', 'soon'),
  fc.constantFrom(1e20, 8.64e12 + 1, 253_402_300_800, -5, 1.5, Number.MAX_SAFE_INTEGER),
);
const epochMillis = fc.oneof(
  fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  fc.constantFrom(1e20, 8.64e15 + 1, 253_402_300_800_000, -1, '1700000000000', 'x'),
);

function ourIds(k: WebhookKeys): fc.Arbitrary<string> {
  return fc.oneof(fc.constantFrom(...k.messageIds), fc.uuid({ version: 7 }), hostileString);
}

function whatsappBody(k: WebhookKeys): fc.Arbitrary<unknown> {
  const status = fc.record(
    {
      id: leaf(fc.constantFrom('wamid.A1', 'wamid.B2', 'wamid.C3')),
      status: leaf(fc.constantFrom('sent', 'delivered', 'read', 'played', 'failed', 'deleted', 'warning', ...PROTO_KEYS)),
      timestamp: leaf(epochSeconds),
      recipient_id: leaf(fc.constantFrom('15551234567', '')),
      biz_opaque_callback_data: leaf(ourIds(k)),
      errors: leaf(
        fc.array(
          fc.record({
            code: leaf(fc.constantFrom(131026, 130429, 131047)),
            title: leaf(hostileString),
            error_data: leaf(fc.record({ details: leaf(hostileString) })),
          }),
          { maxLength: 2 },
        ),
      ),
    },
    { requiredKeys: ['id', 'status'] },
  );
  const message = fc.record(
    {
      from: leaf(fc.constantFrom('15551234567', '+1 (555) 123-4568', 'abc')),
      id: leaf(fc.string({ minLength: 1, maxLength: 20 }).map((s) => `wamid.${s}`)),
      timestamp: leaf(epochSeconds),
      type: leaf(fc.constantFrom('text', 'image', 'button', 'interactive', 'reaction', 'unknown', 'location')),
      text: leaf(fc.record({ body: leaf(hostileString) })),
      interactive: leaf(fc.record({ button_reply: leaf(fc.record({ title: leaf(hostileString) })) })),
      reaction: leaf(fc.record({ emoji: leaf(hostileString) })),
      image: leaf(fc.record({ caption: leaf(hostileString) })),
    },
    { requiredKeys: ['from', 'id', 'timestamp'] },
  );
  const value = fc.record(
    {
      messaging_product: fc.constant('whatsapp'),
      metadata: leaf(fc.record({ display_phone_number: leaf(fc.constantFrom('15550001111', '')), phone_number_id: leaf(fc.constant('1234')) })),
      statuses: leaf(fc.array(status, { maxLength: 3 })),
      messages: leaf(fc.array(message, { maxLength: 3 })),
    },
    { requiredKeys: ['metadata'] },
  );
  const change = fc.record({ field: leaf(fc.constantFrom('messages', 'account_update')), value: leaf(value) });
  const entry = fc.record({ id: leaf(fc.constant('WABA')), changes: leaf(fc.array(change, { maxLength: 2 })) });
  return fc.record({ object: leaf(fc.constant('whatsapp_business_account')), entry: leaf(fc.array(entry, { maxLength: 2 })) });
}

function messengerBody(): fc.Arbitrary<unknown> {
  const who = leaf(fc.record({ id: leaf(fc.constantFrom('PSID-1', 'PAGE-1', '')) }));
  const event = fc.record(
    {
      sender: who,
      recipient: who,
      timestamp: leaf(epochMillis),
      message: leaf(
        fc.record(
          {
            mid: leaf(fc.constantFrom('m_1', 'm_2', '')),
            text: leaf(hostileString),
            is_echo: leaf(fc.boolean()),
            attachments: leaf(fc.array(fc.record({ type: leaf(fc.constantFrom('image', 'audio')) }), { maxLength: 2 })),
          },
          { requiredKeys: ['mid'] },
        ),
      ),
      delivery: leaf(fc.record({ mids: leaf(fc.array(leaf(fc.constantFrom('m_1', 'm_2')), { maxLength: 2 })), watermark: leaf(epochMillis) })),
      read: leaf(fc.record({ watermark: leaf(epochMillis) })),
    },
    { requiredKeys: ['sender'] },
  );
  const entry = fc.record({ id: leaf(fc.constant('PAGE-1')), time: leaf(epochMillis), messaging: leaf(fc.array(event, { maxLength: 3 })) });
  return fc.record({ object: leaf(fc.constant('page')), entry: leaf(fc.array(entry, { maxLength: 2 })) });
}

function sendgridBody(k: WebhookKeys): fc.Arbitrary<unknown> {
  const event = fc.record(
    {
      email: leaf(fc.constant('ada@example.test')),
      timestamp: leaf(
        fc.oneof(
          fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }),
          fc.constantFrom(1e20, -1, -1e12, 253_402_300_800, 'yesterday', '+010000-01-01T00:00:00Z'),
        ),
      ),
      event: leaf(fc.constantFrom('delivered', 'bounce', 'dropped', 'open', 'click', 'processed', 'deferred', 'spamreport', ...PROTO_KEYS)),
      'smtp-id': leaf(
        fc.oneof(
          fc.constantFrom(...k.messageIds).map((id) => `<${id}@turumba.test>`),
          hostileString,
        ),
      ),
      sg_message_id: leaf(hostileString),
      turumba_message_id: leaf(ourIds(k)),
      type: leaf(fc.constantFrom('bounce', 'blocked')),
      status: leaf(fc.constantFrom('5.1.1', '4.0.0')),
      reason: leaf(hostileString),
    },
    { requiredKeys: ['event'] },
  );
  return fc.array(event, { maxLength: 4 });
}

function sesMessage(k: WebhookKeys): fc.Arbitrary<unknown> {
  const mail = fc.record({
    messageId: leaf(hostileString),
    timestamp: leaf(fc.constantFrom('2026-01-01T00:00:00.000Z', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', 'not a date', '')),
    headers: leaf(fc.array(fc.record({ name: leaf(fc.constantFrom('Message-ID', 'X-Turumba-Message-Id')), value: leaf(ourIds(k)) }), { maxLength: 2 })),
    commonHeaders: leaf(fc.record({ messageId: leaf(ourIds(k).map((id) => `<${id}@turumba.test>`)) })),
    tags: leaf(fc.record({ turumba_message_id: leaf(fc.array(ourIds(k), { maxLength: 1 })) })),
  });
  return fc.record(
    {
      eventType: leaf(fc.constantFrom('Delivery', 'Bounce', 'Reject', 'Open', 'Click', 'Complaint', 'Send')),
      notificationType: leaf(fc.constantFrom('Delivery', 'Bounce')),
      mail: leaf(mail),
      bounce: leaf(
        fc.record({
          bounceType: leaf(fc.constantFrom('Permanent', 'Transient')),
          bounceSubType: leaf(hostileString),
          bouncedRecipients: leaf(fc.array(fc.record({ diagnosticCode: leaf(hostileString) }), { maxLength: 1 })),
        }),
      ),
      delivery: leaf(fc.record({ timestamp: leaf(fc.constantFrom('2026-01-01T00:00:00.000Z', '+200000-01-01T00:00:00Z', 'garbage')) })),
      reject: leaf(fc.record({ reason: leaf(hostileString) })),
    },
    { requiredKeys: ['mail'] },
  );
}

function twilioForm(): fc.Arbitrary<Record<string, string>> {
  const str = (valid: fc.Arbitrary<string>) => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: hostileString, weight: 1 });
  return fc
    .record(
      {
        MessageSid: str(fc.constantFrom('SM00000000000000000000000000000001', 'SMx')),
        SmsSid: str(fc.constant('SM00000000000000000000000000000002')),
        MessageStatus: str(
          fc.constantFrom('queued', 'sent', 'delivered', 'undelivered', 'failed', 'read', 'received', 'canceled', 'partially_delivered', ...PROTO_KEYS),
        ),
        SmsStatus: str(fc.constantFrom('received', 'sent')),
        From: str(fc.constantFrom('+15551234567')),
        To: str(fc.constantFrom('+15017122661')),
        Body: hostileString,
        ErrorCode: str(fc.constantFrom('30003', '30008')),
        ErrorMessage: hostileString,
        RawDlrDoneDate: str(fc.constantFrom('2601011200', '9913329999', '0000000000')),
        AccountSid: str(fc.constant(`AC${'1'.repeat(32)}`)),
      },
      { requiredKeys: [] },
    )
    .chain((form) => fc.dictionary(hostileString, hostileString, { maxKeys: 2 }).map((extra) => ({ ...extra, ...form })));
}

const jasminFields = fc
  .record(
    {
      id: leaf(fc.constantFrom('7a0d5a1c-0000-4000-8000-000000000001', 'abc')),
      message_status: leaf(
        fc.constantFrom('DELIVRD', 'UNDELIV', 'REJECTD', 'EXPIRED', 'ACCEPTD', 'ESME_ROK', 'ESME_RTHROTTLED', 'ESME_RINVDSTADR', 'WHATEVER', ...PROTO_KEYS),
      ),
      level: leaf(fc.constantFrom('1', '2', '3')),
      donedate: leaf(fc.constantFrom('2601011200', '260101120059', '9999999999', 'ND')),
      err: leaf(fc.constantFrom('000', 'ND', '001')),
      subdate: leaf(fc.constant('2601011159')),
      connector: leaf(fc.constant('smppcc')),
    },
    { requiredKeys: [] },
  )
  .map((f) => Object.fromEntries(Object.entries(f).map(([key, v]) => [key, typeof v === 'string' ? v : jsonText(v)])));

const path = (type: string, id: string, query = '') => `/webhooks/${type}/${id}${query ? `?${query}` : ''}`;

/** Correctly signed, provider-shaped requests whose leaves and structure are fuzzed. */
export function signedWebhook(type: WebhookType | 'ses', k: WebhookKeys): fc.Arbitrary<FuzzRequest> {
  const route = `signed ${type}`;
  const base = { route, method: 'POST' as const, mutating: true };
  const metaSigned = (body: fc.Arbitrary<unknown>, id: string) =>
    fc
      .tuple(
        fc.oneof(
          { arbitrary: body.map(jsonText), weight: 5 },
          { arbitrary: body.chain((b) => nearValid({ b })).map((w) => jsonText(w.b)), weight: 2 },
          { arbitrary: anyBody.map((b) => b ?? ''), weight: 1 },
        ),
        noiseHeaders,
      )
      .map(([raw, noise]): FuzzRequest => {
        const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
        const sig = createHmac('sha256', k.metaAppSecret).update(bytes).digest('hex');
        return {
          ...base,
          url: path(type, id),
          headers: { ...noise, 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${sig}` },
          payload: bytes,
        };
      });
  switch (type) {
    case 'whatsapp':
      return metaSigned(whatsappBody(k), k.channels.whatsapp);
    case 'messenger':
      return metaSigned(messengerBody(), k.channels.messenger);
    case 'email':
      return fc
        .tuple(
          fc.oneof({ arbitrary: sendgridBody(k).map(jsonText), weight: 5 }, { arbitrary: anyBody.map((b) => b ?? ''), weight: 1 }),
          // Mostly signed now (the route refuses timestamps over 10 minutes old), sometimes any time at all.
          fc.oneof(
            { arbitrary: fc.integer({ min: -9 * 60, max: 4 * 60 }).map((offset) => ({ offset })), weight: 4 },
            { arbitrary: fc.integer({ min: 0, max: 1e12 }).map((at) => ({ at })), weight: 1 },
          ),
        )
        .map(([raw, when]): FuzzRequest => {
          const ts = 'at' in when ? when.at : Math.floor(Date.now() / 1000) + when.offset;
          const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
          const signature = sign('sha256', Buffer.concat([Buffer.from(String(ts)), bytes]), { key: k.sendgridKey, dsaEncoding: 'der' }).toString('base64');
          return {
            ...base,
            url: path('email', k.channels.email),
            headers: {
              'content-type': 'application/json',
              'x-twilio-email-event-webhook-signature': signature,
              'x-twilio-email-event-webhook-timestamp': String(ts),
            },
            payload: bytes,
          };
        });
    case 'ses':
      return fc.oneof(sesMessage(k), anyJson.map(jsonText), hostileString).map((message): FuzzRequest => {
        const envelope = snsNotification(k.sns, message);
        return {
          ...base,
          url: path('email', k.sesChannelId),
          headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
          payload: jsonText(envelope),
        };
      });
    case 'sms':
      return fc.tuple(twilioForm(), fc.option(ourIds(k), { nil: undefined }), noiseHeaders).map(([form, messageId, noise]): FuzzRequest => {
        const query = messageId === undefined ? '' : new URLSearchParams({ message_id: messageId, token: 'x' }).toString();
        const body = new URLSearchParams(form).toString();
        const url = path('sms', k.channels.sms, query);
        // Sign what the server will read back from the bytes (lone surrogates become U+FFFD).
        const params = Object.fromEntries(new URLSearchParams(body));
        return {
          ...base,
          url,
          headers: {
            ...noise,
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': twilioSignature(k.twilioAuthToken, `${k.publicBaseUrl}${url}`, params),
          },
          payload: body,
        };
      });
    case 'smpp':
      return fc
        .tuple(fc.oneof(fc.constantFrom(...k.messageIds), fc.uuid({ version: 7 }), hostileString), jasminFields, fc.boolean())
        .map(([messageId, fields, get]): FuzzRequest => {
          const token = createHmac('sha256', k.webhookSecrets.smpp).update(messageId).digest('base64url');
          const ours = new URLSearchParams({ message_id: messageId, token });
          if (get)
            return { ...base, method: 'GET', url: path('smpp', k.channels.smpp, `${ours.toString()}&${new URLSearchParams(fields).toString()}`), headers: {} };
          return {
            ...base,
            url: path('smpp', k.channels.smpp, ours.toString()),
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: new URLSearchParams(fields).toString(),
          };
        });
  }
}

/** Meta's subscription handshake with right and wrong tokens and hostile challenges. */
export function handshake(type: 'whatsapp' | 'messenger', k: WebhookKeys): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      mode: fc.option(fc.oneof(fc.constant('subscribe'), hostileString), { nil: undefined }),
      token: fc.option(fc.oneof(fc.constant(k.webhookSecrets[type]), fc.constant(k.webhookSecrets[type].slice(1)), hostileString), { nil: undefined }),
      challenge: fc.option(hostileString, { nil: undefined }),
    })
    .map(({ mode, token, challenge }) => {
      const q = new URLSearchParams();
      if (mode !== undefined) q.set('hub.mode', mode);
      if (token !== undefined) q.set('hub.verify_token', token);
      if (challenge !== undefined) q.set('hub.challenge', challenge);
      return { route: `handshake ${type}`, method: 'GET' as const, url: path(type, k.channels[type], q.toString()), headers: {}, mutating: false };
    });
}

/** Unsigned or badly signed junk to real channels, and anything to unknown or mismatched ones. */
export function junkWebhook(k: WebhookKeys): fc.Arbitrary<FuzzRequest> {
  const ids = [...Object.values(k.channels), k.sesChannelId];
  const target = fc.oneof(
    { arbitrary: fc.tuple(fc.constantFrom(...WEBHOOK_TYPES), fc.constantFrom(...ids)), weight: 6 },
    { arbitrary: fc.tuple(fc.constantFrom(...WEBHOOK_TYPES, 'telegram', 'SMS', ''), fc.oneof(fc.uuid({ version: 7 }), fc.uuid())), weight: 2 },
    {
      arbitrary: fc.tuple(
        hostileString.map((s) => pct(s.slice(0, 40))),
        hostileString.map((s) => pct(s.slice(0, 80))),
      ),
      weight: 2,
    },
  );
  const signatureHeaders = fc.record(
    {
      'x-twilio-signature': fc.oneof(
        fc.constant('AAAA'),
        hostileString.map((s) => Buffer.from(s).toString('base64')),
      ),
      'x-hub-signature-256': fc.oneof(fc.constant(`sha256=${'0'.repeat(64)}`), fc.constant('sha1=abc'), fc.constant('sha256=zz')),
      'x-twilio-email-event-webhook-signature': fc.constant('MEUCIQ=='),
      'x-twilio-email-event-webhook-timestamp': fc.constantFrom('1700000000', '-1', '1'.repeat(20)),
    },
    { requiredKeys: [] },
  );
  return fc
    .record({
      target,
      method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE'),
      query: queryString,
      body: fc.oneof(anyBody, rawBytes),
      ct: contentType,
      sigs: signatureHeaders,
      noise: noiseHeaders,
    })
    .map(({ target: [type, id], method, query, body, ct, sigs, noise }) => ({
      route: 'junk webhook',
      method: method,
      url: path(type, id, query),
      headers: { ...noise, ...sigs, ...(ct && body !== undefined ? { 'content-type': ct } : {}) },
      payload: method === 'GET' ? undefined : body,
      // A GET with a Jasmin-looking query could be a receipt only with a valid token, which junk never has.
      mutating: false,
    }));
}
