import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sendgridKeyPair, signedSendGridPost } from '../../sandbox/email/sendgrid';
import { WebhookPayloadError, type WebhookRequest } from '../types';
import { EmailAdapter } from './email';

// SendGrid's test vector was signed in 2020: the adapter's clock reads a minute after it.
const VECTOR_TIME_MS = (1588788367 + 60) * 1000;
const adapter = new EmailAdapter(() => VECTOR_TIME_MS);

// sendgrid/sendgrid-nodejs packages/eventwebhook/src/eventwebhook.spec.js: SendGrid's own known answer.
const SDK = {
  publicKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==',
  otherKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==',
  signature: 'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=',
  badSignature: 'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=',
  timestamp: '1588788367',
  payload: JSON.stringify({ category: 'example_payload', event: 'test_event', message_id: 'message_id' }),
};

function request(body: string, headers: Record<string, string> = {}): WebhookRequest {
  return {
    method: 'POST',
    url: 'https://dispatch.test/webhooks/email/c',
    headers: { 'content-type': 'application/json', ...headers },
    rawBody: Buffer.from(body),
    body: undefined,
    query: {},
  };
}

function secretFor(key: string): string {
  return adapter.webhookSigningSecret({ events_provider: 'sendgrid', sendgrid_verification_key: key });
}

function sdkRequest(over: { payload?: string; signature?: string; timestamp?: string } = {}): WebhookRequest {
  return request(over.payload ?? SDK.payload, {
    'X-Twilio-Email-Event-Webhook-Signature': over.signature ?? SDK.signature,
    'X-Twilio-Email-Event-Webhook-Timestamp': over.timestamp ?? SDK.timestamp,
  });
}

