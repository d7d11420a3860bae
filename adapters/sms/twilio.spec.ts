import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fakeFormApi } from '../../tests/support/fake-form-api';
import { closedAfterEach } from '../../tests/support/local-server';
import { sendError } from '../../tests/support/send-error';
import { PermanentSendError, RateLimitedError, TransientSendError, WebhookPayloadError, type Credentials, type WebhookRequest } from '../types';
import { TwilioSmsAdapter } from './twilio';
import { EgressPolicy } from '../egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const API_KEY = 'SK0123456789abcdef0123456789abcdef';
const API_SECRET = 'key-secret-do-not-log';
const AUTH_TOKEN = 'auth-token-do-not-log';
const SM_SID = 'SMa8f2c1d4e5b6a7980a1b2c3d4e5f6a7b';

/** A stand-in for api.twilio.com that records exactly what arrived. */
const fakeTwilio = closedAfterEach(fakeFormApi);

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** The create response body from Twilio's Message resource documentation. */
function messageResource(to: string, from: string | null, body: string, status = 'queued'): Record<string, unknown> {
  return {
    account_sid: ACCOUNT_SID,
    api_version: '2010-04-01',
    body,
    date_created: 'Thu, 24 Aug 2023 05:01:45 +0000',
    date_sent: null,
    date_updated: 'Thu, 24 Aug 2023 05:01:45 +0000',
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from,
    messaging_service_sid: from ? null : 'MGaaaabbbbccccddddeeeeffff00001111',
    num_media: '0',
    num_segments: '1',
    price: null,
    price_unit: 'USD',
    sid: SM_SID,
    status,
    subresource_uris: { media: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${SM_SID}/Media.json` },
    to,
    uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${SM_SID}.json`,
  };
}

function twilioError(status: number, code: number, message: string): Record<string, unknown> {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

function credentials(baseUrl: string, extra: Record<string, string> = {}): Credentials {
  return {
    account_sid: ACCOUNT_SID,
    api_key: API_KEY,
    api_secret: API_SECRET,
    auth_token: AUTH_TOKEN,
    from: '+15017122661',
    base_url: baseUrl,
    ...extra,
  };
}

const adapter = new TwilioSmsAdapter(LOOPBACK);
const payload = { messageId: '0190f0aa-0000-7000-8000-000000000001', to: '+15558675310', body: 'Hello from Turumba' };
const ctx = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  statusCallbackUrl: 'https://dispatch.example.com/webhooks/sms/ch_1?message_id=0190f0aa-0000-7000-8000-000000000001',
};

describe('TwilioSmsAdapter.send', () => {
  it('posts exactly the documented Messages create request', async () => {
    const twilio = await fakeTwilio((req, res) => json(res, 201, messageResource(req.form.To ?? '', req.form.From ?? null, req.form.Body ?? '')));

    const result = await adapter.send(payload, credentials(twilio.url), ctx);

    expect(result).toMatchObject({ providerMessageId: SM_SID, status: 'queued' });
    expect(twilio.requests).toHaveLength(1);
    const [req] = twilio.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(req?.headers.authorization).toBe(`Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}`);
    expect(req?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req?.headers['x-trace-id']).toBe(ctx.traceId);
    expect(req?.form).toEqual({
      To: '+15558675310',
      From: '+15017122661',
      Body: 'Hello from Turumba',
      StatusCallback: ctx.statusCallbackUrl,
    });
  });

  it('sends from a Messaging Service when the sender is an MG sid, and maps "accepted" to queued', async () => {
    const twilio = await fakeTwilio((req, res) => json(res, 201, messageResource(req.form.To ?? '', null, req.form.Body ?? '', 'accepted')));

    const result = await adapter.send(payload, credentials(twilio.url, { from: 'MGaaaabbbbccccddddeeeeffff00001111' }), ctx);

    expect(result.status).toBe('queued');
    expect(twilio.requests[0]?.form).toEqual({
      To: '+15558675310',
      MessagingServiceSid: 'MGaaaabbbbccccddddeeeeffff00001111',
      Body: 'Hello from Turumba',
      StatusCallback: ctx.statusCallbackUrl,
    });
  });

  it("prefers the payload's sender and keeps base_url's path prefix", async () => {
    const twilio = await fakeTwilio((req, res) => json(res, 201, messageResource(req.form.To ?? '', req.form.From ?? null, '')));

    await adapter.send({ ...payload, from: '+15005550006' }, credentials(`${twilio.url}/twilio/`), ctx);

    expect(twilio.requests[0]?.url).toBe(`/twilio/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(twilio.requests[0]?.form.From).toBe('+15005550006');
  });

  it('maps 400 code 21211 to a permanent error carrying the Twilio code', async () => {
    const twilio = await fakeTwilio((_req, res) => json(res, 400, twilioError(400, 21211, "The 'To' number +15558675310 is not a valid phone number.")));

    const err = await sendError(adapter.send(payload, credentials(twilio.url), ctx));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: '21211', retryClass: 'permanent' });
  });

  it.each([
    [400, 21610],
    [400, 21614],
    [401, 20003],
    [403, 21408],
  ])('maps HTTP %i code %i to a permanent error', async (status, code) => {
    const twilio = await fakeTwilio((_req, res) => json(res, status, twilioError(status, code, 'refused')));

    const err = await sendError(adapter.send(payload, credentials(twilio.url), ctx));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect((err as PermanentSendError).code).toBe(String(code));
  });

  it('maps 503 to a transient error', async () => {
    const twilio = await fakeTwilio((_req, res) => json(res, 503, twilioError(503, 20500, 'Service Unavailable')));

    const err = await sendError(adapter.send(payload, credentials(twilio.url), ctx));

    expect(err).toBeInstanceOf(TransientSendError);
    expect((err as TransientSendError).code).toBe('http_503');
  });

  it('maps 429 to a rate-limit error that honours Retry-After', async () => {
    const twilio = await fakeTwilio((_req, res) => json(res, 429, twilioError(429, 20429, 'Too Many Requests'), { 'Retry-After': '3' }));

    const err = await sendError(adapter.send(payload, credentials(twilio.url), ctx));

    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: '20429', retryAfterMs: 3000 });
  });

  it('defaults the rate-limit wait to 1 s without Retry-After', async () => {
    const twilio = await fakeTwilio((_req, res) => json(res, 429, twilioError(429, 20429, 'Too Many Requests')));

    const err = await sendError(adapter.send(payload, credentials(twilio.url), ctx));

    expect(err).toMatchObject({ code: '20429', retryAfterMs: 1000 });
  });

  it('maps a refused connection to a transient network error', async () => {
    const twilio = await fakeTwilio(() => undefined);
    await twilio.close();

    const err = await sendError(adapter.send(payload, credentials(twilio.url), ctx));

    expect(err).toBeInstanceOf(TransientSendError);
    expect((err as TransientSendError).code).toBe('network');
    expect((err as TransientSendError).message).toContain('ECONNREFUSED');
  });

  it('gives up on a silent server after timeout_ms with a transient timeout', async () => {
    const twilio = await fakeTwilio(() => undefined);
    const started = Date.now();

    const err = await sendError(adapter.send(payload, credentials(twilio.url, { timeout_ms: '200' }), ctx));

    expect(err).toBeInstanceOf(TransientSendError);
    expect((err as TransientSendError).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops when the caller aborts', async () => {
    const twilio = await fakeTwilio(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    const err = await sendError(adapter.send(payload, credentials(twilio.url), { ...ctx, signal: controller.signal }));

    expect(err).toMatchObject({ code: 'aborted', retryClass: 'transient' });
  });

  it('refuses to send without API key credentials, naming only what is missing', async () => {
    const err = await sendError(adapter.send(payload, { account_sid: ACCOUNT_SID, auth_token: AUTH_TOKEN }, ctx));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'missing_credentials', message: 'missing twilio credentials: api_key, api_secret' });
  });
});

describe('TwilioSmsAdapter.verifyCredentials', () => {
  it('fetches the account with the API key and reports its status', async () => {
    const twilio = await fakeTwilio((_req, res) =>
      json(res, 200, {
        auth_token: AUTH_TOKEN,
        date_created: 'Thu, 24 Aug 2023 05:01:45 +0000',
        date_updated: 'Thu, 24 Aug 2023 05:01:45 +0000',
        friendly_name: 'Turumba',
        owner_account_sid: ACCOUNT_SID,
        sid: ACCOUNT_SID,
        status: 'active',
        subresource_uris: {},
        type: 'Full',
        uri: `/2010-04-01/Accounts/${ACCOUNT_SID}.json`,
      }),
    );

    const check = await adapter.verifyCredentials(credentials(twilio.url));

    expect(check).toEqual({ ok: true, detail: `account ${ACCOUNT_SID} status active` });
    expect(twilio.requests[0]).toMatchObject({ method: 'GET', url: `/2010-04-01/Accounts/${ACCOUNT_SID}.json` });
    expect(twilio.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}`);
  });

  it('reports an authentication failure without leaking secrets', async () => {
    const twilio = await fakeTwilio((_req, res) => json(res, 401, twilioError(401, 20003, 'Authenticate')));

    const check = await adapter.verifyCredentials(credentials(twilio.url));

    expect(check).toEqual({ ok: false, detail: 'authentication failed (20003)' });
  });

  it('reports an unreachable API', async () => {
    const twilio = await fakeTwilio(() => undefined);

    const check = await adapter.verifyCredentials(credentials(twilio.url, { timeout_ms: '100' }));

    expect(check.ok).toBe(false);
    expect(check.detail).toBe("twilio: no valid answer (unreachable, or not the provider's API)");
    expect(check.detail).not.toContain(API_SECRET);
  });
});

function webhook(form: Record<string, string>, query: Record<string, string> = {}, headers: Record<string, string> = {}): WebhookRequest {
  const raw = new URLSearchParams(form).toString();
  const search = new URLSearchParams(query).toString();
  return {
    method: 'POST',
    url: `https://dispatch.example.com/webhooks/sms/ch_1${search ? `?${search}` : ''}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    rawBody: Buffer.from(raw),
    body: form,
    query,
  };
}

/** Field set of Twilio's status callback for an outbound SMS (docs: "Outbound Message Status in Status Callbacks"). */
function statusCallback(status: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    From: '+15017122661',
    MessageSid: SM_SID,
    MessageStatus: status,
    SmsSid: SM_SID,
    SmsStatus: status,
    To: '+15558675310',
    ...extra,
  };
}

/** Field set of Twilio's inbound SMS webhook, as Twilio posts it (note SmsStatus=received). */
const INBOUND = {
  ToCountry: 'US',
  ToState: 'CA',
  SmsMessageSid: 'SM5ab7891328b440f04b7c83b459fc85fd',
  NumMedia: '0',
  ToCity: 'SAN FRANCISCO',
  FromZip: '30512',
  SmsSid: 'SM5ab7891328b440f04b7c83b459fc85fd',
  FromState: 'GA',
  SmsStatus: 'received',
  FromCity: 'BLAIRSVILLE',
  Body: 'STOP sending me offers',
  FromCountry: 'US',
  To: '+14152001331',
  ToZip: '94105',
  NumSegments: '1',
  ReferralNumMedia: '0',
  MessageSid: 'SM5ab7891328b440f04b7c83b459fc85fd',
  AccountSid: ACCOUNT_SID,
  From: '+17067815146',
  ApiVersion: '2010-04-01',
};

describe('TwilioSmsAdapter.parseStatusUpdates', () => {
  it('reads a delivered callback, our message id from the callback URL and the DLR done date', () => {
    const req = webhook(statusCallback('delivered', { RawDlrDoneDate: '2302151229' }), { message_id: payload.messageId });

    expect(adapter.parseStatusUpdates(req)).toEqual([
      {
        providerMessageId: SM_SID,
        messageId: payload.messageId,
        status: 'delivered',
        occurredAt: new Date('2023-02-15T12:29:00Z'),
      },
    ]);
  });

  it('gives no provider time for a callback without a done date (the receipt is timed on arrival)', () => {
    const [update] = adapter.parseStatusUpdates(webhook(statusCallback('sent')));

    expect(update?.status).toBe('sent');
    expect(update?.messageId).toBeUndefined();
    expect(update?.occurredAt).toBeUndefined();
  });

  it('ignores a done date that is not a date', () => {
    const [update] = adapter.parseStatusUpdates(webhook(statusCallback('delivered', { RawDlrDoneDate: '2302301229' })));
    expect(update?.status).toBe('delivered');
    expect(update?.occurredAt).toBeUndefined();
  });

  it('carries the error code of an undelivered message', () => {
    const [update] = adapter.parseStatusUpdates(webhook(statusCallback('undelivered', { ErrorCode: '30005', ErrorMessage: 'Unknown destination handset' })));

    expect(update).toMatchObject({ status: 'undelivered', errorCode: '30005', errorMessage: 'Unknown destination handset' });
  });

  it.each([
    ['accepted', 'queued'],
    ['scheduled', 'queued'],
    ['queued', 'queued'],
    ['sending', 'sending'],
    ['sent', 'sent'],
    ['delivered', 'delivered'],
    ['read', 'read'],
    ['undelivered', 'undelivered'],
    ['failed', 'failed'],
    ['canceled', 'failed'],
  ])('maps Twilio status %s to %s', (twilioStatus, ours) => {
    expect(adapter.parseStatusUpdates(webhook(statusCallback(twilioStatus)))[0]?.status).toBe(ours);
  });

  it('reads SmsStatus when MessageStatus is absent', () => {
    const { MessageStatus: _omit, ...legacy } = statusCallback('delivered');
    expect(adapter.parseStatusUpdates(webhook(legacy))[0]?.status).toBe('delivered');
  });

  it('rejects an unknown status', () => {
    expect(() => adapter.parseStatusUpdates(webhook(statusCallback('exploded')))).toThrow(WebhookPayloadError);
  });

  it('ignores inbound messages', () => {
    expect(adapter.parseStatusUpdates(webhook(INBOUND))).toEqual([]);
  });
});

describe('TwilioSmsAdapter.parseInbound', () => {
  it("reads Twilio's inbound SMS webhook", () => {
    const [message] = adapter.parseInbound(webhook(INBOUND));

    expect(message).toMatchObject({
      providerMessageId: 'SM5ab7891328b440f04b7c83b459fc85fd',
      from: '+17067815146',
      to: '+14152001331',
      body: 'STOP sending me offers',
    });
    expect(message?.receivedAt).toBeInstanceOf(Date);
  });

  it('ignores status callbacks', () => {
    expect(adapter.parseInbound(webhook(statusCallback('delivered')))).toEqual([]);
  });

  it('rejects a body that is not form fields', () => {
    expect(() => adapter.parseInbound({ ...webhook({}), body: 'Body=hi' })).toThrow(WebhookPayloadError);
  });

  it('rejects an inbound message without From', () => {
    const { From: _omit, ...noFrom } = INBOUND;
    expect(() => adapter.parseInbound(webhook(noFrom))).toThrow(WebhookPayloadError);
  });
});

describe('TwilioSmsAdapter.verifyWebhookSignature', () => {
  // Twilio's published example (twilio-php/-csharp RequestValidatorTest, docs "Webhooks security").
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+14158675309',
    Digits: '1234',
    From: '+14158675309',
    To: '+18005551212',
  };
  const signed = (form: Record<string, string>, signature?: string): WebhookRequest => ({
    ...webhook(form, {}, signature ? { 'X-Twilio-Signature': signature } : {}),
    url,
  });

  it("accepts Twilio's documented example", () => {
    expect(adapter.verifyWebhookSignature(signed(params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8='), '12345')).toBe(true);
  });

  it('finds the header whatever its case', () => {
    const req = signed(params);
    expect(adapter.verifyWebhookSignature({ ...req, headers: { ...req.headers, 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' } }, '12345')).toBe(true);
  });

  it('rejects a tampered parameter', () => {
    expect(adapter.verifyWebhookSignature(signed({ ...params, Digits: '9999' }, 'RSOYDt4T1cUTdK1PDd93/VVr8B8='), '12345')).toBe(false);
  });

  it('rejects the wrong auth token', () => {
    expect(adapter.verifyWebhookSignature(signed(params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8='), '54321')).toBe(false);
  });

  it('rejects a missing header', () => {
    expect(adapter.verifyWebhookSignature(signed(params), '12345')).toBe(false);
  });

  it('returns false rather than throwing on a malformed URL', () => {
    expect(adapter.verifyWebhookSignature({ ...signed(params, 'x'), url: 'not a url' }, '12345')).toBe(false);
  });

  it('validates JSON bodies through bodySHA256', () => {
    // Twilio's published JSON example: body hash in the URL, signature over the URL alone.
    const body = '{"property": "value", "boolean": true}';
    const req: WebhookRequest = {
      method: 'POST',
      url: 'https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620',
      headers: { 'content-type': 'application/json', 'x-twilio-signature': 'a9nBmqA0ju/hNViExpshrM61xv4=' },
      rawBody: Buffer.from(body),
      body: JSON.parse(body) as unknown,
      query: {},
    };
    expect(adapter.verifyWebhookSignature(req, '12345')).toBe(true);
    expect(adapter.verifyWebhookSignature({ ...req, rawBody: Buffer.from('{"property": "other"}') }, '12345')).toBe(false);
  });
});

describe('TwilioSmsAdapter webhook plumbing', () => {
  it('signs webhooks with the auth token', () => {
    expect(adapter.webhookSigningSecret(credentials('http://x'))).toBe(AUTH_TOKEN);
  });

  it('answers inbound with empty TwiML and status callbacks with 204', () => {
    expect(adapter.webhookResponse('inbound')).toEqual({
      status: 200,
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
    });
    expect(adapter.webhookResponse('status')).toEqual({ status: 204, headers: {}, body: '' });
  });

  it('registers as sms/twilio with a 100/s default rate', () => {
    expect(adapter).toMatchObject({ channelType: 'sms', provider: 'twilio', defaultRateLimitPerSecond: 100 });
  });
});

describe('TwilioSmsAdapter channel checks', () => {
  it('requires the API key, the signing token and a sender', () => {
    expect(adapter.requiredCredentials).toEqual(['account_sid', 'api_key', 'api_secret', 'auth_token', 'from']);
  });

  it('accepts only E.164 recipients', () => {
    expect(adapter.validateAddress('+14155550100')).toBeUndefined();
    expect(adapter.validateAddress('4155550100')).toMatch(/E\.164/);
    expect(adapter.validateAddress('+0123')).toMatch(/E\.164/);
  });
});