describe('SendGrid signed Event Webhook verification', () => {
  it("accepts SendGrid's SDK test vector", () => {
    expect(adapter.verifyWebhookSignature(sdkRequest(), secretFor(SDK.publicKey))).toBe(true);
  });

  it('accepts the key in PEM form too', () => {
    const pem = createPublicKey({ key: Buffer.from(SDK.publicKey, 'base64'), format: 'der', type: 'spki' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    expect(adapter.verifyWebhookSignature(sdkRequest(), secretFor(pem))).toBe(true);
  });

  it.each([
    ['another key', {}, SDK.otherKey],
    ['a tampered payload', { payload: 'payload' }, SDK.publicKey],
    ['a tampered signature', { signature: SDK.badSignature }, SDK.publicKey],
    ['a non-numeric timestamp', { timestamp: 'timestamp' }, SDK.publicKey],
    ['another timestamp', { timestamp: '1588788368' }, SDK.publicKey],
    ['a signature that is not DER', { signature: 'bm90IGEgc2lnbmF0dXJl' }, SDK.publicKey],
  ])('rejects %s', (_what, over, key) => {
    expect(adapter.verifyWebhookSignature(sdkRequest(over), secretFor(key))).toBe(false);
  });

  it('rejects a missing signature or timestamp header', () => {
    const secret = secretFor(SDK.publicKey);
    expect(adapter.verifyWebhookSignature(request(SDK.payload, { 'X-Twilio-Email-Event-Webhook-Timestamp': SDK.timestamp }), secret)).toBe(false);
    expect(adapter.verifyWebhookSignature(request(SDK.payload, { 'X-Twilio-Email-Event-Webhook-Signature': SDK.signature }), secret)).toBe(false);
  });

  it('finds the headers whatever their case', () => {
    const req = request(SDK.payload, { 'x-twilio-email-event-webhook-signature': SDK.signature, 'x-twilio-email-event-webhook-timestamp': SDK.timestamp });
    expect(adapter.verifyWebhookSignature(req, secretFor(SDK.publicKey))).toBe(true);
  });

  it('returns false, never throws, for an unusable key or no events provider', () => {
    expect(adapter.verifyWebhookSignature(sdkRequest(), secretFor('bm90IGEga2V5'))).toBe(false);
    expect(adapter.verifyWebhookSignature(sdkRequest(), secretFor(''))).toBe(false);
    expect(adapter.verifyWebhookSignature(sdkRequest(), adapter.webhookSigningSecret({}))).toBe(false);
    expect(adapter.verifyWebhookSignature(sdkRequest(), 'not json')).toBe(false);
  });

  it('verifies what the sandbox signs with a fresh key pair, and only that body', () => {
    const keys = sendgridKeyPair();
    const post = signedSendGridPost(keys.privateKey, [{ event: 'delivered', email: 'a@example.test', timestamp: 1 }]);
    const now = new EmailAdapter();
    expect(now.verifyWebhookSignature(request(post.body, post.headers), secretFor(keys.verificationKey))).toBe(true);
    expect(now.verifyWebhookSignature(request(post.body.replace('delivered', 'bounce'), post.headers), secretFor(keys.verificationKey))).toBe(false);
  });

  it('refuses a signed timestamp older than 10 minutes or more than 5 minutes ahead', () => {
    const secret = secretFor(SDK.publicKey);
    const at = (offsetS: number) => new EmailAdapter(() => (Number(SDK.timestamp) + offsetS) * 1000);
    expect(at(10 * 60).verifyWebhookSignature(sdkRequest(), secret)).toBe(true);
    expect(at(10 * 60 + 1).verifyWebhookSignature(sdkRequest(), secret)).toBe(false);
    expect(at(-5 * 60).verifyWebhookSignature(sdkRequest(), secret)).toBe(true);
    expect(at(-5 * 60 - 1).verifyWebhookSignature(sdkRequest(), secret)).toBe(false);
    // Years later, the same genuine POST is a replay.
    expect(new EmailAdapter().verifyWebhookSignature(sdkRequest(), secret)).toBe(false);
  });
});

// The Event Webhook reference's example: one event of each kind, in one POST.
const DOCUMENTED_EVENTS = [
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'processed',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'deferred',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    response: '400 try again later',
    attempt: '5',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'delivered',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    response: '250 OK',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'open',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    useragent: 'Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)',
    ip: '255.255.255.255',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'click',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    useragent: 'Mozilla/4.0',
    ip: '255.255.255.255',
    url: 'http://www.sendgrid.com/',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'bounce',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    reason: '500 unknown recipient',
    status: '5.0.0',
    type: 'bounce',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'dropped',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    reason: 'Bounced Address',
    status: '5.0.0',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'spamreport',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'unsubscribe',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'group_unsubscribe',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    asm_group_id: 10,
  },
  {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    event: 'group_resubscribe',
    category: 'cat facts',
    sg_event_id: 'sg_event_id',
    sg_message_id: 'sg_message_id',
    asm_group_id: 10,
  },
];

const OURS = '01930a4e-5b6c-7d8e-9f01-23456789abcd';

describe('SendGrid event parsing', () => {
  const at = new Date(1513299569 * 1000);

  it("maps the documented example's events: delivered, open/click → read, bounce/dropped → undelivered; the rest change nothing", () => {
    const updates = adapter.parseStatusUpdates(request(JSON.stringify(DOCUMENTED_EVENTS)));
    const id = '<14c5d75ce93.dfd.64b469@ismtpd-555>';
    expect(updates).toEqual([
      { providerMessageId: id, status: 'delivered', occurredAt: at },
      { providerMessageId: id, status: 'read', occurredAt: at },
      { providerMessageId: id, status: 'read', occurredAt: at },
      { providerMessageId: id, status: 'undelivered', occurredAt: at, errorCode: 'sendgrid_bounce', errorMessage: '5.0.0 500 unknown recipient' },
      { providerMessageId: id, status: 'undelivered', occurredAt: at, errorCode: 'sendgrid_dropped', errorMessage: '5.0.0 Bounced Address' },
    ]);
  });

  it('carries our id from our Message-ID (smtp-id) or from the unique_args custom argument', () => {
    const [delivered, open] = adapter.parseStatusUpdates(
      request(
        JSON.stringify([
          { email: 'a@example.test', timestamp: 1700000000, 'smtp-id': `<${OURS}@turumba.test>`, event: 'delivered', sg_message_id: 'x.filter' },
          { email: 'a@example.test', timestamp: 1700000100, event: 'open', sg_message_id: 'x.filter', turumba_message_id: OURS.toUpperCase() },
        ]),
      ),
    );
    expect(delivered).toEqual({ providerMessageId: `<${OURS}@turumba.test>`, messageId: OURS, status: 'delivered', occurredAt: new Date(1700000000 * 1000) });
    expect(open).toEqual({ providerMessageId: 'x.filter', messageId: OURS, status: 'read', occurredAt: new Date(1700000100 * 1000) });
  });

  it('tells a blocked bounce from a bad address', () => {
    const [u] = adapter.parseStatusUpdates(request(JSON.stringify([{ ...DOCUMENTED_EVENTS[5], type: 'blocked', reason: '550 5.7.1 blocked by policy' }])));
    expect(u).toMatchObject({ status: 'undelivered', errorCode: 'sendgrid_blocked', errorMessage: '5.0.0 550 5.7.1 blocked by policy' });
  });

  it('ignores events it does not know (SendGrid adds kinds)', () => {
    expect(adapter.parseStatusUpdates(request(JSON.stringify([{ event: 'machine_opened', email: 'a@example.test', timestamp: 1 }])))).toEqual([]);
    expect(adapter.parseStatusUpdates(request('[]'))).toEqual([]);
  });

  it.each([
    ['not JSON', '[{"event":'],
    ['an event without its name', '[{"email":"a@example.test"}]'],
    ['an event that is not an object', '["delivered"]'],
    ['an empty body', ''],
  ])('rejects %s with WebhookPayloadError', (_what, body) => {
    expect(() => adapter.parseStatusUpdates(request(body))).toThrow(WebhookPayloadError);
  });
});
